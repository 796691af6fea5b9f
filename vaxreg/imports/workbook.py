"""Reading the first sheet of a workbook (.xlsx, or the old .xls) as rows, within caps that keep memory flat.

An .xlsx file is a ZIP of XML parts, and a small file can unpack to a great deal: 613 KB holding one cell of
600 MB, or two cells a million rows and 16,000 columns apart. Libraries that build the sheet in memory
(calamine: the whole sheet, and the whole rectangle between its farthest cells) or each cell whole
(openpyxl) take gigabytes or minutes before anyone can refuse the file. Here:

- before anything is unpacked, the ZIP's directory is checked: each part's declared size against
  ``WorkbookLimits.part_bytes``, all of them together against ``WorkbookLimits.unpacked_bytes``. A part is
  then never read past its declared size, and one that holds more than it declares fails its checksum:
  the file is refused as damaged;
- each XML part is fed to expat a block at a time, and a cell's text is counted as it comes: a cell longer
  than Excel's own limit (32,767 characters) is refused once that much has been read, without ever being
  held whole; so are a row longer than ``WorkbookLimits.row_chars``, a shared-strings table (held in memory
  while the sheet is read) that would take more than ``WorkbookLimits.shared_strings_bytes``, and a row or
  column past Excel's last one;
- a tag, comment or other piece of markup that expat has to hold whole is refused past ``MARKUP_MAX_BYTES``;
  a document type declaration (the way to entity expansion) is refused outright.

A refusal is a ``FileRefused`` whose bilingual message names the sheet, row and column (or the part of the
file) and the limit. Values come as openpyxl gives them: text, ``int``/``float``, ``bool``, and
``datetime``/``time``/``timedelta`` for cells formatted as dates or times.

An .xls (at most 65,536 rows, not compressed) is read by calamine, which holds the sheet and the rectangle
between its farthest cells: a 6 KB file with two cells 65,536 rows and 256 columns apart takes a gigabyte,
and one naming a column past the 256th, far more. It is first read in a forked process whose memory is
capped at ``WorkbookLimits.part_bytes``; then its cells are held to the same limits as an .xlsx's.
"""

import datetime as dt
import faulthandler
import os
import posixpath
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

from django.conf import settings
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel

from vaxreg.core.forking import frozen_for_fork
from vaxreg.imports.readers import CellValue, FileRefused, SourceRow, vi_number

CELL_MAX_CHARS = 32_767  # Excel's own limit for the text of a cell
SHEET_MAX_ROWS = 1_048_576  # Excel's last row
SHEET_MAX_COLUMNS = 16_384  # Excel's last column, XFD
# A tag with its attributes (or a comment) reaches the parser's handlers only once it is complete, so expat
# holds it whole until then; the longest real ones (a root element declaring its namespaces) are a few KB.
MARKUP_MAX_BYTES = 1 << 20
# The ZIP directory is read into memory whole (one object per part); a real workbook's takes a few KB.
DIRECTORY_MAX_BYTES = 4 << 20
READ_BYTES = 1 << 16  # unpacked bytes given to the parser at a time
TEXT_BUFFER_BYTES = 8192  # expat gathers short pieces of text up to this much before handing them over
# What one entry of the shared-strings table takes in memory, roughly: a Python string and its place in
# the list, two bytes a character (Vietnamese text needs two).
ENTRY_BYTES, ENTRY_CHAR_BYTES = 80, 2

# Number formats that Excel shows as dates or times without writing their code into the file (14–22 and
# 45–47 everywhere, 27–36 and 50–58 in East Asian locales).
_BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_RELATIONSHIP_ID = "http://schemas.openxmlformats.org/officeDocument/2006/relationships id"


@dataclass(frozen=True)
class WorkbookLimits:
    unpacked_bytes: int  # all the parts of a workbook together, unpacked
    part_bytes: int  # one part (a sheet, the shared strings), unpacked
    row_chars: int  # the text of all the cells of one row
    shared_strings_bytes: int  # memory the shared-strings table may take (it is held while the sheet is read)

    @classmethod
    def configured(cls) -> "WorkbookLimits":
        return cls(
            unpacked_bytes=settings.VAXREG_IMPORT_MAX_UNPACKED_BYTES,
            part_bytes=settings.VAXREG_IMPORT_MAX_PART_BYTES,
            row_chars=settings.VAXREG_IMPORT_MAX_ROW_CHARS,
            shared_strings_bytes=settings.VAXREG_IMPORT_MAX_SHARED_STRINGS_BYTES,
        )


def _size(count: int) -> str:
    return f"{count / (1 << 20):,.0f} MB" if count >= 1 << 20 else f"{count:,} bytes"


def _size_vi(count: int) -> str:
    return f"{vi_number(round(count / (1 << 20)))} MB" if count >= 1 << 20 else f"{vi_number(count)} byte"


def column_letters(index: int) -> str:
    """The letters of the 0-based column ``index`` (0 → A, 26 → AA)."""
    return get_column_letter(index + 1)


def _damaged(part: str, detail: str) -> FileRefused:
    return FileRefused(
        "FILE_DAMAGED",
        f"Bảng tính bị hỏng: phần {part} của tệp không đọc được ({detail}). Hãy mở tệp bằng Excel, lưu lại "
        "thành .xlsx rồi gửi lại.",
        f"The workbook is damaged: its part {part} cannot be read ({detail}). Open the file in Excel, save it "
        "again as .xlsx and send it again.",
    )


class _Archive:
    """The workbook's ZIP, its directory checked against the limits before any part is unpacked."""

    def __init__(self, path: Path, limits: WorkbookLimits) -> None:
        self._refuse_large_directory(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise FileRefused(
                "FILE_NOT_SPREADSHEET",
                f"Tệp là một tệp nén ZIP nhưng không phải bảng tính Excel đọc được ({exc}).",
                f"The file is a ZIP archive but not a readable Excel workbook ({exc}).",
            ) from exc
        # Part names are case-insensitive in a workbook (Open Packaging Conventions), not in a ZIP.
        self.parts = {info.filename.lower(): info for info in self.zip.infolist()}
        total = 0
        for info in self.zip.infolist():
            total += info.file_size
            if info.file_size > limits.part_bytes:
                raise FileRefused(
                    "FILE_TOO_LARGE",
                    f"Phần {info.filename} của bảng tính khai báo {_size_vi(info.file_size)} khi giải nén, quá giới hạn "
                    f"{_size_vi(limits.part_bytes)} cho một phần; tệp không được đọc.",
                    f"The part {info.filename} of the workbook declares {_size(info.file_size)} unpacked, over the "
                    f"limit of {_size(limits.part_bytes)} for one part; the file was not read.",
                )
        if total > limits.unpacked_bytes:
            raise FileRefused(
                "FILE_TOO_LARGE",
                f"Bảng tính khai báo {_size_vi(total)} khi giải nén, quá giới hạn {_size_vi(limits.unpacked_bytes)}; "
                "tệp không được đọc. Hãy chia tệp thành nhiều tệp nhỏ hơn.",
                f"The workbook declares {_size(total)} unpacked, over the limit of {_size(limits.unpacked_bytes)}; "
                "the file was not read. Split it into smaller files.",
            )

    @staticmethod
    def _refuse_large_directory(path: Path) -> None:
        """Refuse a ZIP whose directory, which ``zipfile`` reads whole, is larger than a workbook's can be.
        The end record (at most 64 KB from the end) gives the directory's size, or sends to the ZIP64 one."""
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(handle.tell() - (1 << 16) - 22, 0))
            tail = handle.read()
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or len(tail) < end + 22:
            return  # zipfile gives the reason
        declared = int.from_bytes(tail[end + 12 : end + 16], "little")
        if (
            declared == 0xFFFFFFFF or tail[end + 10 : end + 12] == b"\xff\xff"
        ):  # the ZIP64 end record has them
            record = tail.rfind(b"PK\x06\x06", 0, end)
            if record < 0 or len(tail) < record + 56:
                return
            declared = int.from_bytes(tail[record + 40 : record + 48], "little")
        if declared > DIRECTORY_MAX_BYTES:
            raise FileRefused(
                "FILE_TOO_LARGE",
                "Tệp nén có danh mục quá lớn so với một bảng tính (quá nhiều phần); tệp không được đọc.",
                "The ZIP's directory is far larger than a workbook's (too many parts); the file was not read.",
            )

    def info(self, name: str) -> zipfile.ZipInfo | None:
        return self.parts.get(name.lstrip("/").lower())

    def feed(self, name: str, parser: Any) -> Iterator[None]:
        """Give the part to ``parser`` a block at a time, yielding after each block; a part that is missing,
        damaged, larger than it declares or not well-formed XML is refused."""
        info = self.info(name)
        if info is None:
            raise _damaged(name, "missing / không có")
        parser.StartDoctypeDeclHandler = _refuse_doctype(name)
        fed = 0
        try:
            with self.zip.open(info) as stream:
                while block := stream.read(READ_BYTES):
                    parser.Parse(block, False)
                    fed += len(block)
                    if fed - parser.CurrentByteIndex > MARKUP_MAX_BYTES:
                        raise FileRefused(
                            "FILE_DAMAGED",
                            f"Phần {info.filename} của bảng tính có một thẻ dài hơn {_size_vi(MARKUP_MAX_BYTES)}; "
                            "một bảng tính thật không có thẻ như vậy.",
                            f"The part {info.filename} of the workbook holds a tag longer than "
                            f"{_size(MARKUP_MAX_BYTES)}; no real workbook has one.",
                        )
                    yield
                parser.Parse(b"", True)
            yield
        except (
            zipfile.BadZipFile
        ) as exc:  # the checksum of what was unpacked up to the declared size is wrong
            raise FileRefused(
                "FILE_DAMAGED",
                f"Bảng tính bị hỏng: phần {info.filename} không khớp với kích thước và mã kiểm tra mà tệp khai báo "
                "cho nó (tệp hỏng, hoặc chứa nhiều hơn nó khai báo); tệp không được đọc.",
                f"The workbook is damaged: its part {info.filename} does not match the size and checksum the file "
                "declares for it (damaged, or holding more than it declares); the file was not read.",
            ) from exc
        except (zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise _damaged(info.filename, str(exc)) from exc
        except expat.ExpatError as exc:
            raise _damaged(info.filename, f"XML: {expat.ErrorString(exc.code)}, line {exc.lineno}") from exc

    def read(self, name: str, parser: Any) -> None:
        for _ in self.feed(name, parser):
            pass

    def close(self) -> None:
        self.zip.close()


def _refuse_doctype(part: str) -> Callable[..., None]:
    def refuse(*args: Any) -> None:
        raise FileRefused(
            "FILE_DAMAGED",
            f"Phần {part} của bảng tính có khai báo DOCTYPE; một bảng tính Excel không bao giờ có.",
            f"The part {part} of the workbook holds a DOCTYPE declaration, which no Excel workbook has.",
        )

    return refuse


def _parser(*, namespaces: bool = False) -> Any:
    parser = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = TEXT_BUFFER_BYTES
    return parser


def _local(name: str) -> str:
    """An element's name without its namespace prefix (``x:row`` → ``row``)."""
    return name.rpartition(":")[2]


def _relationships(archive: _Archive, source: str) -> dict[str, tuple[str, str]]:
    """The relationships of the part ``source``: id → (type, part name)."""
    folder, name = posixpath.split(source)
    found: dict[str, tuple[str, str]] = {}

    def start(element: str, attrs: dict[str, str]) -> None:
        if _local(element) == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(folder, target))
            )
            found[attrs.get("Id", "")] = (attrs.get("Type", ""), path)

    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    if archive.info(rels) is not None:
        parser = _parser()
        parser.StartElementHandler = start
        archive.read(rels, parser)
    return found


@dataclass
class _Book:
    sheet_name: str
    sheet_part: str
    date1904: bool
    shared_strings_part: str | None
    styles_part: str | None


def _book(archive: _Archive) -> _Book:
    document = next((path for kind, path in _relationships(archive, "").values() if kind == _DOCUMENT), None)
    if document is None or archive.info(document) is None or not document.lower().endswith(".xml"):
        raise FileRefused(
            "FILE_NOT_SPREADSHEET",
            "Tệp là một tệp nén ZIP nhưng không phải bảng tính .xlsx (có thể là .ods hoặc .xlsb): hãy mở bằng "
            "Excel hoặc LibreOffice và lưu thành .xlsx.",
            "The file is a ZIP archive but not an .xlsx workbook (perhaps .ods or .xlsb): open it in Excel or "
            "LibreOffice and save it as .xlsx.",
        )
    sheets: list[tuple[str, str]] = []
    date1904 = [False]

    def start(element: str, attrs: dict[str, str]) -> None:
        local = element.rpartition(" ")[2]
        if local == "sheet":
            sheets.append((attrs.get("name", ""), attrs.get(_RELATIONSHIP_ID, "")))
        elif local == "workbookPr":
            date1904[0] = attrs.get("date1904", "0").lower() in ("1", "true")

    parser = _parser(namespaces=True)
    parser.StartElementHandler = start
    archive.read(document, parser)
    related = _relationships(archive, document)
    by_type = {kind.rpartition("/")[2]: path for kind, path in related.values()}
    if not sheets or sheets[0][1] not in related or archive.info(related[sheets[0][1]][1]) is None:
        raise _damaged(document, "no first sheet / không có trang tính đầu")
    return _Book(
        sheet_name=sheets[0][0],
        sheet_part=related[sheets[0][1]][1],
        date1904=date1904[0],
        shared_strings_part=by_type.get("sharedStrings"),
        styles_part=by_type.get("styles"),
    )


def _date_styles(archive: _Archive, part: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """The cell styles (as the ``s`` attribute writes them) whose number format is a date or time, and
    those among them that are durations (``[h]:mm``)."""
    if part is None or archive.info(part) is None:
        return frozenset(), frozenset()
    formats: dict[int, str] = {}
    styles: list[int] = []
    inside = [""]

    def start(element: str, attrs: dict[str, str]) -> None:
        local = _local(element)
        if local == "numFmt":
            formats[int(attrs.get("numFmtId", "0") or 0)] = attrs.get("formatCode", "")
        elif local in ("cellXfs", "cellStyleXfs"):
            inside[0] = local
        elif local == "xf" and inside[0] == "cellXfs":
            if len(styles) >= SHEET_MAX_COLUMNS * 4:  # Excel allows 64,000 styles
                raise _damaged(part, "too many cell styles / quá nhiều kiểu ô")
            styles.append(int(attrs.get("numFmtId", "0") or 0))

    def end(element: str) -> None:
        if _local(element) in ("cellXfs", "cellStyleXfs"):
            inside[0] = ""

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        archive.read(part, parser)
    except ValueError as exc:
        raise _damaged(part, str(exc)) from exc
    dates: set[str] = set()
    durations: set[str] = set()
    for index, format_id in enumerate(styles):
        code = formats.get(format_id, BUILTIN_FORMATS.get(format_id))
        if format_id in _BUILTIN_DATE_FORMATS or is_date_format(code):
            dates.add(str(index))
            if is_timedelta_format(code):
                durations.add(str(index))
    return frozenset(dates), frozenset(durations)


class _SharedStringTooLong(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


def _shared_strings(archive: _Archive, part: str | None, limits: WorkbookLimits) -> list[str]:
    """The shared-strings table (the text of most cells Excel writes), each entry checked as it is read: one
    longer than a cell may be stops the reading (``_SharedStringTooLong``)."""
    if part is None or archive.info(part) is None:
        return []
    strings: list[str] = []
    text: list[str] = []
    length = held = 0
    state = {"taking": False, "phonetic": False}

    def start(element: str, attrs: dict[str, str]) -> None:
        nonlocal length
        local = _local(element)
        if local == "t":
            state["taking"] = not state["phonetic"]
        elif local == "si":
            text.clear()
            length = 0
        elif local == "rPh":  # a phonetic guide above the text, not part of it
            state["phonetic"] = True

    def end(element: str) -> None:
        nonlocal held
        local = _local(element)
        if local == "t":
            state["taking"] = False
        elif local == "si":
            held += ENTRY_BYTES + ENTRY_CHAR_BYTES * length
            if held > limits.shared_strings_bytes:
                raise FileRefused(
                    "FILE_TOO_LARGE",
                    f"Bảng chuỗi dùng chung của bảng tính ({part}) cần hơn {_size_vi(limits.shared_strings_bytes)} "
                    f"bộ nhớ khi đọc ({vi_number(len(strings))} chuỗi đầu tiên), quá giới hạn; tệp không được "
                    "đọc. Hãy chia tệp thành nhiều tệp nhỏ hơn.",
                    f"The workbook's shared-strings table ({part}) needs more than "
                    f"{_size(limits.shared_strings_bytes)} of memory to read (its first {len(strings):,} entries), "
                    "over the limit; the file was not read. Split it into smaller files.",
                )
            strings.append("".join(text))
        elif local == "rPh":
            state["phonetic"] = False

    def characters(data: str) -> None:
        nonlocal length
        if state["taking"]:
            length += len(data)
            if length > CELL_MAX_CHARS:
                raise _SharedStringTooLong(len(strings))
            text.append(data)

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    archive.read(part, parser)
    return strings


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # not a number after all: kept as written


def _shared_string_cell(archive: _Archive, part: str, index: int) -> tuple[int, int] | None:
    """Where the sheet first shows the shared string ``index``, as (row, 0-based column); None if nowhere.
    Only looks: the text is not taken (a few characters of each value at most)."""
    wanted = str(index)
    row, column = 0, -1
    shared = taking = False
    value: list[str] = []

    def start(element: str, attrs: dict[str, str]) -> None:
        nonlocal row, column, shared, taking
        name = _local(element)
        if name == "c":
            letters = attrs.get("r", "").rstrip("0123456789")
            named = 0 < len(letters) <= 3 and letters.isascii() and letters.isalpha()
            column = column_index_from_string(letters) - 1 if named else column + 1
            shared = attrs.get("t") == "s"
            value.clear()
        elif name == "v":
            taking = shared
        elif name == "row":
            number = attrs.get("r", "")
            row = int(number) if number.isascii() and number.isdigit() else row + 1
            column = -1

    def end(element: str) -> None:
        nonlocal taking
        name = _local(element)
        if name == "v":
            taking = False
        elif name == "c" and shared and "".join(value).strip() == wanted:
            raise _Found

    def characters(data: str) -> None:
        if taking and len(value) < 4:
            value.append(data[:24])

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        archive.read(part, parser)
    except _Found:
        return row, column
    return None


class _Found(Exception):
    pass


def _cell_too_long(sheet: str, row: int, column: int) -> FileRefused:
    return FileRefused(
        "CELL_TOO_LONG",
        f"{_where_vi(sheet, row, column)}: ô dài hơn {vi_number(CELL_MAX_CHARS)} ký tự, giới hạn của chính Excel; "
        "tệp không được đọc.",
        f"{_where_en(sheet, row, column)}: the cell holds more than {CELL_MAX_CHARS:,} characters, Excel's own "
        "limit; the file was not read.",
    )


def _row_too_long(sheet: str, row: int, row_chars: int) -> FileRefused:
    return FileRefused(
        "ROW_TOO_LONG",
        f"Trang tính “{sheet}”, dòng {row}: các ô của dòng dài hơn {vi_number(row_chars)} ký tự cộng lại; tệp "
        "không được đọc.",
        f"Sheet “{sheet}”, row {row}: the row's cells hold more than {row_chars:,} characters together; the file "
        "was not read.",
    )


def _where_vi(sheet: str, row: int, column: int) -> str:
    return f"Trang tính “{sheet}”, ô {column_letters(column)}{row} (dòng {row}, cột {column_letters(column)})"


def _where_en(sheet: str, row: int, column: int) -> str:
    return f"Sheet “{sheet}”, cell {column_letters(column)}{row} (row {row}, column {column_letters(column)})"


def _sheet_rows(  # noqa: C901 — expat handlers on the import's hot path keep their state in closure variables (speed)
    archive: _Archive,
    part: str,
    book: _Book,
    strings: list[str],
    styles: tuple[frozenset[str], frozenset[str]],
    limits: WorkbookLimits,
) -> Iterator[SourceRow]:
    """The rows of one sheet, parsed by expat a block of XML at a time (see the module's docstring).

    The handlers are the hot path (every cell of a million-row file passes through three to six calls), so
    their state lives in the closure's variables and element names are compared as the document writes them.
    """
    sheet = book.sheet_name
    epoch = MAC_EPOCH if book.date1904 else WINDOWS_EPOCH
    dates, durations = styles
    row_chars_max = limits.row_chars
    # The rows read from the last block; a range stands for empty rows, which Excel leaves out of the file.
    done: list[SourceRow | range] = []
    columns: dict[str, int] = {}  # a column's letters → its index, worked out once per column
    row_number = row_chars = 0
    column = -1
    values: list[CellValue] = []
    kind = style = ""
    text: list[str] = []  # the pieces of the current cell's text, as expat hands them over
    taking = phonetic = False
    serials: dict[
        int, CellValue
    ] = {}  # a whole serial number → its date (the same dates come again and again)
    # Element names, with the document's prefix if it has one.
    cell = value_tag = text_tag = row_tag = phonetic_tag = ""

    def first(element: str, attrs: dict[str, str]) -> None:
        nonlocal cell, value_tag, text_tag, row_tag, phonetic_tag
        prefix = element[: element.find(":") + 1]  # ``x:`` when the document writes ``<x:worksheet>``
        cell, value_tag, text_tag, row_tag, phonetic_tag = (
            prefix + name for name in ("c", "v", "t", "row", "rPh")
        )
        parser.StartElementHandler = start

    def start(element: str, attrs: dict[str, str]) -> None:
        nonlocal column, kind, style, taking, phonetic, row_number, values, row_chars
        if element == cell:
            reference = attrs.get("r")
            if reference:
                letters = reference.rstrip("0123456789")
                found = columns.get(letters)
                column = found if found is not None else new_column(letters, reference)
            else:
                column += 1
                if column >= SHEET_MAX_COLUMNS:
                    raise column_refused(column)
            kind = attrs.get("t", "n")
            style = attrs.get("s", "")
        elif element == value_tag:
            taking = True
        elif element == text_tag:
            taking = not phonetic
        elif element == row_tag:
            number = attrs.get("r")
            previous = row_number
            row_number = int(number) if number and number.isascii() and number.isdigit() else previous + 1
            if row_number > SHEET_MAX_ROWS:
                raise FileRefused(
                    "FILE_TOO_LARGE",
                    f"Trang tính “{sheet}” có dòng {vi_number(row_number)}, quá dòng cuối cùng Excel cho phép "
                    f"({vi_number(SHEET_MAX_ROWS)}); tệp không được đọc.",
                    f"Sheet “{sheet}” has a row {row_number:,}, past the last row Excel allows ({SHEET_MAX_ROWS:,}); "
                    "the file was not read.",
                )
            if previous and previous + 1 < row_number:  # empty rows, which Excel leaves out of the file
                done.append(range(previous + 1, row_number))
            values = []
            row_chars = 0
            column = -1
        elif element == phonetic_tag:  # a phonetic guide above the text, not part of it
            phonetic = True

    def new_column(letters: str, reference: str) -> int:
        if not letters or len(letters) > 3 or not letters.isascii() or not letters.isalpha():
            raise FileRefused(
                "FILE_DAMAGED",
                f"Trang tính “{sheet}”, dòng {row_number}: địa chỉ ô “{reference[:20]}” không hợp lệ.",
                f"Sheet “{sheet}”, row {row_number}: the cell reference “{reference[:20]}” is not valid.",
            )
        index = column_index_from_string(letters) - 1
        if index >= SHEET_MAX_COLUMNS:
            raise column_refused(index)
        columns[letters] = index
        return index

    def column_refused(index: int) -> FileRefused:
        last = column_letters(SHEET_MAX_COLUMNS - 1)
        return FileRefused(
            "FILE_TOO_LARGE",
            f"Trang tính “{sheet}”, dòng {row_number}: có ô ở cột {column_letters(index)}, quá cột cuối cùng Excel "
            f"cho phép ({last}); tệp không được đọc.",
            f"Sheet “{sheet}”, row {row_number}: a cell in column {column_letters(index)}, past the last column "
            f"Excel allows ({last}); the file was not read.",
        )

    def characters(data: str) -> None:
        if taking:
            text.append(data)
            # A cell's text comes in one piece (of at most a block) unless it is long or crosses a block.
            if len(data) > CELL_MAX_CHARS or (len(text) > 1 and sum(map(len, text)) > CELL_MAX_CHARS):
                raise _cell_too_long(sheet, row_number, column)

    def end(element: str) -> None:  # noqa: C901 — expat's end-element handler, run for every cell of a million-row file: each call split out costs speed
        nonlocal taking, phonetic, row_chars
        if element == cell:
            value: CellValue
            if not text:
                value = "" if kind == "inlineStr" else None
            else:
                written = text[0] if len(text) == 1 else "".join(text)
                text.clear()
                if kind == "n":
                    value = _number(written)
                    if style in dates and type(value) is not str:
                        value = date(value, style in durations)  # type: ignore[arg-type]
                elif kind == "s":
                    value = shared(written)
                elif kind == "b":
                    value = written.strip() in ("1", "true")
                elif kind == "d":
                    try:
                        value = dt.datetime.fromisoformat(written)
                    except ValueError:
                        value = written
                else:  # inlineStr, str (a formula's text), e (an error such as #N/A)
                    value = written
                if type(value) is str:
                    row_chars += len(value)
                    if row_chars > row_chars_max:
                        raise _row_too_long(sheet, row_number, row_chars_max)
            if column == len(values):
                values.append(value)
            elif column > len(values):
                values.extend([None] * (column - len(values)))
                values.append(value)
            else:
                values[column] = value
        elif element in (value_tag, text_tag):
            taking = False
        elif element == row_tag:
            done.append(SourceRow(row_number, values))
        elif element == phonetic_tag:
            phonetic = False

    def date(serial: float, duration: bool) -> CellValue:
        if type(serial) is int and not duration:
            found = serials.get(serial)
            if found is None:
                if len(serials) > 100_000:
                    serials.clear()
                found = serials[serial] = date_from_serial(serial, duration)
            return found
        return date_from_serial(serial, duration)

    def date_from_serial(serial: float, duration: bool) -> CellValue:
        try:
            return from_excel(serial, epoch, timedelta=duration)  # type: ignore[no-any-return]
        except (OverflowError, ValueError):
            return serial  # not a date Python can hold: the number stays, and the date check says why

    def shared(written: str) -> str:
        try:
            return strings[int(written)]
        except (ValueError, IndexError):
            raise FileRefused(
                "FILE_DAMAGED",
                f"{_where_vi(sheet, row_number, column)}: ô trỏ tới chuỗi dùng chung “{written[:20]}” không có "
                "trong tệp (tệp hỏng).",
                f"{_where_en(sheet, row_number, column)}: the cell points to a shared string “{written[:20]}” "
                "the file does not hold (the file is damaged).",
            ) from None

    parser = _parser()
    parser.StartElementHandler = first
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    for _ in archive.feed(part, parser):
        for item in done:
            if type(item) is range:
                yield from (SourceRow(number, []) for number in item)
            else:
                yield item  # type: ignore[misc]
        done.clear()


def _shared_string_too_long(archive: _Archive, book: _Book, index: int) -> FileRefused:
    """An entry of the shared-strings table is too long: the refusal names the first cell showing it, found
    without reading the table further."""
    where = _shared_string_cell(archive, book.sheet_part, index)
    if where is not None:
        return _cell_too_long(book.sheet_name, *where)
    part, entry = book.shared_strings_part, index + 1
    return FileRefused(
        "CELL_TOO_LONG",
        f"Bảng chuỗi dùng chung của bảng tính ({part}), chuỗi thứ {vi_number(entry)}: dài hơn "
        f"{vi_number(CELL_MAX_CHARS)} ký tự, giới hạn của chính Excel cho một ô; tệp không được đọc.",
        f"The workbook's shared-strings table ({part}), entry {entry:,}: longer than {CELL_MAX_CHARS:,} "
        "characters, Excel's own limit for a cell; the file was not read.",
    )


def _xls_fits(path: Path, memory_bytes: int) -> bool | None:
    """Whether calamine reads the .xls's first sheet with at most ``memory_bytes`` more memory, tried in a
    forked process; None when it cannot read it at all (the caller then says why)."""
    if not hasattr(os, "fork"):
        return True
    import resource

    from python_calamine import CalamineWorkbook

    with frozen_for_fork():
        pid = os.fork()
    if pid == 0:  # the trial: it only ever leaves through os._exit, touching nothing of its parent's
        code = 0
        try:
            faulthandler.disable()  # an abort is the expected way out; nobody needs its traceback or message
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            with open("/proc/self/statm") as statm:
                mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            resource.setrlimit(
                resource.RLIMIT_AS, (mapped + memory_bytes, resource.getrlimit(resource.RLIMIT_AS)[1])
            )
            CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        except MemoryError:
            code = 3
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return None if code == 2 else code == 0  # a signal: calamine aborts when an allocation fails


def xls_rows(path: Path, limits: WorkbookLimits) -> Iterator[SourceRow]:
    """The rows of an .xls workbook's first sheet (see the module's docstring)."""
    from python_calamine import CalamineWorkbook

    if _xls_fits(path, limits.part_bytes) is False:
        raise FileRefused(
            "FILE_TOO_LARGE",
            f"Bảng tính .xls cần hơn {_size_vi(limits.part_bytes)} bộ nhớ để đọc (có ô nằm quá xa nhau); tệp không "
            "được đọc. Hãy mở tệp bằng Excel, lưu lại thành .xlsx rồi gửi lại.",
            f"The .xls workbook needs more than {_size(limits.part_bytes)} of memory to read (it has cells far "
            "apart); the file was not read. Open it in Excel, save it as .xlsx and send it again.",
        )
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        rows = sheet.iter_rows()
        name = sheet.name
    except Exception as exc:  # calamine raises several error types for damaged or foreign files
        raise FileRefused(
            "FILE_NOT_SPREADSHEET",
            f"Tệp là một tệp nén OLE2 nhưng không phải bảng tính Excel đọc được ({exc}).",
            f"The file is an OLE2 archive but not a readable Excel workbook ({exc}).",
        ) from exc
    for number, values in enumerate(rows, start=1):
        texts = [len(value) for value in values if type(value) is str]
        if texts and (max(texts) > CELL_MAX_CHARS or sum(texts) > limits.row_chars):
            for column, value in enumerate(values):
                if type(value) is str and len(value) > CELL_MAX_CHARS:
                    raise _cell_too_long(name, number, column)
            raise _row_too_long(name, number, limits.row_chars)
        yield SourceRow(number=number, values=list(values))  # type: ignore[arg-type]  # timedelta: read as text


def xlsx_rows(path: Path, limits: WorkbookLimits) -> Iterator[SourceRow]:
    """The rows of the workbook's first sheet, numbered as Excel shows them (see the module's docstring)."""
    archive = _Archive(path, limits)
    try:
        book = _book(archive)
        try:
            strings = _shared_strings(archive, book.shared_strings_part, limits)
        except _SharedStringTooLong as long:
            raise _shared_string_too_long(archive, book, long.index) from None
        styles = _date_styles(archive, book.styles_part)
        yield from _sheet_rows(archive, book.sheet_part, book, strings, styles, limits)
    finally:
        archive.close()
