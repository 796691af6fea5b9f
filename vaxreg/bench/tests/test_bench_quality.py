"""`vaxreg bench quality` runs end to end and prints its figures."""

from pathlib import Path

import pytest

from vaxreg.bench.tests.bench_runs import bench_json

KEYS = {
    "persons",
    "doses",
    "seconds",
    "persons_per_s",
    "baseline_seconds",
    "ratio",
    "recheck_median_ms",
    "recheck_p95_ms",
    "peak_rss_mb",
}


@pytest.mark.slow
def test_bench_prints_one_json_object_with_the_figures(tmp_path: Path) -> None:
    result = bench_json(["quality", "--persons", "300", "--db", "sqlite"], tmp_path)
    assert result.keys() >= KEYS
    assert 300 <= result["persons"] <= 330  # a few persons are entered twice on purpose
    assert 1.5 * result["persons"] <= result["doses"] <= 4 * result["persons"]
    assert result["seconds"] > 0 and result["baseline_seconds"] > 0
    # Rounded figures of a run this short: compared on the seconds, to the millisecond.
    assert result["persons"] / result["persons_per_s"] == pytest.approx(result["seconds"], abs=0.002)
    assert result["ratio"] * result["seconds"] == pytest.approx(result["baseline_seconds"], abs=0.002)
    assert 0 < result["recheck_median_ms"] <= result["recheck_p95_ms"]
    assert result["peak_rss_mb"] > 20
