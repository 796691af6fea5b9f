"""Running a `vaxreg bench` command in a test, as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from config.env import child_environment


def bench_json(args: list[str], var_dir: Path, **variables: str) -> dict[str, Any]:
    """Run `vaxreg bench ARGS --json` with the settings a user gets (and the environment ``variables``) and
    ``var_dir`` as its var folder; the one JSON object it prints."""
    # Every bench picks its own scratch database (--db).
    env = child_environment(
        drop={"DJANGO_SETTINGS_MODULE", "VAXREG_DATABASE_URL"}, VAXREG_VAR_DIR=str(var_dir)
    )
    env.update(variables)
    completed = subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", "bench", *args, "--json"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 1, completed.stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result
