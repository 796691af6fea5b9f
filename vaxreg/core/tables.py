"""Tables in and out: the columns of a file (headers in Vietnamese and English and the spellings people
use), the report of the rows read, and ``write_table``, the one writer of CSV and Excel files.

Headers are matched case-, accent-, space- and punctuation-insensitively, so "Họ và tên", "HO VA TEN",
"ho_va_ten" and "full_name" all name the same column. A spec is resolved once per file (``TableSpec.match``);
nothing here runs per row of an import.

Every file this platform hands out goes through ``write_table``: CSV in UTF-8 with a byte-order mark (so
that Excel reads Vietnamese) or .xlsx streamed by openpyxl's write-only mode; a text cell that a
spreadsheet would run as a formula is escaped (OWASP "CSV injection"), and a sheet never grows past
Excel's row limit: the writer refuses the file instead of losing rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeVar

from vaxreg.core.cccd import IdKind, ParsedId, parse_id_number
from vaxreg.core.dates import DateParseError, PartialDate, parse_full_date, parse_partial_date
from vaxreg.core.genders import is_recognised_gender, parse_gender
from vaxreg.core.phones import normalize_phone
from vaxreg.core.refusals import Refusal
from vaxreg.core.text import fold, normalize_text

_NOT_ALNUM = re.compile(r"[^a-z0-9]")

# Excel's sheet holds 1,048,576 rows, the header being one of them.
EXCEL_MAX_ROWS = 1_048_576
# The first characters by which a spreadsheet takes a cell for a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FILE_BUFFER = 1 << 20


def header_key(text: str) -> str:
    """The key by which a header is matched: folded, letters and digits only ("Số CCCD/CMND" → "socccdcmnd")."""
    return _NOT_ALNUM.sub("", fold(str(text)))


def cell_safe(value: str) -> str:
    """A text cell as a spreadsheet may open it: one starting like a formula gets a leading quote."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


# -- the columns of a table ----------------------------------------------------------------------------


class ColumnType(enum.StrEnum):
    TEXT = "text"
    DATE = "date"  # a full date
    PARTIAL_DATE = "partial_date"  # a date, a month or a year (a birth date)
    INTEGER = "integer"
    ID_NUMBER = "id_number"
    PHONE = "phone"
    CODE = "code"
    GENDER = "gender"


class CellInvalid(Refusal, ValueError):
    """A cell that is not of its column's type: a stable code, the reason in both languages, and what could
    be read of it (``value``), which a column that keeps such cells for the quality rules stores as written."""

    status = 422

    def __init__(self, code: str, message_vi: str, message_en: str, *, value: Any = None) -> None:
        super().__init__(message_vi, message_en, code=code)
        self.value = value

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"


def cell_text(value: Any) -> str:
    """A cell as text: trimmed; a whole number without ".0"; a date (or a midnight date-time) as ISO."""
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


# Why a cell is not of its type, in both languages ("{}": the cell as written).
_NOT_OF_TYPE = {
    "INTEGER_INVALID": ("“{}” không phải một số.", "“{}” is not a number."),
    "ID_INVALID": (
        "Số giấy tờ “{}” không phải CCCD 12 số, CMND 9 số hay số hộ chiếu.",
        "The ID “{}” is not a 12-digit CCCD, a 9-digit CMND or a passport number.",
    ),
    "PHONE_INVALID": (
        "Số điện thoại “{}” không phải số điện thoại Việt Nam.",
        "The phone number “{}” is not a Vietnamese phone number.",
    ),
    "GENDER_INVALID": (
        "Giới tính “{}” không đọc được: ghi Nam, Nữ hoặc Khác.",
        "The gender “{}” cannot be read: write Nam, Nữ or Khác (M, F, O).",
    ),
}


def _not_of_type(code: str, cell: Any, read: Any) -> CellInvalid:
    shown = normalize_text(cell_text(cell))
    vi, en = _NOT_OF_TYPE[code]
    return CellInvalid(code, vi.format(shown), en.format(shown), value=read)


# The one reading of each column type. A blank cell reads as empty (None, "" or an ``IdKind.NONE`` id): whether
# a column may be blank is the caller's rule. A cell of another type raises ``CellInvalid``. The domain's own
# rules (dose number range, date bounds, vaccine names) are the field specification's
# (``vaxreg.vaccinations.fields``); a column hands its cells to one of them through ``Column.rule``.


def _read_integer(value: Any) -> int | None:
    text = cell_text(value)
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise _not_of_type("INTEGER_INVALID", value, text)
    return int(text)


def _read_date(value: Any) -> dt.date | None:
    try:
        return parse_full_date(value)
    except DateParseError as exc:
        raise CellInvalid(exc.code, exc.message_vi, exc.message_en, value=value) from None


def _read_partial_date(value: Any) -> PartialDate | None:
    try:
        return parse_partial_date(value)
    except DateParseError as exc:
        raise CellInvalid(exc.code, exc.message_vi, exc.message_en, value=value) from None


def _read_id_number(value: Any) -> ParsedId:
    parsed = parse_id_number(value)
    if parsed.kind is IdKind.INVALID:
        raise _not_of_type("ID_INVALID", value, parsed)
    return parsed


def _read_phone(value: Any) -> str:
    number, valid = normalize_phone(value)
    if not valid and number:
        raise _not_of_type("PHONE_INVALID", value, number)
    return number


def _read_gender(value: Any) -> str:
    if not is_recognised_gender(value):
        raise _not_of_type("GENDER_INVALID", value, cell_text(value))
    return parse_gender(value)


CellReader = Callable[[Any], Any]
CELL_READERS: dict[ColumnType, CellReader] = {
    ColumnType.TEXT: cell_text,
    ColumnType.CODE: cell_text,  # what a code names is the caller's lookup (facilities, communes)
    ColumnType.INTEGER: _read_integer,
    ColumnType.DATE: _read_date,
    ColumnType.PARTIAL_DATE: _read_partial_date,
    ColumnType.ID_NUMBER: _read_id_number,
    ColumnType.PHONE: _read_phone,
    ColumnType.GENDER: _read_gender,
}


def cell_read(column_type: ColumnType, value: Any) -> Any:
    """A cell read as a column type (``CellInvalid`` when it is not one)."""
    return CELL_READERS[column_type](value)


class HeaderStyle(enum.StrEnum):
    VIETNAMESE = "vietnamese"  # "Họ và tên": the dose import template, the files facilities send
    BILINGUAL = "bilingual"  # "Họ và tên / Full name": the files we hand out
    KEY = "key"  # "full_name": files for programs (the FHIR bundle's rows)


@dataclass(frozen=True)
class Column:
    """One column: its key, its headers in both languages, the other spellings that name it, its type, and
    whether a file without it is refused."""

    key: str
    vietnamese: str
    english: str
    aliases: tuple[str, ...] = ()
    type: ColumnType = ColumnType.TEXT
    required: bool = False
    # The field specification's reading of the column's cells, in place of its type's own (a dose number may
    # be written "Mũi 2"); it raises ``CellInvalid`` as they do.
    rule: CellReader | None = None

    @property
    def reader(self) -> CellReader:
        """How a cell of this column is read: take it once per file, call it per cell."""
        return self.rule or CELL_READERS[self.type]

    @property
    def bilingual(self) -> str:
        return f"{self.vietnamese} / {self.english}"

    def header(self, style: HeaderStyle) -> str:
        if style is HeaderStyle.VIETNAMESE:
            return self.vietnamese
        if style is HeaderStyle.KEY:
            return self.key
        return self.bilingual

    def spellings(self) -> tuple[str, ...]:
        return (self.bilingual, self.vietnamese, self.key, *self.aliases, self.english)


@dataclass(frozen=True)
class HeaderMatch:
    positions: dict[str, int]  # column key → 0-based index (the first column of the file that names it)
    ignored: list[str]  # headers that name no column, or repeat one already found
    headers: list[str]


class TableSpec:
    """The columns of one kind of file, and the index that finds them in a file's header row."""

    def __init__(self, name: str, columns: Sequence[Column], *, style: HeaderStyle = HeaderStyle.BILINGUAL):
        self.name = name
        self.columns: tuple[Column, ...] = tuple(columns)
        self.style = style
        self.by_key: dict[str, Column] = {c.key: c for c in self.columns}
        self._index: dict[str, str] = {}
        # The columns' own names first: an alias never takes a spelling another column is called by.
        for column in self.columns:
            for spelling in (column.bilingual, column.vietnamese, column.key):
                self._index.setdefault(header_key(spelling), column.key)
        for column in self.columns:
            for spelling in column.spellings():
                self._index.setdefault(header_key(spelling), column.key)

    def __getitem__(self, key: str) -> Column:
        return self.by_key[key]

    def headers(self, style: HeaderStyle | None = None) -> list[str]:
        style = style or self.style
        return [c.header(style) for c in self.columns]

    def column_for(self, header: str) -> str | None:
        """The key of the column a header names, or None."""
        return self._index.get(header_key(header or ""))

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns if c.required)

    def match(self, headers: Sequence[Any]) -> HeaderMatch:
        positions: dict[str, int] = {}
        ignored: list[str] = []
        for index, header in enumerate(headers):
            key = self._index.get(header_key(header or ""))
            if key is None or key in positions:
                if str(header or "").strip():
                    ignored.append(str(header))
                continue
            positions[key] = index
        return HeaderMatch(positions=positions, ignored=ignored, headers=[str(h) for h in headers])


# -- the report of the rows read ---------------------------------------------------------------------------


@dataclass(slots=True)
class Reason:
    """Why a row (or one of its cells) was refused: a stable code, the column, and the reason in both
    languages."""

    code: str
    column: str
    message_vi: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "column": self.column,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
        }


@dataclass
class RejectedLine:
    """A row of a file that was not stored: its number in the file (header included), its reasons and the
    raw values as read, so that it can be corrected and sent again."""

    row: int
    reasons: list[Reason]
    raw: Mapping[str, Any]


# The columns every rejected-rows report starts with; the raw values of the rows follow.
REJECTION_HEADERS = ["Dòng / Row", "Cột / Column", "Mã lỗi / Code", "Lý do", "Reason"]


LineT = TypeVar("LineT", bound=RejectedLine)
LineIn = TypeVar("LineIn", bound=RejectedLine, contravariant=True)


class RejectedSink(Protocol[LineIn]):
    """Where a report's rejected lines go: kept in memory (``KeptLines``) or streamed elsewhere (the dose
    import writes them to its rejected-rows table a chunk at a time, so a file of a million rows is never held
    whole)."""

    def put(self, lines: Sequence[LineIn]) -> None: ...


@dataclass
class KeptLines(Generic[LineT]):
    """The rejected lines kept in memory, for a small file whose report is shown at once (the police's)."""

    lines: list[LineT] = field(default_factory=list)

    def put(self, lines: Sequence[LineT]) -> None:
        self.lines.extend(lines)


def rows_add_up(*, read: int, stored: int, rejected: int) -> bool:
    """The account of every file read: rows read = rows stored + rows rejected (blank lines apart)."""
    return read == stored + rejected


@dataclass
class RowReport(Generic[LineT]):
    """The account of one file: rows read = rows stored + rows rejected (blank lines apart), the rejected
    rows counted by code, and the rejected lines given to a sink.

    The counts are the report's own; the lines go to ``sink`` (kept in memory unless the caller streams them
    elsewhere). The file's reader counts ``rows_read`` and ``rows_blank`` itself, so that ``adds_up`` checks
    that every row read ended stored or rejected.
    """

    rows_read: int = 0
    rows_stored: int = 0
    rows_blank: int = 0
    rows_rejected: int = 0
    # code → how many rejected rows carry a reason of that code (a row with two reasons counts under each)
    rejected_by_code: Counter[str] = field(default_factory=Counter)
    sink: RejectedSink[LineT] = field(default_factory=KeptLines)

    def reject(self, lines: Sequence[LineT]) -> None:
        """Count rejected lines (by code too) and give them to the sink."""
        if not lines:
            return
        self.rows_rejected += len(lines)
        by_code = self.rejected_by_code
        for line in lines:
            by_code.update({reason.code for reason in line.reasons})
        self.sink.put(lines)

    @property
    def rejected(self) -> list[LineT]:
        """The rejected lines, when the report keeps them (a streamed report has handed them on)."""
        if not isinstance(self.sink, KeptLines):
            raise TypeError(f"the rejected lines went to {type(self.sink).__name__}, not kept in the report")
        return self.sink.lines

    @property
    def adds_up(self) -> bool:
        return rows_add_up(read=self.rows_read, stored=self.rows_stored, rejected=self.rows_rejected)

    @staticmethod
    def raw_headers(lines: Iterable[RejectedLine]) -> list[str]:
        """The headers of the raw values, in the order the rows first name them."""
        headers: dict[str, None] = {}
        for line in lines:
            headers.update(dict.fromkeys(line.raw))
        return list(headers)


def rejection_rows(lines: Sequence[RejectedLine], raw_headers: Sequence[str]) -> Iterator[list[Any]]:
    """One row per (rejected row, reason), in ``REJECTION_HEADERS`` layout followed by the raw values."""
    for line in lines:
        raw = [str(line.raw.get(h, "")) for h in raw_headers]
        for reason in line.reasons:
            yield [str(line.row), reason.column, reason.code, reason.message_vi, reason.message_en, *raw]


# -- writing ---------------------------------------------------------------------------------------------------


class TableFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class TableTooLong(Refusal, ValueError):
    """More rows than an Excel sheet holds: the file is refused rather than cut short."""

    code = "table_too_long"
    status = 422

    def __init__(self, rows: int | None = None, *, limit: int = EXCEL_MAX_ROWS) -> None:
        shown_vi = f"{rows:,}" if rows is not None else f"hơn {limit - 1:,}"
        shown = f"{rows:,}" if rows is not None else f"more than {limit - 1:,}"
        super().__init__(
            f"Bảng có {shown_vi} dòng, quá {limit - 1:,} dòng một trang Excel chứa được (cùng dòng tiêu đề). "
            "Hãy lọc bớt hoặc xuất dạng CSV.",
            f"The table has {shown} rows, more than the {limit - 1:,} an Excel sheet holds below its header. "
            "Narrow the selection or export as CSV.",
        )

    def __str__(self) -> str:
        return self.bilingual("\n")


class TableWriter(AbstractContextManager["TableWriter"]):
    """A file written as rows come: ``write_table`` for a whole table, this for a table written in parts.

    ``escape=False`` only for files that stand for what a facility sends (the synthetic dose files), never
    for a file that leaves the platform with stored values.
    """

    def __init__(
        self,
        headers: Sequence[str],
        *,
        fmt: str = TableFormat.CSV,
        out: Path | IO[bytes],
        sheet: str = "Sheet",
        escape: bool = True,
        bom: bool = True,
        line_end: str = "\r\n",
        max_rows: int = EXCEL_MAX_ROWS,
        created: dt.datetime | None = None,
    ) -> None:
        self.fmt = TableFormat(fmt)
        self.escape = escape
        self.written = 0
        self._out = out
        self._limit = max_rows - 1  # below the header
        self._opened: IO[Any] | None = None
        if self.fmt is TableFormat.CSV:
            self._start_csv(out, bom=bom, line_end=line_end)
        else:
            self._start_xlsx(sheet, created)
        self.write_header(headers)

    def _start_csv(self, out: Path | IO[bytes], *, bom: bool, line_end: str) -> None:
        text: IO[str]
        if isinstance(out, Path):
            # The BOM by hand: the utf-8-sig codec is pure Python and would triple the time of a large file.
            text = out.open("w", encoding="utf-8", newline="", buffering=_FILE_BUFFER)
            self._opened = text
        else:
            text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        if bom:
            text.write("\ufeff")
        self._text = text
        self._csv = csv.writer(text, lineterminator=line_end)

    def _start_xlsx(self, sheet: str, created: dt.datetime | None) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        self._workbook = Workbook(write_only=True)
        if created is not None:
            # openpyxl stamps the workbook with the time of writing; a fixed stamp makes the content repeatable.
            self._workbook.properties.created = created
            self._workbook.properties.modified = created
        self._sheet = self._workbook.create_sheet(sheet)
        self._cell_type = WriteOnlyCell

    def write_header(self, headers: Sequence[str]) -> None:
        if self.fmt is TableFormat.CSV:
            self._csv.writerow(headers)
        else:
            self._sheet.append(list(headers))

    def cell(self, value: Any, *, number_format: str) -> Any:
        """An .xlsx cell with a number format (a date as a date); a CSV takes the value as it is."""
        if self.fmt is TableFormat.CSV:
            return value
        cell = self._cell_type(self._sheet, value=value)
        cell.number_format = number_format
        return cell

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        """Write rows; returns how many. Refuses (``TableTooLong``) a row past the sheet's limit."""
        before = self.written
        if self.fmt is TableFormat.CSV:
            if self.escape:
                rows = ([cell_safe(v) if isinstance(v, str) else v for v in row] for row in rows)
            if isinstance(rows, Sequence):
                self._csv.writerows(rows)
                self.written += len(rows)
                return len(rows)
            for row in rows:
                self._csv.writerow(row)
                self.written += 1
            return self.written - before
        if isinstance(rows, Sequence) and self.written + len(rows) > self._limit:
            raise TableTooLong(self.written + len(rows), limit=self._limit + 1)
        append = self._sheet.append
        escape = self.escape
        for row in rows:
            if self.written >= self._limit:
                raise TableTooLong(limit=self._limit + 1)
            append([cell_safe(v) if escape and isinstance(v, str) else v for v in row])
            self.written += 1
        return self.written - before

    def write_text(self, text: str) -> None:
        """Rows already formatted as CSV lines (by another process); only a CSV table takes them."""
        if self.fmt is not TableFormat.CSV:
            raise TypeError("only a CSV table takes formatted lines")
        self._text.write(text)

    def add_sheet(self, name: str, rows: Iterable[Sequence[Any]]) -> None:
        """A further sheet of an .xlsx (a guide to fill in the file), escaped like the first."""
        sheet = self._workbook.create_sheet(name)
        for row in rows:
            sheet.append([cell_safe(v) if self.escape and isinstance(v, str) else v for v in row])

    def close(self) -> None:
        if self.fmt is TableFormat.CSV:
            self._text.flush()
            if self._opened is not None:
                self._opened.close()
            elif isinstance(self._text, io.TextIOWrapper):
                self._text.detach()  # the caller keeps its binary file open
            return
        self._workbook.save(self._out)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        elif self._opened is not None:
            self._opened.close()
        elif self.fmt is TableFormat.XLSX:
            self._discard_sheets()

    def _discard_sheets(self) -> None:
        """A refused workbook is never saved: its sheets' temporary files are closed and removed now."""
        for sheet in self._workbook.worksheets:
            rows, writer = getattr(sheet, "_rows", None), getattr(sheet, "_writer", None)
            if rows is not None:
                rows.close()
            if writer is not None:
                writer.close()
                writer.cleanup()


# The media type of each file ``write_table`` writes, for a download's Content-Type.
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def write_table(
    spec_or_headers: TableSpec | Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    fmt: str = TableFormat.CSV,
    out: Path | IO[bytes],
    sheet: str = "Sheet",
    more_sheets: Mapping[str, Iterable[Sequence[Any]]] | None = None,
    **options: Any,
) -> int:
    """Write a table as CSV (UTF-8 with BOM, CRLF) or .xlsx to a path or a binary file; returns the number of
    rows below the header. Text cells that would start a formula are escaped; an .xlsx past Excel's row limit
    is refused with ``TableTooLong`` (a list is refused before anything is written)."""
    headers = spec_or_headers.headers() if isinstance(spec_or_headers, TableSpec) else list(spec_or_headers)
    with TableWriter(headers, fmt=fmt, out=out, sheet=sheet, **options) as writer:
        writer.write(rows)
        for name, extra in (more_sheets or {}).items():
            writer.add_sheet(name, extra)
    return writer.written


def csv_text(rows: Iterable[Sequence[Any]], *, line_end: str = "\r\n") -> str:
    """Rows as CSV lines, without header or escaping, for ``TableWriter.write_text`` (rows formatted in
    another process, as the synthetic generator's workers do)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerows(rows)
    return buffer.getvalue()


def table_bytes(
    spec_or_headers: TableSpec | Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    fmt: str = "csv",
    **options: Any,
) -> bytes:
    """``write_table`` into memory, for a download."""
    buffer = io.BytesIO()
    write_table(spec_or_headers, rows, fmt=fmt, out=buffer, **options)
    return buffer.getvalue()
