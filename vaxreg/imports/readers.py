"""Reading dose files: CSV in the encodings and separators facilities really send, and Excel workbooks.

A reader yields ``SourceRow``s one at a time so that memory stays flat whatever the file size. The
format is decided by the content, never by the file name: a ``.csv`` that is really a ZIP is refused
with a message that says so.
"""

import codecs
import csv
import datetime as dt
import functools
import io
import itertools
import unicodedata
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from django.conf import settings

from vaxreg.core.refusals import Refusal
from vaxreg.imports.headers import HeaderMatch, match_headers

MAX_FIELD_CHARS = 1_000_000
KEPT_CELL_CHARS = 2_000  # a rejected row keeps this much of each cell; enough to correct and resend
KEPT_CELLS = 60
HEADER_SEARCH_ROWS = 20
SAMPLE_BYTES = 256 * 1024

csv.field_size_limit(MAX_FIELD_CHARS)

CellValue = str | float | int | bool | dt.date | dt.datetime | dt.time | None


class FileRefused(Refusal):
    """The whole file cannot be read as a dose list; nothing of it is stored."""

    status = 422

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(message_vi, message_en, code=code)


class SourceRow(NamedTuple):
    """One row of a file (a tuple: a reader makes a million of them)."""

    number: int  # 1-based row of the file as a spreadsheet shows it (the header row included)
    values: list[CellValue]
    error: str = ""  # set when the line itself could not be read


_as_source_row = functools.partial(tuple.__new__, SourceRow)  # (number, values, error) → SourceRow, in C


@dataclass
class FileLayout:
    kind: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""
    header_row: int = 1
    headers: HeaderMatch = field(default_factory=lambda: match_headers([]))


def raw_cells(values: list[CellValue], headers: list[str]) -> dict[str, str]:
    """The raw values of a row as text, keyed by header, bounded in size, for the rejected-rows report."""
    kept: dict[str, str] = {}
    for index, value in enumerate(values[:KEPT_CELLS]):
        name = headers[index] if index < len(headers) and headers[index] else f"column {index + 1}"
        if name in kept:
            name = f"{name} ({index + 1})"
        text = (
            ""
            if value is None
            else (value.isoformat() if isinstance(value, dt.date | dt.time) else str(value))
        )
        kept[name] = text if len(text) <= KEPT_CELL_CHARS else text[:KEPT_CELL_CHARS] + "…"
    return kept


def _sniff_kind(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    return "text"


# Bytes that, in Windows-1258, are Vietnamese letters or combining tone marks; in CP1252 they are rare.
_CP1258_MARKERS = frozenset(b"\xc3\xe3\xd0\xf0\xd5\xf5\xdd\xfd\xcc\xec\xd2\xde\xf2")


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) == 0:
        return "utf-16-le"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    high = [b for b in sample if b >= 0x80]
    markers = sum(1 for b in high if b in _CP1258_MARKERS)
    return "cp1258" if high and markers * 3 >= len(high) else "cp1252"


def _composed(cells: list[str]) -> list[str]:
    return [unicodedata.normalize("NFC", c) for c in cells]


def vi_number(count: int) -> str:
    """A whole number as Vietnamese writes it (1.000.000)."""
    return f"{count:,}".replace(",", ".")


def _line_too_long(number: int, longest: int) -> FileRefused:
    return FileRefused(
        "LINE_TOO_LONG",
        f"Dòng {vi_number(number)} của tệp dài hơn {vi_number(longest)} ký tự; một dòng của danh sách mũi tiêm "
        "không bao giờ dài như vậy (tệp hỏng, hoặc không phải tệp CSV). Tệp không được đọc.",
        f"Line {number:,} of the file is longer than {longest:,} characters; no line of a dose list is that long "
        "(the file is damaged, or not a CSV file). The file was not read.",
    )


def _scan_bytes(path: Path, longest: int) -> bool:
    """Whether the file holds a zero byte; a line longer than ``longest`` characters (more than 4 bytes each,
    the most UTF-8 takes) is refused here, before the text reader would have to hold it whole.

    A block shorter than that can hold no such line whole: only the lines a block starts and ends in are
    measured, with a few searches in C per block."""
    holds_zero = False
    most_bytes = 4 * longest
    block_bytes = min(1 << 20, most_bytes)
    number, run = 1, 0  # the line the block starts in, and its bytes before the block
    with path.open("rb") as handle:
        while block := handle.read(block_bytes):
            holds_zero = holds_zero or b"\x00" in block
            ends = block.count(b"\n") or block.count(b"\r")  # a Mac file ends its lines with CR alone
            if not ends:
                run += len(block)
            else:
                first = min(at for at in (block.find(b"\n"), block.find(b"\r")) if at >= 0)
                if run + first > most_bytes:
                    raise _line_too_long(number, longest)
                number += ends
                run = len(block) - max(block.rfind(b"\n"), block.rfind(b"\r")) - 1
            if run > most_bytes:
                raise _line_too_long(number, longest)
    return holds_zero


def _bounded_lines(text: IO[str], longest: int) -> Iterator[str]:
    """The lines of ``text``; a line longer than ``longest`` characters is refused before it is read whole.
    For UTF-16, whose line ends ``_scan_bytes`` cannot find among the bytes."""
    for number, line in enumerate(iter(functools.partial(text.readline, longest + 1), ""), start=1):
        if len(line) > longest:
            raise _line_too_long(number, longest)
        yield line


def detect_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _find_header(rows: list[SourceRow]) -> tuple[int, HeaderMatch]:
    """The header is the first row naming at least three template columns (files often start with a title)."""
    first_nonblank: tuple[int, HeaderMatch] | None = None
    for position, row in enumerate(rows):
        texts = ["" if v is None else str(v) for v in row.values]
        if not any(t.strip() for t in texts):
            continue
        matched = match_headers(texts)
        if first_nonblank is None:
            first_nonblank = (position, matched)
        if len(matched.positions) >= 3:
            return position, matched
    if first_nonblank is None:
        raise FileRefused("FILE_EMPTY", "Tệp không có dữ liệu.", "The file holds no data.")
    return first_nonblank


# Whether a record spanning several lines is really several rows joined by a stray quote mark: called with
# the record's cells and the cells of each of its lines read on its own.
JoinedLinesTest = Callable[[list[CellValue], list[list[CellValue]]], bool]
READ_BLOCK = 512  # records read at a time; a block whose records span more lines is looked at closer


def _records_with_lines(lines: list[str], delimiter: str) -> list[tuple[list[str], list[str]]]:
    """Each record of ``lines`` with the lines it was read from; a line the parser cannot read ends the list, as
    an empty record with the lines the parser took before it gave up (a block of records ends at such a line)."""
    parser = csv.reader(lines, delimiter=delimiter)
    records = []
    done = 0
    try:
        for record in parser:
            records.append((record, lines[done : parser.line_num]))
            done = parser.line_num
    except csv.Error:
        records.append(([], lines[done : parser.line_num]))
    return records


def _line_cells(line: str, delimiter: str) -> list[str]:
    """The cells of one line read on its own (a quote mark it leaves open closes at its end)."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return [line]


def _split_joined_records(
    block: list[SourceRow],
    lines: list[str],
    delimiter: str,
    compose: bool,
    joined: JoinedLinesTest,
    after_row: int,
) -> list[SourceRow]:
    """The block's records, with each that ``joined`` finds to be several rows replaced by them, numbered on.

    A quote mark opening a cell makes the CSV rules read on, over line ends, to the next quote mark: a stray
    one (a lot number typed as ``"FF2411``) joins the rows after it to its own, and they would be lost in one
    cell (or, past ``MAX_FIELD_CHARS``, in a line the parser cannot read). A record that spans lines is read
    again line by line, and ``joined`` decides which reading is right. The rows after a split record are
    numbered as the file reads without the stray quote mark.
    """
    records = _records_with_lines(lines, delimiter)
    if len(records) != len(block):  # not read the same way twice: the block is left as it was read
        return block
    rows: list[SourceRow] = []
    number = block[0].number
    for (record, record_lines), row in zip(records, block, strict=True):
        parts = [_line_cells(line, delimiter) for line in record_lines] if len(record_lines) > 1 else []
        if compose:
            record, parts = _composed(record), [_composed(part) for part in parts]
        if parts and row.number > after_row and joined(record, parts):  # type: ignore[arg-type]
            rows.extend(SourceRow(number + i, part) for i, part in enumerate(parts))  # type: ignore[arg-type]
            number += len(parts)
        else:
            rows.append(row._replace(number=number))
            number += 1
    return rows


class DoseFile:
    """An opened dose file: its layout (format, encoding, header) and an iterator over its data rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._marks_nul: bool | None = None  # whether lines are searched for NUL (the file is scanned once)
        with path.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
        kind = _sniff_kind(head)
        if kind == "text":
            self.layout = FileLayout(kind="csv", encoding=detect_encoding(head))
            self._rows: Iterator[SourceRow] = self._csv_rows()
        else:
            self.layout = FileLayout(kind="xlsx")
            self._rows = self._excel_rows(kind)
        preview: list[SourceRow] = []
        for row in self._rows:
            preview.append(row)
            if len(preview) >= HEADER_SEARCH_ROWS:
                break
        position, header = _find_header(preview)
        self.layout.header_row = preview[position].number
        self.layout.headers = header
        self._pending = preview[position + 1 :]

    def rows(self, *, joined: JoinedLinesTest | None = None) -> Iterator[SourceRow]:
        """The data rows after the header, once.

        ``joined`` decides whether a CSV record that spans several lines is really several rows joined by a
        stray quote mark (see ``JoinedLinesTest``); without it, such a record is one row, as the CSV rules
        make it.
        """
        pending, self._pending = self._pending, []
        if self.layout.kind != "csv":
            return itertools.chain(pending, self._rows)
        # The header was found in a first look at the file; the rows are read in a second pass, which knows it.
        if isinstance(self._rows, Generator):
            self._rows.close()
        header_row = self.layout.header_row
        rows = self._csv_rows(joined=joined, after_row=header_row)
        return itertools.dropwhile(lambda row: row.number <= header_row, rows)

    def _csv_rows(self, *, joined: JoinedLinesTest | None = None, after_row: int = 0) -> Iterator[SourceRow]:
        encoding = self.layout.encoding
        compose = encoding == "cp1258"  # Windows-1258 writes tones as combining marks: compose to NFC
        with self.path.open("rb") as binary:
            text: IO[str] = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
            first_line = text.readline()
            self.layout.delimiter = delimiter = detect_delimiter(first_line)
            text.seek(0)
            # NUL cannot be stored in PostgreSQL text; in a dose file it is always damage, so it is marked.
            # Checking every line costs a tenth of the reading: a file is first searched for a zero byte,
            # which, outside UTF-16, is the only way a NUL can reach the text.
            lines: Iterator[str] = text
            longest = settings.VAXREG_IMPORT_MAX_ROW_CHARS
            if self._marks_nul is None:  # the first pass, which also refuses a file with a line too long
                self._marks_nul = encoding.startswith("utf-16") or _scan_bytes(self.path, longest)
            if encoding.startswith("utf-16"):
                lines = _bounded_lines(text, longest)
            if self._marks_nul:
                lines = (line.replace("\x00", "\ufffd") if "\x00" in line else line for line in lines)
            # The lines the parser has read are kept until its block of records is done, for the rare block
            # where a record spans lines (a copy of the iterator in C: nothing measurable).
            lines, lines_behind = itertools.tee(lines) if joined is not None else (lines, iter(()))
            parser = csv.reader(lines, delimiter=delimiter)
            reader: Iterator[list[str]] = map(_composed, parser) if compose else parser
            numbers = itertools.count(1)
            lines_done = 0
            while True:
                block: list[SourceRow] = []
                try:
                    # Numbered and made into rows in C: a file holds millions of rows, and this is the whole of
                    # what happens to each between the CSV parser and the normaliser.
                    block.extend(
                        itertools.islice(
                            map(_as_source_row, zip(numbers, reader, itertools.repeat(""))), READ_BLOCK
                        )
                    )
                except csv.Error as exc:  # a broken line: reported, and the reading goes on after it
                    following = next(
                        numbers
                    )  # ``zip`` drew the broken line's number before the parser failed
                    numbers = itertools.count(following)
                    block.append(SourceRow(following - 1, [], str(exc)))
                if not block:
                    return
                if joined is not None:
                    spanned = parser.line_num - lines_done
                    lines_done = parser.line_num
                    if spanned == len(block):  # one line per record: the usual block
                        next(itertools.islice(lines_behind, spanned - 1, spanned), None)
                    else:
                        block_lines = list(itertools.islice(lines_behind, spanned))
                        block = _split_joined_records(
                            block, block_lines, delimiter, compose, joined, after_row
                        )
                        numbers = itertools.count(block[-1].number + 1)
                yield from block

    def _excel_rows(self, kind: str) -> Iterator[SourceRow]:
        from vaxreg.imports.workbook import WorkbookLimits, xls_rows, xlsx_rows  # it imports this module

        read = xlsx_rows if kind == "zip" else xls_rows
        yield from read(self.path, WorkbookLimits.configured())
