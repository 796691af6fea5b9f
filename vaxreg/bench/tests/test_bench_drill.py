"""`vaxreg bench drill`: a worker of a Citus cluster stopped during an import; the import fails whole and,
with the worker back, the same batch runs again to every record of the file, once."""

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from vaxreg.scale.cluster import Cluster, citus_installed, cluster_down

pytestmark = [
    pytest.mark.citus,
    pytest.mark.slow,
    pytest.mark.skipif(not citus_installed(), reason="Citus is not installed in this PostgreSQL"),
]
PORT = 9790  # beside the default cluster (9700) and the cluster tests' (9750)


def test_a_worker_lost_during_an_import_loses_nothing_and_the_import_runs_again() -> None:
    folder = Path(f"/tmp/vaxreg-drill-test-{os.getpid()}")
    out = io.StringIO()
    try:
        call_command("bench_drill", persons=10_000, provinces=2, dir=folder, port=PORT, json=True, stdout=out)
    finally:
        cluster_down(Cluster(folder=folder, port=PORT), remove=True)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["checks"] == {check: True for check in result["checks"]}
    assert len(result["checks"]) == 6
    assert any("stopped while the import had handled" in step for step in result["steps"])
