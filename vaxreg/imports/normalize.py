"""One template row → the values VaxReg stores, or the reasons it cannot be stored.

Only a row that cannot be stored at all (no facility, no source record id, no vaccination date) is
rejected. Every citizen field that is missing or unreadable is kept as entered and left to the quality
rules: such a row is still a real dose.
"""

import datetime as dt
from typing import Any, NamedTuple

import xxhash

from vaxreg.core.cccd import USABLE_ID_KINDS, IdKind, ParsedId
from vaxreg.core.dates import PartialDate
from vaxreg.core.tables import CellInvalid, Reason, cell_text
from vaxreg.core.text import fold, normalize_text
from vaxreg.imports.headers import COLUMNS_BY_FIELD, Field
from vaxreg.imports.readers import CellValue
from vaxreg.places.selectors import FacilityRef
from vaxreg.vaccinations.catalogue import alias_key

MAX_NAME = 200
MAX_ADDRESS = 300
MAX_SOURCE_ID = 64
MAX_LOT = 64
MAX_VACCINE_RAW = 100
MAX_PHONE = 32
_NO_BIRTH = (None, None, None)
_ID_KIND_TEXT = {kind: kind.value for kind in IdKind}  # plain text: chunks cross as marshal data
# Rows of one person and doses of one lot repeat; their normalised values are reused.
PERSON_MEMO_SIZE = 20_000
DOSE_MEMO_SIZE = 5_000
DATE_MEMO_SIZE = 100_000
FIELD_ORDER = (
    Field.FULL_NAME, Field.DATE_OF_BIRTH, Field.GENDER, Field.ID_NUMBER, Field.PHONE, Field.ADDRESS, Field.COMMUNE_CODE,
    Field.FACILITY_CODE, Field.SOURCE_RECORD_ID, Field.VACCINATION_DATE, Field.DOSE_NUMBER, Field.VACCINE,
    Field.LOT_NUMBER,
)  # fmt: skip


# What ``normalize`` returns for a storable row: (number, facility id, facility code, source record id,
# vaccination date as its day number (``date.toordinal``), dose fields, person fields, fingerprint). The
# dose and person fields are tuples shared by every row with the same cells, so a chunk crosses from the
# reading process with each person written once; plain values only, so that ``marshal`` can carry it
# (several times faster than pickle). ``DoseRow.spread`` spreads them out; the importer's usual path reads
# them as they are, at the positions below.
CompactRow = tuple[int, int, str, str, int, tuple[Any, ...], tuple[Any, ...], str]
# The person fields: the first ``PERSON_STORED`` are a new person's columns, in the order of the table's
# ``full_name`` … ``unparsed``; then whether the ID is usable, the match key, and the key by which rows without
# a usable ID find this person.
PERSON_STORED = 17
P_NAME_KEY, P_BIRTH_YEAR, P_ID_NUMBER, P_ID_REPAIRED, P_COMMUNE, P_PROVINCE = 1, 2, 8, 9, 12, 15
P_USABLE_ID, P_MATCH_KEY, P_NAME_MATCH_KEY = 17, 18, 19
# The dose fields: (dose number, vaccine code, vaccine as written, lot number, unparsed), a dose's columns.
D_VACCINE = 1


class DoseRow(NamedTuple):
    """A storable row: the dose, and the person as this row describes them.

    A plain tuple of plain values, so that chunks of rows cross from the reading process cheaply.
    """

    number: int
    facility_id: int
    facility_code: str
    source_record_id: str
    vaccination_date: dt.date
    dose_number: int | None
    vaccine_code: str | None
    vaccine_raw: str
    lot_number: str
    dose_unparsed: dict[str, str] | None
    full_name: str
    name_key: str
    birth_year: int | None
    birth_month: int | None
    birth_day: int | None
    birth_raw: str
    gender: str
    id_kind: str
    id_number: str
    id_repaired: bool
    phone: str
    address: str
    commune_code: str | None
    legacy_commune_code: str
    commune_code_raw: str
    province_code: str
    person_unparsed: dict[str, str] | None
    has_usable_id: bool  # a CCCD, CMND or passport number of a valid shape
    match_key: tuple[Any, ...] | None  # who the row's person is: see ``match_key``
    name_match_key: tuple[Any, ...] | None  # the match key of a row saying the same without the ID
    source_hash: str  # fingerprint of what the row says, to recognise an unchanged re-import at once
    dose_key: tuple[int, str]  # (facility id, source record id): which stored dose the row is

    @classmethod
    def of(cls, compact_row: CompactRow) -> "DoseRow":
        """One row spread out: for the few rows the importer looks at field by field."""
        return cls.spread([compact_row])[0]

    @classmethod
    def spread(cls, compact_rows: list[CompactRow]) -> list["DoseRow"]:
        new = tuple.__new__
        dates = DAY_DATES
        return [
            new(cls, (number, facility_id, facility_code, source_id, dates.get(day) or day_date(day), *dose, *person,
                      fingerprint, (facility_id, source_id)))
            for number, facility_id, facility_code, source_id, day, dose, person, fingerprint in compact_rows
        ]  # fmt: skip


_fingerprint = xxhash.xxh3_128_hexdigest
FINGERPRINT_LENGTH = 32  # hex digits (``Dose.source_hash``); earlier versions of the importer wrote 24

DAY_DATES: dict[int, dt.date] = {}  # day number → date: a file holds a few thousand vaccination days


def day_date(day: int) -> dt.date:
    """The date of a day number (``date.toordinal``), kept in ``DAY_DATES`` for the next row of that day."""
    if len(DAY_DATES) >= DATE_MEMO_SIZE:
        DAY_DATES.clear()
    date = DAY_DATES[day] = dt.date.fromordinal(day)
    return date


def match_key(
    *,
    usable_id: bool,
    id_number: str,
    name_key: str,
    year: int | None,
    month: int | None,
    day: int | None,
    gender: str,
    commune: str,
) -> tuple[Any, ...] | None:
    """Deterministic identity: the same valid ID with the same name and birth year, or, without a usable
    ID, the same name, birth date, gender and commune (its code, or what was written when it is unknown):
    the same as any person, with an ID or without, of that name, birth date, gender and commune. Rows with
    neither are never merged. Made once per distinct person, in the reading process."""
    if usable_id:
        return ("id", id_number, name_key, year)
    if not name_key:
        return None
    return ("name", name_key, year, month, day, gender, commune)


def is_blank(values: list[CellValue]) -> bool:
    """True for a row whose every cell is empty or white space."""
    try:
        return not "".join(values).strip()  # type: ignore[arg-type]  # a CSV row: all text
    except TypeError:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


_text = cell_text


def _column(field: Field) -> str:
    return COLUMNS_BY_FIELD[field].vietnamese


# Each column's cells are read by the reader of its type (``vaxreg.core.tables``), or by the field specification's
# rule the column names; taken once here, called per distinct cell.
_read_birth = COLUMNS_BY_FIELD[Field.DATE_OF_BIRTH].reader
_read_gender = COLUMNS_BY_FIELD[Field.GENDER].reader
_read_id = COLUMNS_BY_FIELD[Field.ID_NUMBER].reader
_read_phone = COLUMNS_BY_FIELD[Field.PHONE].reader
_read_commune = COLUMNS_BY_FIELD[Field.COMMUNE_CODE].reader
_read_facility = COLUMNS_BY_FIELD[Field.FACILITY_CODE].reader
_read_vaccination_date = COLUMNS_BY_FIELD[Field.VACCINATION_DATE].reader
_read_dose_number = COLUMNS_BY_FIELD[Field.DOSE_NUMBER].reader


class RowNormalizer:
    """Turns raw cells into a ``CompactRow`` or a list of ``Reason``s, with the maps of one import loaded once."""

    def __init__(
        self,
        *,
        positions: dict[Field, int],
        facilities: dict[str, FacilityRef],
        communes: dict[str, tuple[str | None, str | None]],
        commune_province: dict[str, str],
        vaccines: dict[str, str],
        only_facility: FacilityRef | None,
        only_province: str | None,
    ) -> None:
        self._facilities = facilities
        self._communes = communes
        self._commune_province = commune_province
        self._vaccines = vaccines
        self._only_facility = only_facility
        self._only_province = only_province
        # A short row is padded with empty cells; an absent column points one past the header's last one.
        width = max(positions.values(), default=-1) + 1
        self._order = tuple(positions.get(f, width) for f in FIELD_ORDER)
        self._cells_needed = max(self._order) + 1
        self._person_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._dose_memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._facility_seen: dict[CellValue, FacilityRef] = {}  # cell → an allowed facility
        self._date_seen: dict[CellValue, int] = {}  # cell → the day number of a readable vaccination date

    def normalize(self, number: int, values: list[CellValue]) -> CompactRow | list[Reason] | None:
        """The row's values to store, the reasons it cannot be stored, or None for a blank row."""
        short = self._cells_needed - len(values)
        cells = values + [None] * short if short > 0 else values
        (p_name, p_birth, p_gender, p_id, p_phone, p_address, p_commune, p_facility, p_source, p_date, p_dose,
         p_vaccine, p_lot) = self._order  # fmt: skip
        # The usual row: a known facility code, a plain source id, a date seen before: three dict lookups.
        facility = self._facility_seen.get(cells[p_facility])
        source_record_id = cells[p_source]
        source_record_id = (
            source_record_id.strip() if type(source_record_id) is str else _text(source_record_id)
        )
        vaccination_day = self._date_seen.get(cells[p_date])
        if (
            facility is None
            or vaccination_day is None
            or not source_record_id
            or len(source_record_id) > MAX_SOURCE_ID
        ):
            if not source_record_id and is_blank(values):
                return None  # a blank row: skipped, not read
            reasons = self._structural_reasons(cells[p_facility], source_record_id, cells[p_date])
            if reasons:
                return reasons
            facility = self._facility_seen[cells[p_facility]]
            vaccination_day = self._date_seen[cells[p_date]]

        person_cells = (cells[p_name], cells[p_birth], cells[p_gender], cells[p_id], cells[p_phone], cells[p_address],
                        cells[p_commune], facility.province_code)  # fmt: skip
        person = self._person_memo.get(person_cells)
        if person is None:
            person = self._person(*person_cells)
            if len(self._person_memo) >= PERSON_MEMO_SIZE:
                self._person_memo.clear()
            self._person_memo[person_cells] = person
        dose_cells = (cells[p_dose], cells[p_vaccine], cells[p_lot])
        dose = self._dose_memo.get(dose_cells)
        if dose is None:
            dose = self._dose(*dose_cells)
            if len(self._dose_memo) >= DOSE_MEMO_SIZE:
                self._dose_memo.clear()
            self._dose_memo[dose_cells] = dose
        # What the row says (an unchanged re-imported row has the same fingerprint), made at C speed. A
        # fingerprint only has to tell a row from its own earlier versions, not withstand an attacker: a
        # 128-bit XXH3 costs a quarter of what BLAKE2 does here (once per row, a tenth of the reading).
        try:
            said = "\x1f".join((source_record_id, *values))  # type: ignore[arg-type]  # TypeError: not all text
        except TypeError:  # a spreadsheet row: numbers and dates among the cells
            said = repr((source_record_id, values))
        fingerprint = _fingerprint(said.encode())
        return (
            number,
            facility.id,
            facility.code,
            source_record_id,
            vaccination_day,
            dose,
            person,
            fingerprint,
        )

    def storable(self, values: list[CellValue]) -> bool:
        """Whether the cells make a row that can be stored: an allowed facility, a source record id and a readable
        vaccination date (what ``normalize`` checks before anything else)."""
        short = self._cells_needed - len(values)
        cells = values + [None] * short if short > 0 else values
        p_facility, p_source, p_date = self._order[7:10]
        source_record_id = _text(cells[p_source])
        if not source_record_id or len(source_record_id) > MAX_SOURCE_ID:
            return False
        if cells[p_facility] in self._facility_seen and cells[p_date] in self._date_seen:
            return True
        return not self._structural_reasons(cells[p_facility], source_record_id, cells[p_date])

    def lines_were_joined(self, record: list[CellValue], lines: list[list[CellValue]]) -> bool:
        """Whether a record that spans lines is really several rows, joined by a stray quote mark: one of its
        later lines is a storable row on its own, and so is its first line, or else the record as a whole is not
        (a name or an address written over two lines makes a storable record whose first line is not one)."""
        return any(self.storable(line) for line in lines[1:]) and (
            self.storable(lines[0]) or not self.storable(record)
        )

    def _person(
        self,
        raw_name: CellValue,
        raw_birth: CellValue,
        raw_gender_cell: CellValue,
        raw_id: CellValue,
        raw_phone_cell: CellValue,
        raw_address: CellValue,
        raw_commune: CellValue,
        facility_province: str,
    ) -> tuple[Any, ...]:
        """The person fields of a row, in DoseRow order (computed once per distinct set of cells)."""
        unparsed: dict[str, str] = {}
        full_name = normalize_text(_text(raw_name))
        if len(full_name) > MAX_NAME:
            unparsed[Field.FULL_NAME.value] = full_name
            full_name = full_name[:MAX_NAME]
        # A citizen field of the wrong type is kept as written, for the quality rules: the row is still a dose.
        birth: PartialDate | None = None
        birth_raw = ""
        try:
            birth = _read_birth(raw_birth)
        except CellInvalid:
            birth_raw = _text(raw_birth)[:64]
        raw_gender = _text(raw_gender_cell)
        try:
            gender = _read_gender(raw_gender)
        except CellInvalid:
            gender = ""
        if raw_gender and not gender:  # unreadable, or said to be unknown ("không rõ"): kept as written
            unparsed[Field.GENDER.value] = raw_gender[:64]
        parsed_id: ParsedId
        try:
            parsed_id = _read_id(raw_id)
        except CellInvalid as invalid:
            parsed_id = invalid.value
        raw_phone = _text(raw_phone_cell)
        try:
            phone = _read_phone(raw_phone)[:MAX_PHONE]
        except CellInvalid as invalid:
            phone = invalid.value[:MAX_PHONE]
        address = normalize_text(_text(raw_address))[:MAX_ADDRESS]
        commune_code_raw = _read_commune(raw_commune)[:16]
        commune_code, legacy_code = (
            self._communes.get(commune_code_raw, (None, None)) if commune_code_raw else (None, None)
        )
        province_code = (
            self._commune_province.get(commune_code, facility_province) if commune_code else facility_province
        )
        name_key = fold(full_name)
        year, month, day = _NO_BIRTH if birth is None else (birth.year, birth.month, birth.day)
        id_number = parsed_id.number[:32]
        usable_id = parsed_id.kind in USABLE_ID_KINDS
        commune = commune_code or commune_code_raw
        name_match_key = match_key(
            usable_id=False,
            id_number="",
            name_key=name_key,
            year=year,
            month=month,
            day=day,
            gender=gender,
            commune=commune,
        )
        return (
            full_name, name_key, year, month, day, birth_raw, gender, _ID_KIND_TEXT[parsed_id.kind], id_number,
            parsed_id.repaired, phone, address, commune_code, legacy_code or "", commune_code_raw, province_code,
            unparsed or None, usable_id,
            match_key(
                usable_id=usable_id, id_number=id_number, name_key=name_key, year=year, month=month, day=day,
                gender=gender, commune=commune,
            ) if usable_id else name_match_key,
            name_match_key,
        )  # fmt: skip

    def _dose(self, raw_dose_cell: CellValue, raw_vaccine: CellValue, raw_lot: CellValue) -> tuple[Any, ...]:
        """The dose fields of a row other than its keys and date, in DoseRow order."""
        unparsed: dict[str, str] = {}
        raw_dose_number = _text(raw_dose_cell)
        try:
            dose_number = _read_dose_number(raw_dose_number)
        except CellInvalid:  # kept as written, for the quality rules
            dose_number = None
            unparsed[Field.DOSE_NUMBER.value] = raw_dose_number[:64]
        vaccine_raw = normalize_text(_text(raw_vaccine))
        vaccine_code = self._vaccines.get(alias_key(vaccine_raw)) if vaccine_raw else None
        if len(vaccine_raw) > MAX_VACCINE_RAW:
            unparsed[Field.VACCINE.value] = vaccine_raw
            vaccine_raw = vaccine_raw[:MAX_VACCINE_RAW]
        lot_number = normalize_text(_text(raw_lot))[:MAX_LOT]
        return (dose_number, vaccine_code, vaccine_raw, lot_number, unparsed or None)

    def _structural_reasons(
        self, facility_cell: CellValue, source_record_id: str, date_cell: CellValue
    ) -> list[Reason]:
        """Why a row cannot be stored; remembers the facility and date cells that turned out fine."""
        reasons: list[Reason] = []
        facility = self._facility(_read_facility(facility_cell), reasons)
        if facility is not None:
            self._facility_seen[facility_cell] = facility
        if not source_record_id:
            reasons.append(
                Reason(
                    "SOURCE_ID_MISSING",
                    _column(Field.SOURCE_RECORD_ID),
                    "Thiếu mã bản ghi.",
                    "The source record id is missing.",
                )
            )
        elif len(source_record_id) > MAX_SOURCE_ID:
            reasons.append(
                Reason(
                    "SOURCE_ID_TOO_LONG",
                    _column(Field.SOURCE_RECORD_ID),
                    f"Mã bản ghi dài quá {MAX_SOURCE_ID} ký tự.",
                    f"The source record id is longer than {MAX_SOURCE_ID} characters.",
                )
            )
        vaccination_date = self._vaccination_date(date_cell, reasons)
        if vaccination_date is not None:
            self._date_seen[date_cell] = vaccination_date.toordinal()
        return reasons

    def _facility(self, code: str, reasons: list[Reason]) -> FacilityRef | None:
        column = _column(Field.FACILITY_CODE)
        if not code:
            if self._only_facility is not None:
                return self._only_facility
            reasons.append(
                Reason("FACILITY_MISSING", column, "Thiếu mã cơ sở tiêm.", "The facility code is missing.")
            )
            return None
        facility = self._facilities.get(code) or self._facilities.get(code.upper())
        if facility is None:
            reasons.append(
                Reason(
                    "FACILITY_UNKNOWN",
                    column,
                    f"Mã cơ sở tiêm “{code[:40]}” không có trong danh mục.",
                    f"The facility code “{code[:40]}” is not in the facility list.",
                )
            )
            return None
        if self._only_facility is not None and facility.id != self._only_facility.id:
            reasons.append(
                Reason(
                    "FACILITY_NOT_ALLOWED",
                    column,
                    f"Dòng thuộc cơ sở {facility.code}; lần nhập này chỉ được nhập dữ liệu của cơ sở {self._only_facility.code}.",
                    f"The row belongs to facility {facility.code}; this import may only hold rows of facility "
                    f"{self._only_facility.code}.",
                )
            )
            return None
        if self._only_province is not None and facility.province_code != self._only_province:
            reasons.append(
                Reason(
                    "FACILITY_OUTSIDE_PROVINCE",
                    column,
                    f"Cơ sở {facility.code} không thuộc tỉnh/thành phố của bạn.",
                    f"Facility {facility.code} is outside your province.",
                )
            )
            return None
        return facility

    @staticmethod
    def _vaccination_date(value: CellValue, reasons: list[Reason]) -> dt.date | None:
        column = _column(Field.VACCINATION_DATE)
        if value is None or (isinstance(value, str) and not value.strip()):
            reasons.append(
                Reason(
                    "VACCINATION_DATE_MISSING", column, "Thiếu ngày tiêm.", "The vaccination date is missing."
                )
            )
            return None
        try:
            return _read_vaccination_date(value)
        except CellInvalid as exc:
            reasons.append(
                Reason(
                    "VACCINATION_DATE_INVALID",
                    column,
                    f"Ngày tiêm “{_text(value)[:40]}” không đọc được: {exc.message_vi}",
                    f"The vaccination date “{_text(value)[:40]}” cannot be read: {exc.message_en}",
                )
            )
            return None
