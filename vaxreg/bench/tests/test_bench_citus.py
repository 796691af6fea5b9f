"""`vaxreg bench quality --db citus` and `vaxreg bench worklist --db citus`: the same data measured on the
single PostgreSQL server and on a local Citus cluster (persons and doses distributed) in one run, with the
same outcome on both: the same findings, the same cases, the same list."""

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from vaxreg.bench.scratch import DEFAULT_PG_URL
from vaxreg.bench.tests.bench_runs import bench_json
from vaxreg.scale.cluster import Cluster, citus_installed, cluster_down, cluster_up


def _single_server_reachable() -> bool:
    try:
        psycopg.connect(DEFAULT_PG_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


pytestmark = [
    pytest.mark.citus,
    pytest.mark.slow,
    pytest.mark.skipif(not citus_installed(), reason="Citus is not installed in this PostgreSQL"),
    # The benches make their own scratch databases, whatever the suite's database: run once, in the SQLite pass.
    pytest.mark.skipif(connection.vendor != "sqlite", reason="run once, with the suite on SQLite"),
    pytest.mark.skipif(not _single_server_reachable(), reason=f"no PostgreSQL server at {DEFAULT_PG_URL}"),
]
PORT = 9792  # beside the default cluster (9700), the cluster tests' (9750) and the drill's (9790)


@pytest.fixture(scope="module")
def citus_url() -> Iterator[str]:
    cluster = Cluster(folder=Path(f"/tmp/vaxreg-bench-citus-test-{os.getpid()}"), port=PORT)
    try:
        cluster_up(cluster)
        yield f"postgres://postgres@127.0.0.1:{PORT}/vaxreg_bench"
    finally:
        cluster_down(cluster, remove=True)


def test_the_quality_scan_finds_the_same_on_the_cluster_as_on_one_server(
    citus_url: str, tmp_path: Path
) -> None:
    result = bench_json(
        ["quality", "--db", "citus", "--persons", "3000", "--provinces", "2", "--rechecks", "20"],
        tmp_path,
        VAXREG_BENCH_CITUS_URL=citus_url,
    )
    citus, single = result["citus"], result["postgres"]
    assert citus["persons"] == single["persons"] > 2900
    assert citus["findings_open"] == single["findings_open"] > 0
    assert result["ratio"] == pytest.approx(single["seconds"] / citus["seconds"], rel=0.01)
    assert citus["recheck_p95_ms"] > 0


def test_the_worklist_shows_the_same_cases_on_the_cluster_as_on_one_server(
    citus_url: str, tmp_path: Path
) -> None:
    result = bench_json(
        ["worklist", "--db", "citus", "--persons", "3000", "--provinces", "2", "--cases", "60"],
        tmp_path,
        VAXREG_BENCH_CITUS_URL=citus_url,
    )
    citus, single = result["citus"], result["postgres"]
    assert (citus["persons"], citus["cases"], citus["commune"]) == (
        single["persons"],
        single["cases"],
        single["commune"],
    )
    assert citus["p95_ms"] > 0
    assert result["ratio"] == pytest.approx(single["p95_ms"] / citus["p95_ms"], rel=0.01)
