"""The citizens' forms: they read what was typed and give it back when refused; ``complaint_submit`` decides."""

from typing import Any

from django import forms
from django.utils.translation import gettext_noop

from vaxreg.complaints.intake import (
    MAX_CLAIMED_DOSES,
    MAX_DESCRIPTION,
    MAX_LOT,
    MAX_NAME,
    Intake,
)
from vaxreg.complaints.models import Category
from vaxreg.core.i18n import both_languages, both_languages_lazy, in_both_languages
from vaxreg.places.models import Province
from vaxreg.vaccinations.fields import DOSE_NUMBERS
from vaxreg.vaccinations.models import Vaccine

DOSE_ROWS = range(1, MAX_CLAIMED_DOSES + 1)
DOSE_PARTS = ("date", "vaccine", "number", "lot")

# The Ministry's categories (SPEC §7) in the words a citizen would use: a title and what it covers.
CATEGORY_TEXT: dict[int, tuple[str, str]] = {
    Category.NO_RECORD_PROOF_UNDATED: (
        gettext_noop("Vaccinated, but my paper proof has no dates"),
        gettext_noop("and neither I nor my doses are on the system."),
    ),
    Category.NO_RECORD: (
        gettext_noop("Vaccinated, but not on the system"),
        gettext_noop("neither I nor my doses can be found."),
    ),
    Category.DOSES_MISSING: (
        gettext_noop("I am on the system but doses are missing"),
        gettext_noop("one or more doses I received do not show."),
    ),
    Category.INFO_WRONG_NOT_IN_APP: (
        gettext_noop("My personal details are wrong and my doses do not show in the health app"),
        gettext_noop("e.g. a wrong name, birth date or ID number."),
    ),
    Category.INFO_WRONG: (
        gettext_noop("I and my doses are on the system, but details are wrong"),
        gettext_noop("personal and/or dose details (date, vaccine, dose number) are wrong."),
    ),
}


def category_help(category: int) -> tuple[str, str, str, str]:
    """Title and explanation of a category in Vietnamese, then in English."""
    (title_vi, title_en), (detail_vi, detail_en) = map(in_both_languages, CATEGORY_TEXT[category])
    return title_vi, detail_vi, title_en, detail_en


def _required(message: str) -> dict[str, str]:
    return {"required": both_languages_lazy(message)}


class ComplaintForm(forms.Form):
    """The public complaint form; field names are those of ``Intake`` so a refusal lands on its field."""

    category = forms.TypedChoiceField(
        choices=[(c.value, c.label) for c in Category],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            **_required(gettext_noop("Choose the kind of complaint.")),
            "invalid_choice": both_languages_lazy(gettext_noop("Choose one of the five kinds.")),
        },
    )
    full_name = forms.CharField(
        max_length=MAX_NAME,
        error_messages={
            **_required(gettext_noop("The full name is required.")),
            "max_length": both_languages_lazy(
                gettext_noop("The full name has at most %(limit_value)d characters (got %(show_value)d).")
            ),
        },
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )
    birth_date = forms.CharField(
        max_length=20,
        error_messages=_required(gettext_noop("The birth date is required.")),
        widget=forms.TextInput(attrs={"placeholder": "dd/mm/yyyy", "autocomplete": "bday"}),
    )
    gender = forms.ChoiceField(
        choices=[
            ("M", both_languages_lazy(gettext_noop("Male"))),
            ("F", both_languages_lazy(gettext_noop("Female"))),
            ("O", both_languages_lazy(gettext_noop("Other"))),
        ],
        widget=forms.RadioSelect,
        error_messages={
            **_required(gettext_noop("Choose a gender.")),
            "invalid_choice": both_languages_lazy(gettext_noop("Choose male, female or other.")),
        },
    )
    id_number = forms.CharField(
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    phone = forms.CharField(
        max_length=20,
        error_messages=_required(gettext_noop("The phone number is required.")),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
    province_code = forms.ChoiceField(
        required=False,
        error_messages={
            "invalid_choice": both_languages_lazy(gettext_noop("Choose a province from the list."))
        },
    )
    commune_code = forms.CharField(
        max_length=5,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    facility_code = forms.CharField(
        max_length=32, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    description = forms.CharField(
        max_length=MAX_DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={
            "max_length": both_languages_lazy(
                gettext_noop("The description has at most %(limit_value)d characters (got %(show_value)d).")
            )
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._province_choices()
        vaccines = [("", "—")] + [
            (v.code, v.name) for v in Vaccine.objects.order_by("name").only("code", "name")
        ]
        numbers = [("", "—")] + [(str(n), str(n)) for n in DOSE_NUMBERS]
        for row in DOSE_ROWS:
            self.fields[f"dose{row}_date"] = forms.CharField(
                max_length=20, required=False, widget=forms.TextInput(attrs={"placeholder": "dd/mm/yyyy"})
            )
            self.fields[f"dose{row}_vaccine"] = forms.ChoiceField(choices=vaccines, required=False)
            self.fields[f"dose{row}_number"] = forms.ChoiceField(choices=numbers, required=False)
            self.fields[f"dose{row}_lot"] = forms.CharField(max_length=MAX_LOT, required=False)

    def _province_choices(self) -> None:
        field = self.fields["province_code"]
        assert isinstance(field, forms.ChoiceField)
        unknown = both_languages(gettext_noop("I don't know"))
        field.choices = [("", f"— {unknown} —")] + [
            (p.code, p.name) for p in Province.objects.order_by("name_key").only("code", "name")
        ]

    def dose_rows(self) -> list[dict[str, forms.BoundField]]:
        return [{part: self[f"dose{row}_{part}"] for part in DOSE_PARTS} for row in DOSE_ROWS]

    def categories(self) -> list[dict[str, Any]]:
        """The radio options with their plain-words explanation, for the template."""
        chosen = str(self.data.get("category", "")) if self.is_bound else ""
        return [
            {"value": value, "checked": str(value) == chosen, "text": category_help(value)}
            for value in CATEGORY_TEXT
        ]

    def to_intake(self) -> Intake:
        data = self.cleaned_data
        doses = tuple(
            {
                "date": data.get(f"dose{row}_date", ""),
                "vaccine": data.get(f"dose{row}_vaccine", ""),
                "dose_number": data.get(f"dose{row}_number", ""),
                "lot": data.get(f"dose{row}_lot", ""),
            }
            for row in DOSE_ROWS
        )
        return Intake(
            category=data["category"],
            full_name=data["full_name"],
            phone=data["phone"],
            birth_date=data["birth_date"],
            gender=data["gender"],
            id_number=data.get("id_number", ""),
            province_code=data.get("province_code") or None,
            commune_code=data.get("commune_code") or None,
            facility_code=data.get("facility_code") or None,
            claimed_doses=doses,
            description=data.get("description", ""),
        )

    def refusal_place(self, field: str) -> str | None:
        """The form field a refusal of ``complaint_submit`` names (``claimed_doses.0.date`` → ``dose1_date``)."""
        if field.startswith("claimed_doses."):
            _prefix, index, part = (field.split(".") + ["", ""])[:3]
            name = (
                f"dose{int(index) + 1}_{'number' if part == 'dose_number' else part}"
                if index.isdigit()
                else ""
            )
            return name if name in self.fields else None
        return field if field in self.fields else None


class TrackForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        error_messages=_required(gettext_noop("Enter the tracking code.")),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )
    phone = forms.CharField(
        max_length=20,
        error_messages=_required(gettext_noop("Enter the phone number you sent it with.")),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
