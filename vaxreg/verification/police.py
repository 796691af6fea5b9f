"""The exchange with the commune police (SPEC §6): the escalated cases they work, the file of those cases
they take away, and the file of results they bring back.

The export carries the full ID number, because the police look people up by it in the population
register; every export is therefore written to the audit log with the cases it disclosed. The result
file goes row by row through ``case_police_result``: a row that cannot be applied is kept in the report
with its row number, its column and the reason in Vietnamese and English, and the other rows are
applied. For every file: rows read = rows applied + rows rejected.
"""

import datetime as dt
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.permissions import Capability, capability_require, user_can
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS
from vaxreg.core.dates import PartialDate
from vaxreg.core.history import audit_event_record
from vaxreg.core.i18n import label_halves
from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType
from vaxreg.core.refusals import Refusal
from vaxreg.core.tables import (
    CellInvalid,
    Column,
    ColumnType,
    KeptLines,
    RejectedLine,
    RowReport,
    TableSpec,
    header_key,
    table_bytes,
)
from vaxreg.core.text import normalize_text
from vaxreg.corrections.services import CorrectionRefused
from vaxreg.imports.normalize import Reason, is_blank
from vaxreg.imports.readers import HEADER_SEARCH_ROWS, CellValue, DoseFile, FileRefused, SourceRow, raw_cells
from vaxreg.people.models import Gender
from vaxreg.places.models import Commune
from vaxreg.quality.models import Finding, Severity
from vaxreg.vaccinations.fields import MIN_BIRTH_YEAR, birth_date_in_bounds
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.selectors import cases_for_user
from vaxreg.verification.services import CASE_FIELD, CaseActionRefused, case_police_result

SOURCE_ID_MAX = 64  # ChangeRecord.source_id
_CHUNK = 500

# -- reading: the police's worklist ---------------------------------------------------------------------


def police_cases_waiting(*, user: User) -> QuerySet[VerificationCase]:
    """The escalated cases the user may read that still wait for the police's answer, oldest first."""
    return (
        cases_for_user(user=user)
        .filter(state=CaseState.ESCALATED)
        .select_related("person", "commune")
        .order_by("escalated_at", "pk")
    )


def escalation_reasons(cases: Iterable[VerificationCase]) -> dict[int, str]:
    """case id → what the health station wrote when it handed the case to the police (the latest time)."""
    cases = list(cases)
    if not cases:
        return {}
    records = (
        ChangeRecord.objects.filter(
            entity="person",
            entity_id__in={c.person_id for c in cases},
            field=f"{CASE_FIELD}.state",
            new_value=CaseState.ESCALATED.value,
            source_type=SourceType.CASE,
            source_id__in=[str(c.pk) for c in cases],
        )
        .order_by("at", "pk")
        .values_list("source_id", "reason")
    )
    return {int(source_id): reason for source_id, reason in records}


def case_blocking_findings(case: VerificationCase) -> list[Finding]:
    return list(
        Finding.objects.filter(person_id=case.person_id, is_open=True, severity=Severity.BLOCKING).order_by(
            "code", "pk"
        )
    )


def can_record_result(user: Any, case: VerificationCase) -> bool:
    return user_can(user, Capability.CASE_POLICE) and user.commune_id == case.commune_id


# -- the export of a commune's escalated cases ------------------------------------------------------------


class PoliceColumn(StrEnum):
    CASE_ID = "case_id"
    FULL_NAME = "full_name"
    BIRTH_DATE = "birth_date"
    GENDER = "gender"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    ADDRESS = "address"
    COMMUNE = "commune"
    REASON = "reason"
    RESULT = "result"
    VERIFIED_NAME = "verified_name"
    VERIFIED_BIRTH_DATE = "verified_birth_date"
    VERIFIED_GENDER = "verified_gender"
    VERIFIED_ID_NUMBER = "verified_id_number"
    NOTE = "note"


POLICE_SPEC = TableSpec(
    "police_cases",
    (
        Column(
            PoliceColumn.CASE_ID,
            "Mã hồ sơ",
            "Case ID",
            ("Số hồ sơ", "Mã hồ sơ xác minh", "case", "case_no"),
            ColumnType.INTEGER,
        ),
        Column(PoliceColumn.FULL_NAME, "Họ và tên", "Full name", ("Họ tên", "name", "fullname")),
        Column(
            PoliceColumn.BIRTH_DATE,
            "Ngày sinh",
            "Date of birth",
            ("dob", "birth_date", "Ngày tháng năm sinh"),
            ColumnType.PARTIAL_DATE,
        ),
        Column(PoliceColumn.GENDER, "Giới tính", "Gender", ("sex",), ColumnType.GENDER),
        Column(
            PoliceColumn.ID_NUMBER,
            "Số CCCD/CMND",
            "ID number",
            ("CCCD", "CMND", "Số CCCD", "Số CMND", "Số định danh"),
            ColumnType.ID_NUMBER,
        ),
        Column(
            PoliceColumn.PHONE,
            "Số điện thoại",
            "Phone",
            ("Điện thoại", "SĐT", "phone_number"),
            ColumnType.PHONE,
        ),
        Column(PoliceColumn.ADDRESS, "Địa chỉ", "Address"),
        Column(PoliceColumn.COMMUNE, "Xã/phường", "Commune", ("Mã xã", "commune_code")),
        Column(PoliceColumn.REASON, "Lý do chuyển công an", "Reason for escalation", ("Lý do", "reason")),
        Column(
            PoliceColumn.RESULT,
            "Kết quả",
            "Result",
            ("Kết quả xác minh", "Verification result", "police_result"),
        ),
        Column(
            PoliceColumn.VERIFIED_NAME,
            "Họ và tên xác minh",
            "Verified name",
            ("Họ tên xác minh", "Verified full name", "verified_full_name"),
        ),
        Column(
            PoliceColumn.VERIFIED_BIRTH_DATE,
            "Ngày sinh xác minh",
            "Verified date of birth",
            ("Verified birth date", "verified_dob"),
            ColumnType.PARTIAL_DATE,
        ),
        Column(
            PoliceColumn.VERIFIED_GENDER,
            "Giới tính xác minh",
            "Verified gender",
            ("verified_sex",),
            ColumnType.GENDER,
        ),
        Column(
            PoliceColumn.VERIFIED_ID_NUMBER,
            "Số CCCD/CMND xác minh",
            "Verified ID number",
            ("Số CCCD xác minh", "CCCD xác minh", "verified_id", "verified_cccd"),
            ColumnType.ID_NUMBER,
        ),
        Column(PoliceColumn.NOTE, "Ghi chú", "Note", ("Notes", "Ghi chú của công an")),
    ),
)
COLUMNS: dict[PoliceColumn, Column] = {PoliceColumn(c.key): c for c in POLICE_SPEC.columns}
EXPORT_COLUMNS = tuple(PoliceColumn)
RESULT_COLUMNS = (
    PoliceColumn.RESULT,
    PoliceColumn.VERIFIED_NAME,
    PoliceColumn.VERIFIED_BIRTH_DATE,
    PoliceColumn.VERIFIED_GENDER,
    PoliceColumn.VERIFIED_ID_NUMBER,
    PoliceColumn.NOTE,
)
# A file the police made themselves may name the identity it verified plainly ("Họ và tên"); in the
# export those columns hold the record as it stands, so they are read only when no "verified" column
# for that field is there.
_PLAIN_FALLBACK = {
    PoliceColumn.VERIFIED_NAME: PoliceColumn.FULL_NAME,
    PoliceColumn.VERIFIED_BIRTH_DATE: PoliceColumn.BIRTH_DATE,
    PoliceColumn.VERIFIED_GENDER: PoliceColumn.GENDER,
    PoliceColumn.VERIFIED_ID_NUMBER: PoliceColumn.ID_NUMBER,
}

_GENDER_TEXT: dict[str, str] = {Gender.MALE: "Nam", Gender.FEMALE: "Nữ", Gender.OTHER: "Khác"}
_GUIDE = (
    ("Cột / Column", "Cách ghi / How to fill it in"),
    (
        COLUMNS[PoliceColumn.RESULT].bilingual,
        "MATCH (khớp CSDL dân cư / matches the register), MISMATCH (CSDL ghi khác / the register says "
        "otherwise: ghi thông tin đúng vào các cột xác minh / write the right identity in the verified "
        "columns), NOT_FOUND (không tìm thấy / not in the register)",
    ),
    (
        COLUMNS[PoliceColumn.VERIFIED_NAME].bilingual,
        "Họ và tên theo CSDL dân cư / full name as the register has it",
    ),
    (COLUMNS[PoliceColumn.VERIFIED_BIRTH_DATE].bilingual, "dd/mm/yyyy, mm/yyyy hoặc/or yyyy"),
    (COLUMNS[PoliceColumn.VERIFIED_GENDER].bilingual, "Nam / Nữ / Khác (M / F / O)"),
    (
        COLUMNS[PoliceColumn.VERIFIED_ID_NUMBER].bilingual,
        "Số CCCD 12 số hoặc CMND 9 số / 12-digit CCCD or 9-digit CMND",
    ),
    ("", "Để trống cột xác minh nếu không đổi / leave a verified column empty when it does not change"),
)


class CommuneNotVisible(Http404):
    """The commune does not exist or lies outside the user's unit: both look the same."""


class PoliceExportRefused(Refusal):
    """The police list cannot be exported as asked (no commune chosen)."""


def can_export(user: Any) -> bool:
    return user_can(user, Capability.POLICE_EXPORT)


def police_export_commune(*, user: User, commune_code: str | None) -> Commune:
    """The commune whose escalated cases the user may export: police and health station their own, a
    province any of its communes; ``CommuneNotVisible`` (404) for any other."""
    code = (commune_code or "").strip()
    capability_require(user, Capability.POLICE_EXPORT)
    if user.role in (Role.POLICE, Role.COMMUNE):
        if code and code != user.commune_id:
            raise CommuneNotVisible(f"commune {code}")
        code = user.commune_id or ""
    elif not code:
        raise PoliceExportRefused("Hãy chọn xã/phường cần xuất.", "Choose the commune to export.")
    commune = Commune.objects.select_related("province").filter(pk=code).first()
    if commune is None or (user.role == Role.PROVINCE and commune.province_id != user.province_id):
        raise CommuneNotVisible(f"commune {code}")
    return commune


def export_communes(*, user: User) -> list[Commune]:
    """The communes a user may pick for the export (a province: those with escalated cases)."""
    if user.role in (Role.POLICE, Role.COMMUNE) and user.commune_id:
        return list(Commune.objects.filter(pk=user.commune_id))
    if user.role == Role.PROVINCE and user.province_id:
        codes = (
            cases_for_user(user=user)
            .filter(state=CaseState.ESCALATED)
            .values_list("commune_id", flat=True)
            .distinct()
        )
        return list(Commune.objects.filter(pk__in=codes).order_by("name_key"))
    return []


@transaction.atomic
def police_cases_export(*, actor: User, commune_code: str | None) -> tuple[bytes, str]:
    """The escalated cases of a commune as an .xlsx workbook for the police, with the full ID numbers;
    the disclosure is logged (one event listing the cases). Returns the content and a file name."""
    commune = police_export_commune(user=actor, commune_code=commune_code)
    cases = list(
        cases_for_user(user=actor)
        .filter(commune_id=commune.pk, state=CaseState.ESCALATED)
        .select_related("person")
        .order_by("escalated_at", "pk")
    )
    reasons = escalation_reasons(cases)
    commune_text = f"{commune.code} {commune.name}"
    blank_results = [""] * len(RESULT_COLUMNS)
    rows = (
        [
            str(case.pk),
            case.person.full_name,
            case.person.birth_date_display,
            _GENDER_TEXT.get(case.person.gender, ""),
            case.person.id_number,  # text, so that Excel keeps the leading zeros
            case.person.phone,
            case.person.address,
            commune_text,
            reasons.get(case.pk, ""),
            *blank_results,
        ]
        for case in cases
    )
    content = table_bytes(
        POLICE_SPEC, rows, fmt="xlsx", sheet="Hồ sơ - Cases", more_sheets={"Hướng dẫn - Guide": _GUIDE}
    )
    audit_event_record(
        action=AuditEvent.Action.EXPORT,
        actor_id=actor.pk,
        object_type="commune",
        object_id=commune.pk,
        detail={
            "export": "police_cases",
            "rows": len(cases),
            "full_id_read": {"object_type": "verification_case", "case_ids": [c.pk for c in cases]},
        },
    )
    return content, f"cong-an-{commune.pk}-{clock.today():%Y%m%d}.xlsx"


# -- the import of the police's result file ------------------------------------------------------------


@dataclass
class RejectedPoliceRow(RejectedLine):
    case_id: str = ""


@dataclass
class AppliedPoliceRow:
    row: int
    case_id: int
    result: str
    state: str


REPORT_HEADERS = [
    "Dòng / Row",
    "Mã hồ sơ / Case ID",
    "Xử lý / Outcome",
    "Cột / Column",
    "Mã lỗi / Code",
    "Lý do",
    "Reason",
]


@dataclass
class PoliceImportReport(RowReport[RejectedPoliceRow]):
    """Rows read (not blank) = rows applied (``rows_stored``) + rows rejected."""

    file_name: str = ""
    applied: list[AppliedPoliceRow] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    sink: KeptLines[RejectedPoliceRow] = field(default_factory=KeptLines)  # a small file: shown at once

    @property
    def rows_applied(self) -> int:
        return self.rows_stored

    def as_csv(self) -> bytes:
        """Every row read: applied ones with the case's new state, rejected ones once per reason, followed by
        the raw values as read so that they can be corrected and sent again."""
        raw_headers = self.raw_headers(self.rejected)
        lines: list[tuple[int, list[str]]] = []
        for applied in self.applied:
            vi, en = label_halves(CaseState(applied.state).label)
            lines.append(
                (
                    applied.row,
                    [str(applied.row), str(applied.case_id), "Đã ghi / applied", "", applied.result,
                     f"Hồ sơ chuyển sang: {vi}", f"Case now: {en}"] + [""] * len(raw_headers),
                )
            )  # fmt: skip
        for rejected in self.rejected:
            raw = [rejected.raw.get(h, "") for h in raw_headers]
            for reason in rejected.reasons:
                lines.append(
                    (
                        rejected.row,
                        [str(rejected.row), rejected.case_id, "Bị từ chối / rejected",
                         reason.column, reason.code, reason.message_vi, reason.message_en] + raw,
                    )
                )  # fmt: skip
        ordered = [line for _, line in sorted(lines, key=lambda item: item[0])]
        return table_bytes(REPORT_HEADERS + raw_headers, ordered, fmt="csv")


_RESULT_WORDS: dict[str, str] = {
    **dict.fromkeys(("match", "matched", "khop", "trungkhop", "dung", "dakhop"), "MATCH"),
    **dict.fromkeys(("mismatch", "khongkhop", "sai", "saikhac", "khongtrung", "khongtrungkhop"), "MISMATCH"),
    **dict.fromkeys(("notfound", "khongtimthay", "khongco", "khongtontai", "khongthay"), "NOT_FOUND"),
}


def _text(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return normalize_text(str(value))


# Each column's cells are read by the reader of its column type (``vaxreg.core.tables``).
_read_case_id = COLUMNS[PoliceColumn.CASE_ID].reader
_read_verified_birth_date = COLUMNS[PoliceColumn.VERIFIED_BIRTH_DATE].reader
_read_verified_gender = COLUMNS[PoliceColumn.VERIFIED_GENDER].reader
_read_verified_id = COLUMNS[PoliceColumn.VERIFIED_ID_NUMBER].reader


@dataclass
class _Row:
    number: int
    values: list[CellValue]
    case_id: int | None = None
    case_text: str = ""
    result: str = ""
    verified: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    reasons: list[Reason] = field(default_factory=list)


class _ResultFile:
    """The result file's columns and the reading of one row into a case id, a result and a verified identity."""

    def __init__(self, headers: list[str]) -> None:
        self.headers = headers
        found = {PoliceColumn(key): index for key, index in POLICE_SPEC.match(headers).positions.items()}
        self.positions = {
            verified: found[plain]
            for verified, plain in _PLAIN_FALLBACK.items()
            if verified not in found and plain in found
        }
        self.positions.update({name: found[name] for name in RESULT_COLUMNS if name in found})
        if PoliceColumn.CASE_ID in found:
            self.positions[PoliceColumn.CASE_ID] = found[PoliceColumn.CASE_ID]

    @classmethod
    def matches(cls, headers: list[str]) -> bool:
        keys = {POLICE_SPEC.column_for(h) for h in headers}
        return PoliceColumn.CASE_ID in keys and PoliceColumn.RESULT in keys

    def column(self, name: PoliceColumn) -> str:
        position = self.positions.get(name)
        if position is not None and position < len(self.headers) and self.headers[position].strip():
            return self.headers[position].strip()
        return COLUMNS[name].bilingual

    def cell(self, values: list[CellValue], name: PoliceColumn) -> CellValue:
        position = self.positions.get(name)
        if position is None or position >= len(values):
            return None
        value = values[position]
        return None if isinstance(value, str) and not value.strip() else value

    def read(self, source: SourceRow) -> _Row:
        row = _Row(number=source.number, values=source.values)
        if source.error:
            row.reasons.append(
                Reason(
                    "ROW_UNREADABLE",
                    "",
                    f"Không đọc được dòng này ({source.error}).",
                    f"This line cannot be read ({source.error}).",
                )
            )
            return row
        self._case_id(row)
        self._result(row)
        self._verified(row)
        row.note = _text(self.cell(row.values, PoliceColumn.NOTE))[:1000]
        return row

    def _reason(self, row: _Row, code: str, name: PoliceColumn, vi: str, en: str) -> None:
        row.reasons.append(Reason(code, self.column(name), vi, en))

    def _case_id(self, row: _Row) -> None:
        raw = self.cell(row.values, PoliceColumn.CASE_ID)
        row.case_text = _text(raw)
        if not row.case_text:
            self._reason(
                row, "CASE_ID_MISSING", PoliceColumn.CASE_ID, "Thiếu mã hồ sơ.", "The case ID is missing."
            )
        else:
            try:
                row.case_id = _read_case_id(row.case_text)
            except CellInvalid:
                self._reason(
                    row, "CASE_ID_INVALID", PoliceColumn.CASE_ID,
                    f"Mã hồ sơ “{row.case_text}” không phải một số.", f"The case ID “{row.case_text}” is not a number.",
                )  # fmt: skip

    def _result(self, row: _Row) -> None:
        text = _text(self.cell(row.values, PoliceColumn.RESULT))
        if not text:
            self._reason(
                row, "RESULT_MISSING", PoliceColumn.RESULT,
                "Chưa ghi kết quả (MATCH, MISMATCH hoặc NOT_FOUND).", "No result given (MATCH, MISMATCH or NOT_FOUND).",
            )  # fmt: skip
            return
        result = _RESULT_WORDS.get(header_key(text))
        if result is None:
            self._reason(
                row, "RESULT_INVALID", PoliceColumn.RESULT,
                f"Kết quả “{text}” không hợp lệ: ghi MATCH, MISMATCH hoặc NOT_FOUND.",
                f"The result “{text}” is not valid: write MATCH, MISMATCH or NOT_FOUND.",
            )  # fmt: skip
            return
        row.result = result

    def _verified(self, row: _Row) -> None:
        verified: dict[str, Any] = {}
        name = _text(self.cell(row.values, PoliceColumn.VERIFIED_NAME))
        if name:
            verified["full_name"] = name[:200]
        birth = self.cell(row.values, PoliceColumn.VERIFIED_BIRTH_DATE)
        if birth is not None:
            try:
                date = _read_verified_birth_date(birth)
            except CellInvalid as exc:
                self._reason(row, exc.code, PoliceColumn.VERIFIED_BIRTH_DATE, exc.message_vi, exc.message_en)
            else:
                if date is not None and not birth_date_in_bounds(date, today=clock.today()):
                    self._reason(
                        row, "BIRTH_DATE_OUT_OF_RANGE", PoliceColumn.VERIFIED_BIRTH_DATE,
                        f"Ngày sinh “{_text(birth)[:40]}” phải từ năm {MIN_BIRTH_YEAR} đến hôm nay.",
                        f"The birth date “{_text(birth)[:40]}” must be between {MIN_BIRTH_YEAR} and today.",
                    )  # fmt: skip
                else:
                    verified.update(birth_parts(date))
        gender_cell = self.cell(row.values, PoliceColumn.VERIFIED_GENDER)
        if gender_cell is not None:
            try:
                gender = _read_verified_gender(gender_cell)
            except CellInvalid as exc:
                self._reason(row, exc.code, PoliceColumn.VERIFIED_GENDER, exc.message_vi, exc.message_en)
            else:
                if gender:
                    verified["gender"] = gender
        id_cell = self.cell(row.values, PoliceColumn.VERIFIED_ID_NUMBER)
        if id_cell is not None:
            try:
                parsed = _read_verified_id(id_cell)
            except CellInvalid as exc:
                self._reason(row, exc.code, PoliceColumn.VERIFIED_ID_NUMBER, exc.message_vi, exc.message_en)
            else:
                if parsed.kind in USABLE_ID_KINDS:
                    verified["id_number"] = parsed.number
        row.verified = verified
        if row.result == "MISMATCH" and not verified and not row.reasons:
            self._reason(
                row, "VERIFIED_MISSING", PoliceColumn.VERIFIED_NAME,
                "Kết quả MISMATCH cần thông tin đúng theo CSDL dân cư (họ tên, ngày sinh, giới tính hoặc số CCCD).",
                "A MISMATCH needs the identity as the register has it (name, birth date, gender or ID number).",
            )  # fmt: skip


def birth_parts(date: PartialDate | None) -> dict[str, int]:
    if date is None:
        return {}
    parts = {"birth_year": date.year}
    if date.month is not None:
        parts["birth_month"] = date.month
    if date.day is not None:
        parts["birth_day"] = date.day
    return parts


def _open_result_file(path: Path) -> tuple[_ResultFile, Iterator[SourceRow]]:
    """The dose-file reader finds a header by the dose template's names; the police file has its own, so a
    title row above it may have been taken for the header. Its header is then one of the next rows."""
    dose_file = DoseFile(path)
    headers = [str(h) for h in dose_file.layout.headers.headers]
    rows = dose_file.rows()
    if _ResultFile.matches(headers):
        return _ResultFile(headers), rows
    for _ in range(HEADER_SEARCH_ROWS):
        row = next(rows, None)
        if row is None:
            break
        texts = ["" if v is None else str(v) for v in row.values]
        if _ResultFile.matches(texts):
            return _ResultFile(texts), rows
    needed = f"“{COLUMNS[PoliceColumn.CASE_ID].bilingual}”, “{COLUMNS[PoliceColumn.RESULT].bilingual}”"
    shown = ", ".join(f"“{h[:40]}”" for h in headers[:30] if h.strip()) or "—"
    raise FileRefused(
        "COLUMNS_MISSING",
        f"Tệp thiếu cột bắt buộc: {needed}. Các cột tìm thấy: {shown}.",
        f"The file lacks required columns: {needed}. Columns found: {shown}.",
    )


def _chunks(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk: list[SourceRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_FIELD_COLUMN = {
    "full_name": PoliceColumn.VERIFIED_NAME,
    "birth_year": PoliceColumn.VERIFIED_BIRTH_DATE,
    "birth_month": PoliceColumn.VERIFIED_BIRTH_DATE,
    "birth_day": PoliceColumn.VERIFIED_BIRTH_DATE,
    "gender": PoliceColumn.VERIFIED_GENDER,
    "id_number": PoliceColumn.VERIFIED_ID_NUMBER,
    "id_type": PoliceColumn.VERIFIED_ID_NUMBER,
}


class _Importer:
    def __init__(self, *, actor: User, file_name: str, result_file: _ResultFile) -> None:
        self.actor = actor
        self.file_name = file_name
        self.file = result_file
        self.source_id = f"police-file:{file_name}"[:SOURCE_ID_MAX]
        self.report = PoliceImportReport(file_name=file_name, headers=result_file.headers)
        self.seen: dict[int, int] = {}  # case id → the row that named it first

    def run(self, rows: Iterator[SourceRow]) -> PoliceImportReport:
        for chunk in _chunks(rows, _CHUNK):
            read = []
            for source in chunk:
                if not source.error and is_blank(source.values):
                    self.report.rows_blank += 1
                    continue
                read.append(self.file.read(source))
            ids = {r.case_id for r in read if r.case_id is not None}
            visible = {
                c.pk: c
                for c in cases_for_user(user=self.actor)
                .filter(pk__in=ids, commune_id=self.actor.commune_id)
                .only("id", "state", "commune_id")
            }
            for row in read:
                self._apply(row, visible)
        return self.report

    def _reject(self, row: _Row, *reasons: Reason) -> None:
        self.report.rows_read += 1
        self.report.reject(
            [
                RejectedPoliceRow(
                    row=row.number,
                    case_id=row.case_text,
                    reasons=[*row.reasons, *reasons],
                    raw=raw_cells(row.values, self.file.headers),
                )
            ]
        )

    def _case_reason(self, row: _Row, code: str, vi: str, en: str) -> Reason:
        return Reason(code, self.file.column(PoliceColumn.CASE_ID), vi, en)

    def _apply(self, row: _Row, visible: dict[int, VerificationCase]) -> None:
        if row.reasons or row.case_id is None:
            self._reject(row)
            return
        case = visible.get(row.case_id)
        if case is None:
            self._reject(
                row,
                self._case_reason(
                    row, "CASE_UNKNOWN",
                    f"Không có hồ sơ số {row.case_id} chuyển cho công an xã của bạn.",
                    f"No case {row.case_id} was escalated to your commune police.",
                ),
            )  # fmt: skip
            return
        first = self.seen.setdefault(row.case_id, row.number)
        if first != row.number:
            self._reject(
                row,
                self._case_reason(
                    row, "CASE_REPEATED",
                    f"Hồ sơ số {row.case_id} đã có ở dòng {first} của tệp.",
                    f"Case {row.case_id} is already on row {first} of the file.",
                ),
            )  # fmt: skip
            return
        if case.state != CaseState.ESCALATED:
            vi, en = label_halves(CaseState(case.state).label)
            self._reject(
                row,
                self._case_reason(
                    row, "CASE_NOT_ESCALATED",
                    f"Hồ sơ số {row.case_id} không chờ kết quả của công an (đang: {vi}).",
                    f"Case {row.case_id} is not waiting for the police (it is {en}).",
                ),
            )  # fmt: skip
            return
        note = row.note or (
            f"Tệp kết quả của công an / police result file “{self.file_name}”, dòng / row {row.number}"
        )
        try:
            with transaction.atomic():
                updated = case_police_result(
                    actor=self.actor,
                    case_id=row.case_id,
                    result=row.result,
                    verified=row.verified,
                    note=note,
                    source_id=self.source_id,
                )
        except CaseActionRefused as exc:
            self._reject(row, self._case_reason(row, "CASE_REFUSED", exc.message_vi, exc.message_en))
            return
        except CorrectionRefused as exc:
            column = _FIELD_COLUMN.get(exc.field)
            name = self.file.column(column) if column else ""
            self._reject(row, Reason("CORRECTION_REFUSED", name, exc.message_vi, exc.message_en))
            return
        self.report.rows_read += 1
        self.report.rows_stored += 1
        self.report.applied.append(
            AppliedPoliceRow(row=row.number, case_id=row.case_id, result=row.result, state=updated.state)
        )


@transaction.atomic
def police_results_import(*, actor: User, file_name: str, content: bytes) -> PoliceImportReport:
    """Apply the police's result file (.xlsx or CSV): one ``case_police_result`` per row, with the file as
    source. Rows that cannot be applied are reported with their row, column and reason; the others are
    applied. A file that cannot be read at all raises ``FileRefused`` and changes nothing."""
    if not user_can(actor, Capability.CASE_POLICE):
        raise CaseActionRefused(
            "Chỉ công an xã mới nhập được tệp kết quả xác minh.",
            "Only a commune police account can import a result file.",
        )
    name = Path(file_name).name or "police-results"
    with tempfile.TemporaryDirectory(prefix="vaxreg-police-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(content)
        result_file, rows = _open_result_file(path)
        report = _Importer(actor=actor, file_name=name, result_file=result_file).run(rows)
    audit_event_record(
        action=AuditEvent.Action.IMPORT_FINISHED,
        actor_id=actor.pk,
        object_type="police_file",
        object_id=name[:SOURCE_ID_MAX],
        detail={
            "rows_read": report.rows_read,
            "rows_applied": report.rows_applied,
            "rows_rejected": report.rows_rejected,
            "rows_blank": report.rows_blank,
        },
    )
    return report


# -- keeping a report for its download ------------------------------------------------------------------


def _reports_dir() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "police-reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


REPORT_KEPT_SECONDS = 24 * 3600


def police_import_report_store(report: PoliceImportReport) -> str:
    """Keep the report's CSV under MEDIA_ROOT (never served directly) for a day; returns the token that
    names it. Rejected rows carry the ID numbers as typed, so old reports are not left lying about."""
    folder = _reports_dir()
    expired = clock.now().timestamp() - REPORT_KEPT_SECONDS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < expired:
            old.unlink(missing_ok=True)
    token = uuid.uuid4().hex
    (folder / f"{token}.csv").write_bytes(report.as_csv())
    return token


def police_import_report_read(token: str) -> bytes | None:
    if not (len(token) == 32 and all(ch in "0123456789abcdef" for ch in token)):
        return None
    path = _reports_dir() / f"{token}.csv"
    return path.read_bytes() if path.is_file() else None
