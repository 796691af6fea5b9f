"""Writing the rows out as a facility would send them: a CSV from Excel, or the .xlsx itself."""

import csv
import datetime as dt
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

from vaxreg.synth.generator import (
    DOB,
    DOB_DATE_CELL,
    DOSE_NO,
    HEADERS,
    ID,
    ID_NUMBER_CELL,
    TRUTH_HEADERS,
    VDATE,
    VDATE_DATE_CELL,
    SynthRow,
    TruthRow,
)

_FILE_BUFFER = 1 << 20
# openpyxl stamps the workbook with the time of writing; a fixed stamp keeps the content reproducible.
_WORKBOOK_TIME = dt.datetime(2021, 11, 11)


def _as_date(text: str) -> dt.date:
    return dt.date(int(text[6:10]), int(text[3:5]), int(text[:2]))


class RowSink(AbstractContextManager["RowSink"]):
    """Where the dose rows go; ``write`` takes the rows of one or more persons."""

    def write(self, rows: Iterable[SynthRow]) -> None:
        raise NotImplementedError

    def write_text(self, text: str) -> None:
        """Rows already formatted as CSV lines; only a CSV sink takes them."""
        raise NotImplementedError


class CsvRowSink(RowSink):
    """UTF-8 with a byte-order mark and CRLF line ends, as Excel writes and reads Vietnamese CSV."""

    def __init__(self, path: Path) -> None:
        # The BOM by hand: the utf-8-sig codec is pure Python and would triple the time of a large file.
        self._handle: IO[str] = path.open("w", encoding="utf-8", newline="", buffering=_FILE_BUFFER)
        self._handle.write("\ufeff")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(HEADERS)

    def write(self, rows: Iterable[SynthRow]) -> None:
        self._writer.writerows(row.cells for row in rows)

    def write_text(self, text: str) -> None:
        """Rows already formatted as CSV lines (by a worker process)."""
        self._handle.write(text)

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class XlsxRowSink(RowSink):
    """One sheet, streamed (openpyxl write-only mode): IDs as text except where Excel lost the zeros."""

    def __init__(self, path: Path) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        self._path = path
        self._cell = WriteOnlyCell
        self._workbook = Workbook(write_only=True)
        self._workbook.properties.created = _WORKBOOK_TIME
        self._workbook.properties.modified = _WORKBOOK_TIME
        self._sheet = self._workbook.create_sheet("Danh sách tiêm")
        self._sheet.append(list(HEADERS))

    def _date_cell(self, text: str) -> Any:
        cell = self._cell(self._sheet, value=_as_date(text))
        cell.number_format = "DD/MM/YYYY"
        return cell

    def write(self, rows: Iterable[SynthRow]) -> None:
        append = self._sheet.append
        for row in rows:
            values: list[Any] = list(row.cells)
            flags = row.flags
            if flags & DOB_DATE_CELL:
                values[DOB] = self._date_cell(values[DOB])
            if flags & VDATE_DATE_CELL:
                values[VDATE] = self._date_cell(values[VDATE])
            if flags & ID_NUMBER_CELL:
                values[ID] = int(values[ID])
            if values[DOSE_NO].isdigit():
                values[DOSE_NO] = int(values[DOSE_NO])
            append(values)

    def __exit__(self, *exc: object) -> None:
        self._workbook.save(self._path)


def row_sink_open(path: Path) -> RowSink:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvRowSink(path)
    if suffix == ".xlsx":
        return XlsxRowSink(path)
    raise ValueError(f"Chỉ ghi được .csv hoặc .xlsx / Only .csv or .xlsx can be written: {path.name}")


class TruthSink(AbstractContextManager["TruthSink"]):
    """The ground truth: plain UTF-8 CSV (no BOM), one row per (defect, affected dose row)."""

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = path.open("w", encoding="utf-8", newline="", buffering=_FILE_BUFFER)
        self._writer = csv.writer(self._handle, lineterminator="\n")
        self._writer.writerow(TRUTH_HEADERS)

    def write(self, rows: Iterable[TruthRow]) -> None:
        self._writer.writerows(rows)

    def write_text(self, text: str) -> None:
        self._handle.write(text)

    def __exit__(self, *exc: object) -> None:
        self._handle.close()
