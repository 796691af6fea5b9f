"""What every `vaxreg bench ...` command shares: a scratch database, and phases run as child processes.

A benchmark runs its phases in fresh processes pointed at a scratch database (a temporary SQLite file, or
the PostgreSQL database of VAXREG_BENCH_DATABASE_URL, dropped and created anew), so that nothing measured
depends on what an earlier phase left in memory.
"""

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from django.core.management.base import CommandError

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/vaxreg_bench"


def recreate_pg_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_in_scratch_database(*, db: str, args: list[str]) -> str:
    """Run ``vaxreg ARGS`` against a new scratch database of kind ``db``; its standard output."""
    with tempfile.TemporaryDirectory(prefix="vaxreg-bench-") as folder:
        env = dict(os.environ, VAXREG_VAR_DIR=folder, VAXREG_LOG_LEVEL="ERROR")
        if db == "postgres":
            url = os.environ.get("VAXREG_BENCH_DATABASE_URL", DEFAULT_PG_URL)
            recreate_pg_database(url)
            env["VAXREG_DATABASE_URL"] = url
        else:
            env["VAXREG_DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        completed = subprocess.run(
            [sys.executable, "-m", "vaxreg.cli", *args], env=env, check=False, stdout=subprocess.PIPE, text=True
        )
        if completed.returncode:
            raise CommandError(f"benchmark failed (exit {completed.returncode})")
        return completed.stdout.rstrip("\n")


def run_phase(args: list[str]) -> dict[str, Any]:
    """Run one phase (``vaxreg ARGS``) in a child process with this process's environment; the JSON object
    its last output line holds."""
    completed = subprocess.run(
        [sys.executable, "-m", "vaxreg.cli", *args], env=os.environ.copy(), check=False, capture_output=True, text=True
    )
    if completed.returncode:
        sys.stderr.write(completed.stderr)
        raise CommandError(f"benchmark phase {' '.join(args[:4])} failed (exit {completed.returncode})")
    values: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return values
