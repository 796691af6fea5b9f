"""Writing the rows out as a facility would send them: a CSV from Excel, or the .xlsx itself."""

import datetime as dt
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from vaxreg.core.tables import TableWriter
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

# openpyxl stamps the workbook with the time of writing; a fixed stamp keeps the content reproducible.
_WORKBOOK_TIME = dt.datetime(2021, 11, 11)
_DATE_FORMAT = "DD/MM/YYYY"


def _as_date(text: str) -> dt.date:
    return dt.date(int(text[6:10]), int(text[3:5]), int(text[:2]))


class RowSink(AbstractContextManager["RowSink"]):
    """Where the dose rows go; ``write`` takes the rows of one or more persons.

    The file stands for what a facility sends, not for values leaving the registry: cells are written as
    they are, without formula escaping (a phone "+84…" is a phone the import must read).
    """

    def __init__(self, table: TableWriter) -> None:
        self._table = table

    def write(self, rows: Iterable[SynthRow]) -> None:
        raise NotImplementedError

    def write_text(self, text: str) -> None:
        """Rows already formatted as CSV lines; only a CSV sink takes them."""
        raise NotImplementedError

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._table.__exit__(exc_type, *exc)


class CsvRowSink(RowSink):
    """UTF-8 with a byte-order mark and CRLF line ends, as Excel writes and reads Vietnamese CSV."""

    def __init__(self, path: Path) -> None:
        super().__init__(TableWriter(HEADERS, fmt="csv", out=path, escape=False))

    def write(self, rows: Iterable[SynthRow]) -> None:
        self._table.write([row.cells for row in rows])

    def write_text(self, text: str) -> None:
        """Rows already formatted as CSV lines (by a worker process)."""
        self._table.write_text(text)


class XlsxRowSink(RowSink):
    """One sheet, streamed (openpyxl write-only mode): IDs as text except where Excel lost the zeros."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            TableWriter(
                HEADERS, fmt="xlsx", out=path, sheet="Danh sách tiêm", escape=False, created=_WORKBOOK_TIME
            )
        )

    def _values(self, row: SynthRow) -> list[Any]:
        values: list[Any] = list(row.cells)
        flags = row.flags
        if flags & DOB_DATE_CELL:
            values[DOB] = self._table.cell(_as_date(values[DOB]), number_format=_DATE_FORMAT)
        if flags & VDATE_DATE_CELL:
            values[VDATE] = self._table.cell(_as_date(values[VDATE]), number_format=_DATE_FORMAT)
        if flags & ID_NUMBER_CELL:
            values[ID] = int(values[ID])
        if values[DOSE_NO].isdigit():
            values[DOSE_NO] = int(values[DOSE_NO])
        return values

    def write(self, rows: Iterable[SynthRow]) -> None:
        self._table.write([self._values(row) for row in rows])


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
        self._table = TableWriter(TRUTH_HEADERS, fmt="csv", out=path, escape=False, bom=False, line_end="\n")

    def write(self, rows: Iterable[TruthRow]) -> None:
        self._table.write(list(rows))

    def write_text(self, text: str) -> None:
        self._table.write_text(text)

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._table.__exit__(exc_type, *exc)
