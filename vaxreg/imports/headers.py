"""The import template (SPEC §3): which header names mean which field.

Headers are matched case-, accent-, space- and punctuation-insensitively, so "Họ và tên", "HO VA TEN",
"ho_va_ten" and "full_name" all name the same column.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from vaxreg.core.text import fold

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


class Field(StrEnum):
    FULL_NAME = "full_name"
    DATE_OF_BIRTH = "date_of_birth"
    GENDER = "gender"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    ADDRESS = "address"
    COMMUNE_CODE = "commune_code"
    FACILITY_CODE = "facility_code"
    SOURCE_RECORD_ID = "source_record_id"
    VACCINATION_DATE = "vaccination_date"
    DOSE_NUMBER = "dose_number"
    VACCINE = "vaccine"
    LOT_NUMBER = "lot_number"


@dataclass(frozen=True)
class Column:
    field: Field
    vietnamese: str
    aliases: tuple[str, ...] = ()
    structural: bool = False


TEMPLATE: tuple[Column, ...] = (
    Column(Field.FULL_NAME, "Họ và tên", ("Họ tên", "Tên", "name", "fullname")),
    Column(Field.DATE_OF_BIRTH, "Ngày sinh", ("dob", "birth_date", "Ngày tháng năm sinh")),
    Column(Field.GENDER, "Giới tính", ("sex", "Giới")),
    Column(
        Field.ID_NUMBER,
        "Số CCCD/CMND",
        ("CCCD", "CMND", "Số CCCD", "Số CMND", "CCCD/CMND", "id", "Số định danh"),
    ),
    Column(Field.PHONE, "Số điện thoại", ("Điện thoại", "SĐT", "phone_number")),
    Column(Field.ADDRESS, "Địa chỉ", ()),
    Column(Field.COMMUNE_CODE, "Mã xã", ("Mã phường", "Mã xã phường", "ward_code")),
    Column(Field.FACILITY_CODE, "Mã cơ sở tiêm", ("Mã cơ sở", "Mã CSTC", "facility"), structural=True),
    Column(Field.SOURCE_RECORD_ID, "Mã bản ghi", ("record_id", "Mã mũi tiêm"), structural=True),
    Column(
        Field.VACCINATION_DATE, "Ngày tiêm", ("date", "vaccination date", "Ngày tiêm chủng"), structural=True
    ),
    Column(Field.DOSE_NUMBER, "Mũi số", ("Mũi", "Mũi tiêm", "dose", "dose_no")),
    Column(Field.VACCINE, "Tên vắc xin", ("Vắc xin", "Vaccine", "Loại vắc xin", "vaccine_name")),
    Column(Field.LOT_NUMBER, "Số lô", ("Lô", "lot", "batch")),
)

COLUMNS_BY_FIELD = {c.field: c for c in TEMPLATE}
STRUCTURAL_FIELDS = tuple(c.field for c in TEMPLATE if c.structural)


def header_key(text: str) -> str:
    return _NOT_ALNUM.sub("", fold(str(text)))


_HEADER_INDEX: dict[str, Field] = {}
for _column in TEMPLATE:
    for _name in (_column.vietnamese, _column.field.value, *_column.aliases):
        _HEADER_INDEX.setdefault(header_key(_name), _column.field)


@dataclass(frozen=True)
class HeaderMatch:
    positions: dict[Field, int]  # field → 0-based column index (the first column that names it)
    ignored: list[str]  # headers that name no field, or repeat one already found
    headers: list[str]

    def missing(self, *, facility_given: bool) -> list[Field]:
        required = [f for f in STRUCTURAL_FIELDS if not (f is Field.FACILITY_CODE and facility_given)]
        return [f for f in required if f not in self.positions]


def match_headers(headers: list[str]) -> HeaderMatch:
    positions: dict[Field, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        field = _HEADER_INDEX.get(header_key(header or ""))
        if field is None or field in positions:
            if (header or "").strip():
                ignored.append(str(header))
            continue
        positions[field] = index
    return HeaderMatch(positions=positions, ignored=ignored, headers=[str(h) for h in headers])
