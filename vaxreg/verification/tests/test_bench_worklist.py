import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_worklist_benchmark_prints_one_json_object_with_its_figures(tmp_path: Path) -> None:
    env = dict(os.environ, VAXREG_VAR_DIR=str(tmp_path))
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the bench's processes use the settings a user gets
    env.pop("VAXREG_DATABASE_URL", None)
    completed = subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", "bench", "worklist", "--persons", "300", "--cases", "40", "--json"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1, completed.stdout
    result = json.loads(lines[0])
    assert result["db"] == "sqlite"
    assert result["persons"] >= 300 and result["cases"] == 40
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    assert 0 < result["baseline_p50_ms"] <= result["baseline_p95_ms"]
    assert result["ratio"] == pytest.approx(result["baseline_p95_ms"] / result["p95_ms"], rel=0.01)
    assert 0 < result["queries_max"] <= 10  # a bounded page, whatever the number of cases
