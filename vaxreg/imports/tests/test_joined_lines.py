"""A stray quote mark does not swallow the rows after it; a cell written over several lines stays one row."""

import csv

import pytest

from vaxreg.imports.models import RejectedRow
from vaxreg.imports.tests.conftest import HEADERS, row, run_import
from vaxreg.imports.tests.test_import import _encode_cp1258
from vaxreg.vaccinations.models import Dose


def _write(path, lines: list[str], encoding: str = "utf-8-sig"):
    """A CSV file written line by line as given (a CSV writer would quote the stray quote marks away)."""
    text = "".join(line + "\r\n" for line in [",".join(HEADERS), *lines])
    path.write_bytes(_encode_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    return path


def _line(**values: str) -> str:
    return ",".join(row(**values))


def _rows_stored() -> dict[str, tuple[int | None, str]]:
    return {d.source_record_id: (d.source_row, d.lot_number) for d in Dose.objects.all()}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1258"])
def test_a_stray_quote_mark_does_not_swallow_the_rows_after_it(places, tmp_path, encoding):
    lines = [
        _line(source_record_id="R1"),
        _line(source_record_id="R2", lot_number='"A1002'),  # typed with a quote mark that nothing closes
        _line(source_record_id="R3", full_name="Trần Văn Bình", id_number="046090000777"),
        # A quoted cell: its first quote mark closes R2's.
        _line(
            source_record_id="R4", full_name="Lê Thị Hiền", id_number="046190000888", address='"85, tổ 27"'
        ),
        _line(source_record_id="R5"),
    ]
    path = _write(tmp_path / "doses.csv", lines, encoding)

    batch = run_import(path)

    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (5, 5, 0)
    stored = _rows_stored()
    assert stored == {
        "R1": (2, "A1001"), "R2": (3, "A1002"), "R3": (4, "A1001"), "R4": (5, "A1001"), "R5": (6, "A1001")
    }  # fmt: skip
    assert Dose.objects.get(source_record_id="R3").person.full_name == "Trần Văn Bình"
    assert Dose.objects.get(source_record_id="R4").person.address == "85, tổ 27"

    again = run_import(path)
    assert (again.doses_created, again.doses_unchanged, again.rows_rejected) == (0, 5, 0)


def test_a_stray_quote_mark_that_nothing_closes_loses_no_row_even_past_the_longest_cell(places, tmp_path):
    lines = [_line(source_record_id="R0", lot_number='"A1000')]
    lines += [_line(source_record_id=f"R{i}", address=f"{i} Lê Lợi") for i in range(1, 200)]
    path = _write(tmp_path / "doses.csv", lines)
    limit = csv.field_size_limit(5_000)  # the joined cell outgrows it after about 50 rows
    try:
        batch = run_import(path)
    finally:
        csv.field_size_limit(limit)

    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (200, 200, 0)
    assert _rows_stored()["R0"] == (2, "A1000")
    assert _rows_stored()["R199"] == (201, "A1001")


def test_a_cell_written_over_several_lines_stays_one_row(places, tmp_path):
    # R1: address "thôn 1\nxóm 3" then the rest of R1; R2: the name "Nguyễn\nVăn An" then the rest of R2.
    r1_rest = ",".join(row(source_record_id="R1", lot_number="A1")[6:])
    r2_rest = ",".join(row(source_record_id="R2")[1:])
    lines = [
        ",".join(row(source_record_id="R1")[:5]) + ',"thôn 1',
        'xóm 3",' + r1_rest,
        '"Nguyễn',
        'Văn An",' + r2_rest,
        _line(source_record_id="R3"),
    ]
    batch = run_import(_write(tmp_path / "doses.csv", lines))

    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (3, 3, 0)
    assert Dose.objects.get(source_record_id="R1").person.address == "thôn 1 xóm 3"
    assert Dose.objects.get(source_record_id="R1").lot_number == "A1"
    assert Dose.objects.get(source_record_id="R2").person.full_name == "Nguyễn Văn An"
    assert _rows_stored()["R3"][0] == 4  # three records: R1 and R2 each one row over two lines


def test_rows_between_junk_lines_that_open_quotes_are_stored_and_the_junk_is_reported(places, tmp_path):
    lines = [
        _line(source_record_id="R1"),
        '\x7f\x01junk,"half a quote',
        _line(source_record_id="R2"),
        'more junk",x',
        _line(source_record_id="R3"),
    ]
    batch = run_import(_write(tmp_path / "doses.csv", lines))

    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (5, 3, 2)
    assert {k: v[0] for k, v in _rows_stored().items()} == {"R1": 2, "R2": 4, "R3": 6}
    assert sorted(RejectedRow.objects.filter(batch=batch).values_list("row_number", flat=True)) == [3, 5]
