"""The citizens' forms: they read what was typed and give it back when refused; ``complaint_submit`` decides."""

from typing import Any

from django import forms

from vaxreg.complaints.intake import (
    MAX_CLAIMED_DOSES,
    MAX_DESCRIPTION,
    MAX_LOT,
    MAX_NAME,
    Intake,
)
from vaxreg.complaints.models import Category
from vaxreg.places.models import Province
from vaxreg.vaccinations.fields import DOSE_NUMBERS
from vaxreg.vaccinations.models import Vaccine

DOSE_ROWS = range(1, MAX_CLAIMED_DOSES + 1)
DOSE_PARTS = ("date", "vaccine", "number", "lot")

# The Ministry's categories (SPEC §7) in the words a citizen would use, Vietnamese first.
CATEGORY_HELP: dict[int, tuple[str, str, str, str]] = {
    Category.NO_RECORD_PROOF_UNDATED: (
        "Đã tiêm, nhưng giấy xác nhận thiếu ngày tiêm",
        "và cả tôi lẫn các mũi tiêm đều chưa có trên hệ thống.",
        "Vaccinated, but my paper proof has no dates",
        "and neither I nor my doses are on the system.",
    ),
    Category.NO_RECORD: (
        "Đã tiêm, nhưng không có trên hệ thống",
        "không tìm thấy tôi và các mũi tiêm của tôi.",
        "Vaccinated, but not on the system",
        "neither I nor my doses can be found.",
    ),
    Category.DOSES_MISSING: (
        "Có tên trên hệ thống nhưng thiếu mũi tiêm",
        "một hoặc vài mũi tôi đã tiêm không hiện ra.",
        "I am on the system but doses are missing",
        "one or more doses I received do not show.",
    ),
    Category.INFO_WRONG_NOT_IN_APP: (
        "Thông tin cá nhân sai, mũi tiêm không hiện trên ứng dụng",
        "ví dụ sai tên, ngày sinh hoặc số CCCD nên ứng dụng sức khỏe không hiện mũi tiêm.",
        "My personal details are wrong and my doses do not show in the health app",
        "e.g. a wrong name, birth date or ID number.",
    ),
    Category.INFO_WRONG: (
        "Có trên hệ thống nhưng thông tin sai",
        "thông tin cá nhân và/hoặc thông tin mũi tiêm (ngày, vắc xin, mũi số) bị sai.",
        "I and my doses are on the system, but details are wrong",
        "personal and/or dose details (date, vaccine, dose number) are wrong.",
    ),
}


def _vi_en(vi: str, en: str) -> str:
    return f"{vi} / {en}"


def _required(vi: str, en: str) -> dict[str, str]:
    return {"required": _vi_en(vi, en)}


class ComplaintForm(forms.Form):
    """The public complaint form; field names are those of ``Intake`` so a refusal lands on its field."""

    category = forms.TypedChoiceField(
        choices=[(c.value, c.label) for c in Category],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            **_required("Hãy chọn loại phản ánh.", "Choose the kind of complaint."),
            "invalid_choice": _vi_en(
                "Hãy chọn một trong năm loại phản ánh.", "Choose one of the five kinds."
            ),
        },
    )
    full_name = forms.CharField(
        max_length=MAX_NAME,
        error_messages={
            **_required("Họ tên bắt buộc.", "The full name is required."),
            "max_length": _vi_en(
                "Họ tên tối đa %(limit_value)d ký tự (đã nhập %(show_value)d).",
                "The full name has at most %(limit_value)d characters (got %(show_value)d).",
            ),
        },
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )
    birth_date = forms.CharField(
        max_length=20,
        error_messages=_required("Ngày sinh bắt buộc.", "The birth date is required."),
        widget=forms.TextInput(attrs={"placeholder": "dd/mm/yyyy", "autocomplete": "bday"}),
    )
    gender = forms.ChoiceField(
        choices=[("M", "Nam / Male"), ("F", "Nữ / Female"), ("O", "Khác / Other")],
        widget=forms.RadioSelect,
        error_messages={
            **_required("Hãy chọn giới tính.", "Choose a gender."),
            "invalid_choice": _vi_en("Hãy chọn Nam, Nữ hoặc Khác.", "Choose male, female or other."),
        },
    )
    id_number = forms.CharField(
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    phone = forms.CharField(
        max_length=20,
        error_messages=_required("Số điện thoại bắt buộc.", "The phone number is required."),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
    province_code = forms.ChoiceField(
        required=False,
        error_messages={
            "invalid_choice": _vi_en(
                "Hãy chọn tỉnh/thành phố từ danh sách.", "Choose a province from the list."
            )
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
            "max_length": _vi_en(
                "Nội dung tối đa %(limit_value)d ký tự (đã nhập %(show_value)d).",
                "The description has at most %(limit_value)d characters (got %(show_value)d).",
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
        field.choices = [("", "— Không rõ / I don't know —")] + [
            (p.code, p.name) for p in Province.objects.order_by("name_key").only("code", "name")
        ]

    def dose_rows(self) -> list[dict[str, forms.BoundField]]:
        return [{part: self[f"dose{row}_{part}"] for part in DOSE_PARTS} for row in DOSE_ROWS]

    def categories(self) -> list[dict[str, Any]]:
        """The radio options with their plain-words explanation, for the template."""
        chosen = str(self.data.get("category", "")) if self.is_bound else ""
        return [
            {"value": value, "checked": str(value) == chosen, "text": CATEGORY_HELP[value]}
            for value in CATEGORY_HELP
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
        error_messages=_required("Nhập mã tra cứu.", "Enter the tracking code."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
    )
    phone = forms.CharField(
        max_length=20,
        error_messages=_required(
            "Nhập số điện thoại đã dùng khi gửi.", "Enter the phone number you sent it with."
        ),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
