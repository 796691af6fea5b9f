"""`vaxreg bench import` loads exactly the number of rows asked for and prints its figures as one JSON object."""

import csv
from pathlib import Path

import pytest

from vaxreg.bench.management.commands.bench_import import _keep_first_rows
from vaxreg.bench.tests.bench_runs import bench_json


@pytest.mark.slow
def test_bench_imports_exactly_the_rows_asked_for(tmp_path: Path) -> None:
    result = bench_json(["import", "--rows", "777", "--db", "sqlite"], tmp_path)
    assert result["rows"] == 777
    assert result["rows_stored"] + result["rows_rejected"] == 777
    assert result["rows"] / result["rows_per_s"] == pytest.approx(result["seconds"], abs=0.002)
    # The ratio is printed to 4 decimals: on a loaded machine a 777-row import's ratio is as small as 0.0036.
    assert result["ratio"] == pytest.approx(
        result["rows_per_s"] / result["baseline_rows_per_s"], rel=0.01, abs=0.00005
    )
    assert result["peak_rss_mb_importer"] > 20
    assert result["peak_rss_mb_reader"] > 10  # the process that reads the file is counted too
    assert result["peak_rss_mb"] == pytest.approx(
        result["peak_rss_mb_importer"] + result["peak_rss_mb_reader"], abs=0.2
    )


def test_cutting_the_file_keeps_whole_records_even_with_line_breaks_in_cells(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    records = [
        ["Họ và tên", "Địa chỉ"],
        ["An", "thôn 1"],
        ["Bình", "thôn 2\nxóm 3"],
        ["Chi", "thôn 4"],
        ["Dũng", "x"],
    ]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(records)

    assert _keep_first_rows(path, 2) == 2

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == records[:3]
    assert _keep_first_rows(path, 10) == 2  # a file shorter than asked keeps all its rows
