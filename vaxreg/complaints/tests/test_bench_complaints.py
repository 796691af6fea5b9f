from pathlib import Path

import pytest

from config.env import ENV
from vaxreg.core.tests.bench_runs import bench_json

pytestmark = pytest.mark.slow


def _database_args() -> list[str]:
    """PostgreSQL when the tests run on it (a scratch database of this run's own name), else SQLite."""
    url = ENV.database_url
    if url.startswith("postgres"):
        base, name = url.rsplit("/", 1)
        return ["--db", "postgres", "--database-url", f"{base}/{name.split('?')[0]}_bench_complaints"]
    return ["--db", "sqlite"]


def test_the_complaints_benchmark_submits_through_the_real_server_and_prints_one_json_object(
    tmp_path: Path,
) -> None:
    result = bench_json(
        ["complaints", "--submissions", "50", "--concurrency", "4", *_database_args()], tmp_path
    )
    assert {"rps", "p50_ms", "p99_ms", "baseline_rps", "ratio", "rps_target_met", "p99_target_met"} <= set(
        result
    )
    assert result["errors"] == {}
    assert result["completed"] == result["submissions"] == 50
    assert result["stored"] == 50 + result["warmup_submissions"]  # every 201 is a complaint in the database
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["rps"] > 0 and result["baseline_rps"] > 0
    assert result["ratio"] == pytest.approx(result["rps"] / result["baseline_rps"], rel=0.01)
    assert result["one_client_address"] is True
