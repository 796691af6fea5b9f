"""What the citizen types on the lookup pages; whether it matches a record is for the service to decide."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vaxreg.citizens.services import LookupClaim
from vaxreg.core.dates import DateParseError, parse_partial_date
from vaxreg.people.models import Gender


class LookupForm(forms.Form):
    id_number = forms.CharField(
        label=_("Citizen ID (CCCD/CMND) or passport number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    birth_date = forms.CharField(
        label=_("Date of birth"),
        max_length=10,
        required=False,
        help_text=_("dd/mm/yyyy, or the year only"),
    )
    gender = forms.ChoiceField(
        label=_("Gender"),
        required=False,
        choices=[
            ("", "—"),
            (Gender.MALE, _("Male")),
            (Gender.FEMALE, _("Female")),
            (Gender.OTHER, _("Other")),
        ],
    )
    phone = forms.CharField(
        label=_("Phone number given when vaccinated"),
        max_length=20,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("id_number", "").strip():
            return data
        missing = [name for name in ("full_name", "birth_date", "gender") if not data.get(name)]
        if missing:
            raise forms.ValidationError(
                _("Give your ID number, or your full name, date of birth and gender.")
            )
        try:
            data["birth"] = parse_partial_date(data["birth_date"])
        except DateParseError:
            self.add_error("birth_date", _("The date of birth cannot be read."))
        return data

    def claim(self) -> LookupClaim:
        data = self.cleaned_data
        return LookupClaim(
            phone=data["phone"],
            id_number=data.get("id_number", ""),
            full_name=data.get("full_name", ""),
            birth=data.get("birth"),
            gender=data.get("gender", ""),
        )


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("The 6-digit code"),
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        error_messages={"invalid": _("The code has exactly 6 digits.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": r"\d{6}",
                "maxlength": "6",
            }
        ),
    )
