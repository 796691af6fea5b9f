"""The one writer of CSV and Excel files, and the header matching every imported file goes through."""

import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from openpyxl import load_workbook

from vaxreg.core.cccd import IdKind, ParsedId
from vaxreg.core.dates import PartialDate
from vaxreg.core.tables import (
    EXCEL_MAX_ROWS,
    CellInvalid,
    Column,
    ColumnType,
    Reason,
    RejectedLine,
    RowReport,
    TableSpec,
    TableTooLong,
    cell_read,
    cell_safe,
    write_table,
)

SPEC = TableSpec(
    "example",
    (
        Column("full_name", "Họ và tên", "Full name", ("Họ tên", "name")),
        Column("id_number", "Số CCCD/CMND", "ID number", ("CCCD", "CMND"), required=True),
    ),
)
ATTACKS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]
ESCAPED = ["'" + attack for attack in ATTACKS]


def _csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # Excel reads Vietnamese CSV as UTF-8 only with a BOM
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_headers_match_whatever_the_case_accents_spaces_or_punctuation() -> None:
    found = SPEC.match(["HO VA TEN", "so_cccd/cmnd", "Ghi chú", "Họ tên"])
    assert found.positions == {"full_name": 0, "id_number": 1}
    assert found.ignored == ["Ghi chú", "Họ tên"]  # unknown, then a second name for a column already found
    assert SPEC.column_for("Số CCCD / CMND") == "id_number" and SPEC.column_for("ID number") == "id_number"
    assert SPEC.column_for("Full name / Họ và tên") is None
    assert SPEC.headers() == ["Họ và tên / Full name", "Số CCCD/CMND / ID number"]
    assert SPEC.required == ("id_number",)


def test_a_cell_that_would_run_as_a_formula_is_escaped_in_csv_and_xlsx() -> None:
    rows = [[attack, "Nguyễn Thị Đào"] for attack in ATTACKS] + [[7, "-"]]
    out = io.BytesIO()
    assert write_table(SPEC, rows, fmt="csv", out=out) == len(rows)
    lines = _csv(out.getvalue())
    assert lines[0] == SPEC.headers()
    assert [line[0] for line in lines[1:]] == [*ESCAPED, "7"]
    assert b"'\r=1" in out.getvalue()
    assert lines[-1][1] == "'-" and lines[1][1] == "Nguyễn Thị Đào"
    assert out.getvalue().count(b"\r\n") >= len(rows) + 1

    out = io.BytesIO()
    write_table(SPEC, rows, fmt="xlsx", out=out)
    sheet = load_workbook(out).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    read_back = [text.replace("\r", "\n") for text in ESCAPED]  # the sheet's XML keeps a CR as a line feed
    assert [v[0] for v in values[1:]] == [*read_back, 7]  # numbers stay numbers
    assert cell_safe("Hà Nội") == "Hà Nội" and cell_safe("") == ""


def test_escaping_is_left_off_only_when_asked() -> None:
    out = io.BytesIO()
    write_table(["phone"], [["+84912345678"]], out=out, escape=False, bom=False, line_end="\n")
    assert out.getvalue() == b"phone\n+84912345678\n"


class _Rows(Sequence[list[str]]):
    """A sized table of Excel's limit and one more row, made only if a row is asked for."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.read = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> Any:
        if index >= self.length:
            raise IndexError(index)
        self.read += 1
        return ["a", "b"]


def test_an_xlsx_longer_than_excel_holds_is_refused_before_it_is_written() -> None:
    rows = _Rows(EXCEL_MAX_ROWS)  # with the header, one row too many
    with pytest.raises(TableTooLong) as refused:
        write_table(SPEC, rows, fmt="xlsx", out=io.BytesIO())
    assert rows.read == 0
    assert "1,048,575" in refused.value.message_vi and "Excel" in refused.value.message_en
    assert "CSV" in refused.value.message_en and "CSV" in refused.value.message_vi


def test_a_streamed_xlsx_stops_at_the_limit_instead_of_losing_rows() -> None:
    def rows() -> Iterator[list[str]]:
        for number in range(10):
            yield [str(number), "x"]

    out = io.BytesIO()
    with pytest.raises(TableTooLong):
        write_table(SPEC, rows(), fmt="xlsx", out=out, max_rows=6)
    assert out.getvalue() == b""  # nothing half written
    assert write_table(SPEC, list(rows())[:5], fmt="xlsx", out=io.BytesIO(), max_rows=6) == 5


# -- the column types: one reading of each --------------------------------------------------------------


@pytest.mark.parametrize(
    ("column_type", "cell", "read"),
    [
        (ColumnType.TEXT, "  Nguyễn Văn A ", "Nguyễn Văn A"),
        (ColumnType.TEXT, 12.0, "12"),
        (ColumnType.CODE, " HN001 ", "HN001"),
        (ColumnType.INTEGER, " 42 ", 42),
        (ColumnType.INTEGER, 7.0, 7),
        (ColumnType.INTEGER, "", None),
        (ColumnType.DATE, "02/08/2021", dt.date(2021, 8, 2)),
        (ColumnType.DATE, dt.datetime(2021, 8, 2), dt.date(2021, 8, 2)),
        (ColumnType.DATE, "", None),
        (ColumnType.PARTIAL_DATE, "1980", PartialDate(1980)),
        (ColumnType.PARTIAL_DATE, "03/1980", PartialDate(1980, 3)),
        (ColumnType.ID_NUMBER, "001080012345", ParsedId(IdKind.CCCD, "001080012345", False, "001080012345")),
        (ColumnType.ID_NUMBER, "", ParsedId(IdKind.NONE, "", False, "")),
        (ColumnType.PHONE, "+84 912 000 001", "0912000001"),
        (ColumnType.PHONE, "", ""),
        (ColumnType.GENDER, "Nữ", "F"),
        (ColumnType.GENDER, "không rõ", ""),
    ],
)
def test_each_column_type_reads_its_cells(column_type: ColumnType, cell: Any, read: Any) -> None:
    assert cell_read(column_type, cell) == read


@pytest.mark.parametrize(
    ("column_type", "cell", "code", "kept"),
    [
        (ColumnType.INTEGER, "12a", "INTEGER_INVALID", "12a"),
        (ColumnType.INTEGER, "1" * 19, "INTEGER_INVALID", "1" * 19),
        (ColumnType.DATE, "31/02/2021", "DATE_IMPOSSIBLE", "31/02/2021"),
        (ColumnType.DATE, "2021", "DATE_INCOMPLETE", "2021"),
        (ColumnType.DATE, "hôm qua", "DATE_FORMAT", "hôm qua"),
        (ColumnType.PARTIAL_DATE, "13/1980", "DATE_IMPOSSIBLE", "13/1980"),
        (ColumnType.ID_NUMBER, "12345", "ID_INVALID", ParsedId(IdKind.INVALID, "12345", False, "12345")),
        (ColumnType.PHONE, "0000", "PHONE_INVALID", "0000"),
        (ColumnType.GENDER, "abc", "GENDER_INVALID", "abc"),
    ],
)
def test_a_cell_of_another_type_is_refused_with_a_code_and_both_languages(
    column_type: ColumnType, cell: Any, code: str, kept: Any
) -> None:
    with pytest.raises(CellInvalid) as refused:
        cell_read(column_type, cell)
    assert refused.value.code == code
    assert refused.value.message_vi and refused.value.message_en
    assert refused.value.message_vi != refused.value.message_en
    assert refused.value.value == kept  # what a column that keeps such cells stores


def test_a_row_report_counts_by_code_and_keeps_or_hands_on_the_lines() -> None:
    bad_date = Reason("DATE_IMPOSSIBLE", "Ngày tiêm", "vi", "en")
    no_source = Reason("SOURCE_ID_MISSING", "Mã bản ghi", "vi", "en")
    lines = [RejectedLine(2, [bad_date, no_source], {}), RejectedLine(3, [bad_date], {})]
    kept: RowReport[RejectedLine] = RowReport(rows_read=3, rows_stored=1)
    kept.reject(lines)
    assert kept.adds_up and kept.rows_rejected == 2 and kept.rejected == lines
    assert kept.rejected_by_code == {"DATE_IMPOSSIBLE": 2, "SOURCE_ID_MISSING": 1}

    handed: list[RejectedLine] = []

    class Elsewhere:
        def put(self, lines: Sequence[RejectedLine]) -> None:
            handed.extend(lines)

    streamed: RowReport[RejectedLine] = RowReport(rows_read=4, rows_stored=1, sink=Elsewhere())
    streamed.reject(lines)
    assert handed == lines and streamed.rows_rejected == 2
    assert not streamed.adds_up  # a row read that was neither stored nor rejected
    with pytest.raises(TypeError):
        _ = streamed.rejected
