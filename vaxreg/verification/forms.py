"""Forms of the health station's pages: they parse what was typed and say which fields changed; the
services decide whether a change may be made."""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vaxreg.accounts.models import User
from vaxreg.core.pages import choices_set
from vaxreg.corrections.forms import PersonIdentityForm
from vaxreg.people.models import Person
from vaxreg.places.models import Facility
from vaxreg.vaccinations.models import Dose, Vaccine
from vaxreg.verification.models import CaseState, ContactChannel, ContactOutcome
from vaxreg.verification.selectors import AGE_GROUPS, WorklistFilter
from vaxreg.verification.web_selectors import BLOCKING_CODES, CODE_LABELS

UNASSIGN = "none"


def _age_group_label(key: str) -> str:
    return gettext("%(key)s years") % {"key": key}


def _staff_choices(staff: Iterable[User]) -> list[tuple[str, str]]:
    return [(str(u.pk), u.get_full_name() or u.username) for u in staff]


class WorklistFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Name, ID number or phone"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    code = forms.ChoiceField(label=_("Finding"), required=False)
    state = forms.ChoiceField(label=_("Status"), required=False)
    facility = forms.TypedChoiceField(label=_("Facility"), required=False, coerce=int, empty_value=None)
    age_group = forms.ChoiceField(label=_("Age group"), required=False)
    assignee = forms.TypedChoiceField(label=_("Assigned to"), required=False, coerce=int, empty_value=None)
    commune = forms.RegexField(
        label=_("Commune code"), regex=r"^\d{5}$", max_length=5, required=False, strip=True
    )

    def __init__(
        self,
        *args: Any,
        facilities: Iterable[Facility],
        staff: Iterable[User],
        by_commune: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not by_commune:  # a station's worklist is its one commune already
            del self.fields["commune"]
        everything = _("— All —")
        choices_set(
            self,
            "code",
            [("", everything)] + [(code, CODE_LABELS.get(code, code)) for code in BLOCKING_CODES],
        )
        choices_set(
            self,
            "state",
            [
                ("", _("Not done (every open state)")),
                *CaseState.choices,
                ("all", _("All, closed ones too")),
            ],
        )
        choices_set(
            self, "facility", [("", everything)] + [(str(f.pk), f"{f.code} {f.name}") for f in facilities]
        )
        choices_set(
            self,
            "age_group",
            [("", everything)] + [(key, lazy(_age_group_label, str)(key)) for key in AGE_GROUPS],
        )
        staff_choices = _staff_choices(staff)
        if staff_choices:
            choices_set(self, "assignee", [("", everything), *staff_choices])
        else:
            del self.fields["assignee"]

    def to_filter(self) -> WorklistFilter:
        """The filter of the valid fields; a field that does not validate is left out, not fatal."""
        if not self.is_bound:
            return WorklistFilter()
        self.is_valid()
        data = self.cleaned_data
        return WorklistFilter(
            state=data.get("state") or "",
            code=data.get("code") or "",
            facility_id=data.get("facility"),
            age_group=data.get("age_group") or "",
            text=data.get("q") or "",
            assigned_to_id=data.get("assignee"),
            commune_code=data.get("commune") or "",
        )


class CaseIdsField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(_("Invalid case id.")) from exc


class AssignForm(forms.Form):
    case_ids = CaseIdsField(
        required=True,
        error_messages={"required": _("Pick at least one case.")},
    )
    assignee = forms.ChoiceField(label=_("Assign to"))

    def __init__(self, *args: Any, staff: Iterable[User], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign_%s")  # the filter form on the same page has an "assignee" too
        super().__init__(*args, **kwargs)
        choices_set(
            self,
            "assignee",
            [
                ("", _("— Pick a health worker —")),
                *_staff_choices(staff),
                (UNASSIGN, _("Unassign (nobody)")),
            ],
        )

    def assignee_id(self) -> int | None:
        value = self.cleaned_data["assignee"]
        return None if value == UNASSIGN else int(value)


def _reason_field(label: Any, *, required: bool = True, min_length: int = 3) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        min_length=min_length if required else None,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PersonCorrectForm(PersonIdentityForm):
    """The person's identity as the station corrects it; ``changes`` keeps only what differs from the record."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    commune_code = forms.CharField(label=_("Commune code of residence"), max_length=5, required=False)
    reason = _reason_field(_("Reason for the correction"))

    field_order = ["expected_version", *PersonIdentityForm.base_fields, "commune_code", "reason"]
    FIELD_OF = {"commune_id": "commune_code"}  # service field → form field

    def __init__(self, *args: Any, person: Person, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"expected_version": person.version, "commune_code": person.commune_id or ""}
        )
        super().__init__(*args, person=person, **kwargs)

    def changes(self) -> dict[str, Any]:
        changes = self.identity_changes()
        commune_id = self.cleaned_data["commune_code"].strip() or None
        if commune_id != self.person.commune_id:
            changes["commune_id"] = commune_id
        return changes

    def field_for(self, service_field: str) -> str | None:
        name = self.FIELD_OF.get(service_field, service_field)
        return name if name in self.fields else None


class DoseCorrectForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput)
    vaccination_date = forms.DateField(
        label=_("Vaccination date"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    vaccine_id = forms.ChoiceField(label=_("Vaccine"), required=False)
    dose_number = forms.TypedChoiceField(
        label=_("Dose no."),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "?"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")],
    )
    lot_number = forms.CharField(label=_("Lot"), max_length=64, required=False)
    reason = _reason_field(_("Reason for the correction"))

    def __init__(self, *args: Any, dose: Dose, vaccines: Iterable[Vaccine], **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "expected_version": dose.version,
                "vaccination_date": dose.vaccination_date,
                "vaccine_id": dose.vaccine_id or "",
                "dose_number": dose.dose_number,
                "lot_number": dose.lot_number,
            },
        )
        kwargs.setdefault("prefix", f"dose-{dose.pk}")
        super().__init__(*args, **kwargs)
        self.dose = dose
        unknown = gettext("— Unknown (%(vaccine)s) —") % {"vaccine": dose.vaccine_raw or "?"}
        choices_set(self, "vaccine_id", [("", unknown)] + [(v.code, v.name) for v in vaccines])

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        d = self.dose
        typed: dict[str, Any] = {
            "vaccination_date": data["vaccination_date"],
            "vaccine_id": data["vaccine_id"] or None,
            "dose_number": data["dose_number"],
            "lot_number": data["lot_number"].strip(),
        }
        return {name: value for name, value in typed.items() if value != getattr(d, name)}

    def field_for(self, service_field: str) -> str | None:
        return service_field if service_field in self.fields else None


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"))
    outcome = forms.ChoiceField(label=_("Outcome"))
    note = forms.CharField(
        label=_("Note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_set(self, "channel", ContactChannel.choices)
        choices_set(self, "outcome", ContactOutcome.choices)


class EscalateForm(forms.Form):
    case_version = forms.IntegerField(widget=forms.HiddenInput)
    reason = _reason_field(_("Why the police should verify"))


class ResolveForm(forms.Form):
    case_version = forms.IntegerField(widget=forms.HiddenInput)
    justification = _reason_field(
        _("What was done (required if blocking findings are left)"),
        required=False,
    )


class UnverifiableForm(forms.Form):
    reason = _reason_field(_("Why it cannot be verified"), min_length=10)
