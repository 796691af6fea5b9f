from pathlib import Path

import pytest

from vaxreg.bench.tests.bench_runs import bench_json


@pytest.mark.slow
def test_the_worklist_benchmark_prints_one_json_object_with_its_figures(tmp_path: Path) -> None:
    result = bench_json(["worklist", "--persons", "300", "--cases", "40"], tmp_path)
    assert result["db"] == "sqlite"
    assert result["persons"] >= 300 and result["cases"] == 40
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    assert 0 < result["baseline_p50_ms"] <= result["baseline_p95_ms"]
    assert result["ratio"] == pytest.approx(result["baseline_p95_ms"] / result["p95_ms"], rel=0.01)
    assert 0 < result["queries_max"] <= 10  # a bounded page, whatever the number of cases
