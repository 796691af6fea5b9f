"""Forms of the handlers' pages: they parse what was typed; the services decide what may be done."""

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from vaxreg.complaints.models import Category, RejectReason
from vaxreg.complaints.selectors import InboxFilter
from vaxreg.complaints.services import NEW_PERSON
from vaxreg.core import clock
from vaxreg.core.pages import choices_set
from vaxreg.corrections.forms import PersonIdentityForm
from vaxreg.people.models import Person
from vaxreg.vaccinations.fields import DOSE_NUMBERS
from vaxreg.vaccinations.models import Vaccine

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


def _date_field(label: Any, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("The date cannot be read (dd/mm/yyyy).")},
        **kwargs,
    )


def _text_field(label: Any, *, required: bool = True, min_length: int | None = 3) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=1000,
        min_length=min_length if required else None,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("This is required.")},
    )


def _version_field() -> forms.IntegerField:
    return forms.IntegerField(widget=forms.HiddenInput)


STATE_CHOICES = [
    ("", _("To handle (open and deferred)")),
    ("open", _("Open")),
    ("deferred", _("Deferred")),
    ("closed", _("Closed (approved or rejected)")),
    ("approved", _("Approved")),
    ("rejected", pgettext_lazy("complaints forms", "Rejected")),
]

CATEGORY_SHORT = {
    1: _("Proof undated, not on the system"),
    2: _("Not on the system"),
    3: _("Doses missing"),
    4: _("Wrong details, not in the app"),
    5: _("Wrong person or dose details"),
}

REJECT_REASON_LABEL = {
    RejectReason.PROOF_INCOMPLETE: _("The proof lacks the date, dose or vaccine"),
    RejectReason.NAME_CONTRADICTS: _("The name contradicts the proof"),
    RejectReason.PERSONAL_PHOTO: _("A personal photo instead of a certificate"),
    RejectReason.DATA_MISMATCH: _("Dose, birth date, vaccination date or vaccine do not match"),
    RejectReason.UNREADABLE: _("Key fields are cropped or blurred"),
    RejectReason.NOTHING_MATCHES: _("Nothing matches"),
    RejectReason.NAME_INCOMPLETE: _("The name is incomplete or without diacritics"),
    RejectReason.HAND_EDITED: _("The form was edited by hand"),
}


def category_label(category: int) -> str:
    return f"{category}. {CATEGORY_SHORT.get(category, category)}"


def reject_reason_label(reason: str) -> str:
    try:
        value = RejectReason(reason)
    except ValueError:
        return reason
    return str(REJECT_REASON_LABEL[value])


class InboxFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False, choices=STATE_CHOICES)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int, empty_value=None)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_set(
            self,
            "category",
            [("", _("— All —"))] + [(value, lazy(category_label, str)(value)) for value in Category.values],
        )

    def to_filter(self) -> InboxFilter:
        """The filter of the valid fields; a field that does not validate is left out, not fatal."""
        if not self.is_bound:
            return InboxFilter()
        self.is_valid()
        data = self.cleaned_data
        return InboxFilter(
            state=data.get("state") or "", category=data.get("category"), overdue=bool(data.get("overdue"))
        )


def _person_choice(person: Person) -> tuple[str, str]:
    born = person.birth_date_display or "?"
    return str(
        person.pk
    ), f"{person.full_name or '—'} · {born} · {person.id_number_masked or '—'} (#{person.pk})"


class ApproveDoseForm(forms.Form):
    version = _version_field()
    person_id = forms.TypedChoiceField(
        label=_("Person who gets the dose"),
        coerce=int,
        error_messages={"required": _("Choose a person.")},
    )
    vaccination_date = _date_field(_("Vaccination date"))
    vaccine_id = forms.ChoiceField(label=_("Vaccine"))
    dose_number = forms.TypedChoiceField(
        label=_("Dose no."),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "?"), *((str(n), str(n)) for n in DOSE_NUMBERS)],
    )
    lot_number = forms.CharField(label=_("Lot"), max_length=64, required=False)
    facility_code = forms.CharField(
        label=_("Code of the facility that gave it"),
        max_length=20,
        required=False,
        help_text=_("Empty: the facility handling the complaint."),
    )
    note = _text_field(_("Note (what it rests on)"), required=False)

    def __init__(
        self,
        *args: Any,
        persons: Iterable[Person],
        vaccines: Iterable[Vaccine],
        allow_new_person: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", "dose")
        super().__init__(*args, **kwargs)
        choices = [_person_choice(p) for p in persons]
        if allow_new_person:
            choices.append(
                (
                    str(NEW_PERSON),
                    gettext("A new person, from the complaint's details"),
                )
            )
        choices_set(self, "person_id", choices)
        choices_set(self, "vaccine_id", [("", "—")] + [(v.code, v.name) for v in vaccines])
        self.fields["vaccine_id"].error_messages["required"] = _("Choose the vaccine.")


class ApproveCorrectionForm(PersonIdentityForm):
    """The person's identity as the complaint says it should be; ``changes`` keeps what differs."""

    version = _version_field()
    person_id = forms.IntegerField(widget=forms.HiddenInput)
    person_version = forms.IntegerField(widget=forms.HiddenInput)
    note = _text_field(_("Reason for the correction"))

    field_order = [*PersonIdentityForm.base_fields, "note"]
    LABELS: ClassVar[dict[str, Any]] = {
        "birth_day": _("Birth day"),
        "birth_month": _("Birth month"),
        "birth_year": _("Birth year"),
        "id_number": pgettext_lazy("complaints forms", "ID number"),
    }

    def __init__(self, *args: Any, person: Person, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"person-{person.pk}")
        kwargs.setdefault("initial", {"person_id": person.pk, "person_version": person.version})
        super().__init__(*args, person=person, **kwargs)

    def changes(self) -> dict[str, Any]:
        return self.identity_changes()


class DeferForm(forms.Form):
    version = _version_field()
    until = _date_field(_("Handle by"))
    reason = _text_field(_("Why it is deferred"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "defer")
        super().__init__(*args, **kwargs)

    def clean_until(self) -> dt.date:
        until: dt.date = self.cleaned_data["until"]
        if until <= clock.today():
            raise forms.ValidationError(_("The new date must be after today."))
        return until


class RejectForm(forms.Form):
    version = _version_field()
    reason = forms.ChoiceField(
        label=pgettext_lazy("complaints forms", "Reason"),
        error_messages={"required": _("Choose one of the standard reasons.")},
    )
    text = _text_field(_("More for the citizen"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "reject")
        super().__init__(*args, **kwargs)
        choices_set(
            self,
            "reason",
            [("", "—")] + [(value, lazy(reject_reason_label, str)(value)) for value in RejectReason.values],
        )


class TransferForm(forms.Form):
    version = _version_field()
    facility_code = forms.CharField(
        label=_("Transfer to facility (code)"),
        max_length=20,
        error_messages={"required": _("Enter the facility code.")},
        widget=forms.TextInput(attrs={"list": "facility-list", "autocomplete": "off"}),
    )
    reason = _text_field(_("Why it is transferred"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "transfer")
        super().__init__(*args, **kwargs)


class FiguresFilterForm(forms.Form):
    received_from = _date_field(_("Received from"), required=False)
    received_to = _date_field(_("to"), required=False)

    def dates(self) -> tuple[dt.date | None, dt.date | None]:
        if not self.is_bound or not self.is_valid():
            return None, None
        return self.cleaned_data.get("received_from"), self.cleaned_data.get("received_to")
