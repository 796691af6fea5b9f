"""What the citizen types on the lookup pages; whether it matches a record is for the service to decide."""

from typing import Any

from django import forms

from vaxreg.citizens.services import LookupClaim
from vaxreg.core.dates import DateParseError, parse_partial_date
from vaxreg.people.models import Gender
from vaxreg.verification.web_selectors import vi_en


class LookupForm(forms.Form):
    id_number = forms.CharField(
        label=vi_en("Số CCCD/CMND hoặc hộ chiếu", "Citizen ID (CCCD/CMND) or passport number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    full_name = forms.CharField(label=vi_en("Họ và tên", "Full name"), max_length=200, required=False)
    birth_date = forms.CharField(
        label=vi_en("Ngày sinh", "Date of birth"),
        max_length=10,
        required=False,
        help_text=vi_en("dd/mm/yyyy, hoặc chỉ năm sinh", "dd/mm/yyyy, or the year only"),
    )
    gender = forms.ChoiceField(
        label=vi_en("Giới tính", "Gender"),
        required=False,
        choices=[
            ("", "—"),
            (Gender.MALE, vi_en("Nam", "Male")),
            (Gender.FEMALE, vi_en("Nữ", "Female")),
            (Gender.OTHER, vi_en("Khác", "Other")),
        ],
    )
    phone = forms.CharField(
        label=vi_en("Số điện thoại đã đăng ký khi tiêm", "Phone number given when vaccinated"),
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
                vi_en(
                    "Nhập số giấy tờ, hoặc đủ họ tên, ngày sinh và giới tính.",
                    "Give your ID number, or your full name, date of birth and gender.",
                )
            )
        try:
            data["birth"] = parse_partial_date(data["birth_date"])
        except DateParseError:
            self.add_error(
                "birth_date", vi_en("Ngày sinh không đọc được.", "The date of birth cannot be read.")
            )
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
        label=vi_en("Mã gồm 6 chữ số", "The 6-digit code"),
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        error_messages={"invalid": vi_en("Mã gồm đúng 6 chữ số.", "The code has exactly 6 digits.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": r"\d{6}",
                "maxlength": "6",
            }
        ),
    )
