"""The import template (SPEC §3): which header names mean which field.

Headers are matched case-, accent-, space- and punctuation-insensitively, so "Họ và tên", "HO VA TEN",
"ho_va_ten" and "full_name" all name the same column.
"""

from dataclasses import dataclass
from enum import StrEnum

from vaxreg.core.tables import Column, ColumnType, HeaderStyle, TableSpec, header_key
from vaxreg.vaccinations.fields import dose_number_cell


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


# The template's columns in the order of SPEC §3; the required ones ("structural") are those without which
# no row can be placed: facility, record and date.
TEMPLATE_SPEC = TableSpec(
    "dose_import",
    (
        Column(Field.FULL_NAME, "Họ và tên", "Full name", ("Họ tên", "Tên", "name", "fullname")),
        Column(
            Field.DATE_OF_BIRTH,
            "Ngày sinh",
            "Date of birth",
            ("dob", "birth_date", "Ngày tháng năm sinh"),
            ColumnType.PARTIAL_DATE,
        ),
        Column(Field.GENDER, "Giới tính", "Gender", ("sex", "Giới"), ColumnType.GENDER),
        Column(
            Field.ID_NUMBER,
            "Số CCCD/CMND",
            "ID number",
            ("CCCD", "CMND", "Số CCCD", "Số CMND", "CCCD/CMND", "id", "Số định danh"),
            ColumnType.ID_NUMBER,
        ),
        Column(
            Field.PHONE, "Số điện thoại", "Phone", ("Điện thoại", "SĐT", "phone_number"), ColumnType.PHONE
        ),
        Column(Field.ADDRESS, "Địa chỉ", "Address", ()),
        Column(
            Field.COMMUNE_CODE,
            "Mã xã",
            "Commune code",
            ("Mã phường", "Mã xã phường", "ward_code"),
            ColumnType.CODE,
        ),
        Column(
            Field.FACILITY_CODE,
            "Mã cơ sở tiêm",
            "Facility code",
            ("Mã cơ sở", "Mã CSTC", "facility"),
            ColumnType.CODE,
            required=True,
        ),
        Column(
            Field.SOURCE_RECORD_ID,
            "Mã bản ghi",
            "Source record ID",
            ("record_id", "Mã mũi tiêm"),
            required=True,
        ),
        Column(
            Field.VACCINATION_DATE,
            "Ngày tiêm",
            "Vaccination date",
            ("date", "vaccination date", "Ngày tiêm chủng"),
            ColumnType.DATE,
            required=True,
        ),
        Column(
            Field.DOSE_NUMBER,
            "Mũi số",
            "Dose number",
            ("Mũi", "Mũi tiêm", "dose", "dose_no"),
            ColumnType.INTEGER,
            rule=dose_number_cell,
        ),
        Column(
            Field.VACCINE, "Tên vắc xin", "Vaccine", ("Vắc xin", "Vaccine", "Loại vắc xin", "vaccine_name")
        ),
        Column(Field.LOT_NUMBER, "Số lô", "Lot number", ("Lô", "lot", "batch")),
    ),
    style=HeaderStyle.VIETNAMESE,
)
TEMPLATE: tuple[Column, ...] = TEMPLATE_SPEC.columns
COLUMNS_BY_FIELD: dict[Field, Column] = {Field(c.key): c for c in TEMPLATE}
STRUCTURAL_FIELDS = tuple(Field(key) for key in TEMPLATE_SPEC.required)
# The header rows of the files that carry the template: as facilities write it, and by field name.
TEMPLATE_HEADERS_VI: tuple[str, ...] = tuple(TEMPLATE_SPEC.headers(HeaderStyle.VIETNAMESE))
TEMPLATE_HEADERS_KEYS: tuple[str, ...] = tuple(TEMPLATE_SPEC.headers(HeaderStyle.KEY))

__all__ = [
    "COLUMNS_BY_FIELD",
    "TEMPLATE",
    "TEMPLATE_SPEC",
    "Field",
    "HeaderMatch",
    "header_key",
    "match_headers",
]


@dataclass(frozen=True)
class HeaderMatch:
    positions: dict[Field, int]  # field → 0-based column index (the first column that names it)
    ignored: list[str]  # headers that name no field, or repeat one already found
    headers: list[str]

    def missing(self, *, facility_given: bool) -> list[Field]:
        required = [f for f in STRUCTURAL_FIELDS if not (f is Field.FACILITY_CODE and facility_given)]
        return [f for f in required if f not in self.positions]


def match_headers(headers: list[str]) -> HeaderMatch:
    found = TEMPLATE_SPEC.match(headers)
    positions = {Field(key): index for key, index in found.positions.items()}
    return HeaderMatch(positions=positions, ignored=found.ignored, headers=found.headers)
