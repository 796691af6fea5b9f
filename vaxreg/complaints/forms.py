"""Forms of the handlers' pages: they parse what was typed; the services decide what may be done."""

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import get_language

from vaxreg.complaints.models import Category, RejectReason
from vaxreg.complaints.selectors import InboxFilter
from vaxreg.complaints.services import NEW_PERSON
from vaxreg.core import clock
from vaxreg.people.models import Gender, Person
from vaxreg.vaccinations.fields import DOSE_NUMBERS, MIN_BIRTH_YEAR
from vaxreg.vaccinations.models import Vaccine


def is_english() -> bool:
    return (get_language() or "vi").startswith("en")


def pick(vi: str, en: str) -> str:
    """The Vietnamese or the English text, by the language of the request."""
    return en if is_english() else vi


# A text that becomes Vietnamese or English when it is rendered, by the language of the request.
vi_en = lazy(pick, str)

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


def _set_choices(form: forms.Form, name: str, choices: list[tuple[Any, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _date_field(label: Any, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "invalid": vi_en("Ngày không đọc được (dd/mm/yyyy).", "The date cannot be read (dd/mm/yyyy).")
        },
        **kwargs,
    )


def _text_field(label: Any, *, required: bool = True, min_length: int | None = 3) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=1000,
        min_length=min_length if required else None,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": vi_en("Cần ghi nội dung này.", "This is required.")},
    )


def _version_field() -> forms.IntegerField:
    return forms.IntegerField(widget=forms.HiddenInput)


STATE_CHOICES = [
    ("", vi_en("Cần xử lý (đang xử lý và hẹn lại)", "To handle (open and deferred)")),
    ("open", vi_en("Đang xử lý", "Open")),
    ("deferred", vi_en("Hẹn lại", "Deferred")),
    ("closed", vi_en("Đã đóng (giải quyết hoặc từ chối)", "Closed (approved or rejected)")),
    ("approved", vi_en("Đã giải quyết", "Approved")),
    ("rejected", vi_en("Từ chối", "Rejected")),
]

CATEGORY_SHORT = {
    1: ("Giấy thiếu ngày, chưa có trên hệ thống", "Proof undated, not on the system"),
    2: ("Chưa có trên hệ thống", "Not on the system"),
    3: ("Thiếu mũi tiêm", "Doses missing"),
    4: ("Sai thông tin, không hiện trên ứng dụng", "Wrong details, not in the app"),
    5: ("Sai thông tin người hoặc mũi tiêm", "Wrong person or dose details"),
}

REJECT_REASON_EN = {
    RejectReason.PROOF_INCOMPLETE: "The proof lacks the date, dose or vaccine",
    RejectReason.NAME_CONTRADICTS: "The name contradicts the proof",
    RejectReason.PERSONAL_PHOTO: "A personal photo instead of a certificate",
    RejectReason.DATA_MISMATCH: "Dose, birth date, vaccination date or vaccine do not match",
    RejectReason.UNREADABLE: "Key fields are cropped or blurred",
    RejectReason.NOTHING_MATCHES: "Nothing matches",
    RejectReason.NAME_INCOMPLETE: "The name is incomplete or without diacritics",
    RejectReason.HAND_EDITED: "The form was edited by hand",
}


def category_label(category: int) -> str:
    vi, en = CATEGORY_SHORT.get(category, (str(category), str(category)))
    return pick(f"{category}. {vi}", f"{category}. {en}")


def reject_reason_label(reason: str) -> str:
    try:
        value = RejectReason(reason)
    except ValueError:
        return reason
    return pick(str(value.label), REJECT_REASON_EN[value])


class InboxFilterForm(forms.Form):
    state = forms.ChoiceField(label=vi_en("Trạng thái", "State"), required=False, choices=STATE_CHOICES)
    category = forms.TypedChoiceField(
        label=vi_en("Loại phản ánh", "Category"), required=False, coerce=int, empty_value=None
    )
    overdue = forms.BooleanField(label=vi_en("Chỉ phản ánh quá hạn", "Overdue only"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(
            self,
            "category",
            [("", vi_en("— Tất cả —", "— All —"))]
            + [(value, lazy(category_label, str)(value)) for value in Category.values],
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
        label=vi_en("Người được bổ sung mũi tiêm", "Person who gets the dose"),
        coerce=int,
        error_messages={"required": vi_en("Hãy chọn một người.", "Choose a person.")},
    )
    vaccination_date = _date_field(vi_en("Ngày tiêm", "Vaccination date"))
    vaccine_id = forms.ChoiceField(label=vi_en("Vắc xin", "Vaccine"))
    dose_number = forms.TypedChoiceField(
        label=vi_en("Mũi số", "Dose no."),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "?"), *((str(n), str(n)) for n in DOSE_NUMBERS)],
    )
    lot_number = forms.CharField(label=vi_en("Số lô", "Lot"), max_length=64, required=False)
    facility_code = forms.CharField(
        label=vi_en("Mã cơ sở đã tiêm", "Code of the facility that gave it"),
        max_length=20,
        required=False,
        help_text=vi_en(
            "Để trống: cơ sở đang xử lý phản ánh.", "Empty: the facility handling the complaint."
        ),
    )
    note = _text_field(vi_en("Ghi chú (căn cứ)", "Note (what it rests on)"), required=False)

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
                    vi_en("Người mới, theo thông tin phản ánh", "A new person, from the complaint's details"),
                )
            )
        _set_choices(self, "person_id", choices)
        _set_choices(self, "vaccine_id", [("", "—")] + [(v.code, v.name) for v in vaccines])
        self.fields["vaccine_id"].error_messages["required"] = vi_en(
            "Hãy chọn vắc xin.", "Choose the vaccine."
        )


class ApproveCorrectionForm(forms.Form):
    """The person's identity as the complaint says it should be; ``changes`` keeps what differs."""

    version = _version_field()
    person_id = forms.IntegerField(widget=forms.HiddenInput)
    person_version = forms.IntegerField(widget=forms.HiddenInput)
    full_name = forms.CharField(label=vi_en("Họ và tên", "Full name"), max_length=200, required=False)
    birth_day = forms.IntegerField(
        label=vi_en("Ngày sinh", "Birth day"), min_value=1, max_value=31, required=False
    )
    birth_month = forms.IntegerField(
        label=vi_en("Tháng sinh", "Birth month"), min_value=1, max_value=12, required=False
    )
    birth_year = forms.IntegerField(
        label=vi_en("Năm sinh", "Birth year"), min_value=MIN_BIRTH_YEAR, max_value=2200, required=False
    )
    gender = forms.ChoiceField(label=vi_en("Giới tính", "Gender"), required=False)
    id_number = forms.CharField(
        label=vi_en("Số CCCD/CMND", "ID number"),
        max_length=32,
        required=False,
        help_text=vi_en("Để trống nếu giữ nguyên số đang lưu.", "Leave empty to keep the stored number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    phone = forms.CharField(label=vi_en("Số điện thoại", "Phone"), max_length=32, required=False)
    note = _text_field(vi_en("Lý do sửa", "Reason for the correction"))

    FIELDS = ("full_name", "birth_day", "birth_month", "birth_year", "gender", "phone")

    def __init__(self, *args: Any, person: Person, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"person-{person.pk}")
        kwargs.setdefault(
            "initial",
            {"person_id": person.pk, "person_version": person.version}
            | {name: getattr(person, name) for name in self.FIELDS},
        )
        super().__init__(*args, **kwargs)
        self.person = person
        _set_choices(
            self,
            "gender",
            [
                ("", vi_en("Không rõ", "Unknown")),
                (Gender.MALE, vi_en("Nam", "Male")),
                (Gender.FEMALE, vi_en("Nữ", "Female")),
                (Gender.OTHER, vi_en("Khác", "Other")),
            ],
        )
        if person.id_number_masked:
            self.fields["id_number"].widget.attrs["placeholder"] = person.id_number_masked

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        typed: dict[str, Any] = {name: data[name] for name in self.FIELDS}
        typed["full_name"] = typed["full_name"].strip()
        typed["phone"] = typed["phone"].strip()
        changes = {name: value for name, value in typed.items() if value != getattr(self.person, name)}
        id_number = "".join(data["id_number"].split())
        if id_number and id_number != self.person.id_number:
            changes["id_number"] = id_number
        return changes


class DeferForm(forms.Form):
    version = _version_field()
    until = _date_field(vi_en("Hẹn xử lý đến ngày", "Handle by"))
    reason = _text_field(vi_en("Lý do hẹn lại", "Why it is deferred"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "defer")
        super().__init__(*args, **kwargs)

    def clean_until(self) -> dt.date:
        until: dt.date = self.cleaned_data["until"]
        if until <= clock.today():
            raise forms.ValidationError(
                vi_en("Ngày hẹn phải sau hôm nay.", "The new date must be after today.")
            )
        return until


class RejectForm(forms.Form):
    version = _version_field()
    reason = forms.ChoiceField(
        label=vi_en("Lý do từ chối", "Reason"),
        error_messages={
            "required": vi_en("Hãy chọn một lý do từ chối chuẩn.", "Choose one of the standard reasons.")
        },
    )
    text = _text_field(vi_en("Ghi thêm cho người dân", "More for the citizen"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "reject")
        super().__init__(*args, **kwargs)
        _set_choices(
            self,
            "reason",
            [("", "—")] + [(value, lazy(reject_reason_label, str)(value)) for value in RejectReason.values],
        )


class TransferForm(forms.Form):
    version = _version_field()
    facility_code = forms.CharField(
        label=vi_en("Chuyển đến cơ sở tiêm (mã)", "Transfer to facility (code)"),
        max_length=20,
        error_messages={"required": vi_en("Hãy nhập mã cơ sở tiêm.", "Enter the facility code.")},
        widget=forms.TextInput(attrs={"list": "facility-list", "autocomplete": "off"}),
    )
    reason = _text_field(vi_en("Lý do chuyển", "Why it is transferred"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "transfer")
        super().__init__(*args, **kwargs)


class FiguresFilterForm(forms.Form):
    received_from = _date_field(vi_en("Nhận từ ngày", "Received from"), required=False)
    received_to = _date_field(vi_en("đến ngày", "to"), required=False)

    def dates(self) -> tuple[dt.date | None, dt.date | None]:
        if not self.is_bound or not self.is_valid():
            return None, None
        return self.cleaned_data.get("received_from"), self.cleaned_data.get("received_to")
