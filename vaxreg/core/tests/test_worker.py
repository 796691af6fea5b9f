"""`vaxreg worker` as an operator runs it: separate processes on a database of their own."""

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from config.env import ENV, child_environment
from vaxreg.bench.scratch import recreate_pg_database
from vaxreg.core.periodic import periodic_autodiscover

pytestmark = pytest.mark.slow

PROJECT_DIR = Path(__file__).resolve().parents[3]

# Runs a `vaxreg` verb with the clock the code asks (vaxreg.core.clock) standing still at the time given before
# the verb (empty: the real clock): the only way to let 48 hours pass in a child process.
_VAXREG_AT = (
    "import datetime as dt, sys\n"
    "from vaxreg.core import clock\n"
    "if sys.argv[1]:\n"
    "    at = dt.datetime.fromisoformat(sys.argv[1])\n"
    "    clock.now = lambda: at\n"
    "from django.core.management import execute_from_command_line\n"
    "execute_from_command_line(['vaxreg', *sys.argv[2:]])\n"
)


@dataclass
class Scratch:
    """An empty, migrated database of the kind the tests run on, for child processes."""

    url: str
    env: dict[str, str]
    folder: Path

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url) as db:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]

    def value(self, sql: str) -> Any:
        return self.query(sql)[0][0]

    def start(self, args: list[str], *, now: str = "", log: str = "worker.log") -> subprocess.Popen[bytes]:
        """``vaxreg ARGS`` in the background, its output appended to ``log`` in the scratch folder."""
        with open(self.folder / log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-c", _VAXREG_AT, now, *args], env=self.env, cwd=PROJECT_DIR, stdout=out,
                stderr=out,
            )  # fmt: skip

    def run(self, args: list[str], *, now: str = "") -> str:
        completed = subprocess.run(
            [sys.executable, "-c", _VAXREG_AT, now, *args], env=self.env,
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def log(self, name: str = "worker.log") -> str:
        return (self.folder / name).read_text()


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    env = child_environment(
        drop_prefixes=("VAXREG_", "DJANGO_"),
        DJANGO_SETTINGS_MODULE="config.settings", VAXREG_VAR_DIR=str(tmp_path), VAXREG_MESSAGE_BACKEND="console",
        VAXREG_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    pg = connection.vendor == "postgresql"
    if pg:
        base = ENV.database_url.rsplit("/", 1)[0]
        # One per test process (two would drop each other's), whether or not its test database is set up yet.
        url = f"{base}/vaxreg_worker_test_{settings.VAXREG_TEST_PROCESS}"
        recreate_pg_database(url)
    else:
        url = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    env["VAXREG_DATABASE_URL"] = url
    db = Scratch(url=url, env=env, folder=tmp_path)
    try:
        db.run(["migrate", "-v0"])
        yield db
    finally:
        if pg:
            import psycopg

            from vaxreg.core.database import database_drop

            name = url.rsplit("/", 1)[1]
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                database_drop(admin, name)


def wait_until(condition: Callable[[], bool], *, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM, timeout: float = 20) -> int:
    if process.poll() is None:
        process.send_signal(signum)
    return process.wait(timeout)


WORKER = ["worker", "--no-reload", "--no-startup-delay", "--queue-name", "*"]
_PERIODIC_RUNS = "SELECT key, count FROM core_ratecounter WHERE key LIKE 'periodic:%' ORDER BY key"
JOBS = sorted(job.name for job in periodic_autodiscover())


def test_workers_started_together_run_each_periodic_job_once_and_stop_on_sigterm(scratch: Scratch) -> None:
    workers = [scratch.start(WORKER, log=f"worker-{i}.log") for i in range(3)]
    try:
        wait_until(lambda: len(scratch.query(_PERIODIC_RUNS)) == len(JOBS), what="the periodic jobs to run")
        time.sleep(2)  # every worker has had its first round by now
        assert all(w.poll() is None for w in workers)
    finally:
        started = time.monotonic()
        codes = [stop(w) for w in workers]
    assert codes == [0, 0, 0]
    assert time.monotonic() - started < 15
    assert {"complaints_tick", "notices_send", "rate_counters_prune"} <= set(JOBS)
    assert scratch.query(_PERIODIC_RUNS) == [(f"periodic:{name}", 1) for name in JOBS]
    logs = "".join(scratch.log(f"worker-{i}.log") for i in range(3))
    assert logs.count("periodic job complaints_tick:") == 1


def test_the_worker_also_runs_queued_tasks_and_the_batch_mode_exits(scratch: Scratch) -> None:
    scratch.run(
        ["shell", "-c", "from vaxreg.complaints.tasks import notices_send_task; notices_send_task.enqueue()"]
    )
    out = scratch.run([*WORKER, "--batch"])
    assert "periodic jobs:" in out
    assert scratch.value("SELECT status FROM django_tasks_database_dbtaskresult") == "SUCCESSFUL"
    assert len(scratch.query(_PERIODIC_RUNS)) == len(JOBS)


_TASK_ROW = "SELECT status, exception_class_path, traceback FROM django_tasks_database_dbtaskresult"


def _closed(scratch: Scratch, now: str = "") -> str:
    """What the periodic job closes when it runs at ``now``."""
    code = "from vaxreg.core.task_results import task_results_interrupted_close as c; print(c())"
    return scratch.run(["shell", "-v0", "-c", code], now=now).strip().splitlines()[-1]


def test_a_task_row_left_running_by_a_killed_worker_is_closed_by_the_periodic_job(scratch: Scratch) -> None:
    """Any task (here one that sleeps): its row is closed once no living worker holds the task's lock."""
    scratch.run(
        ["shell", "-c", "from vaxreg.core.tests.sleepy_tasks import sleep_task; sleep_task.enqueue(120)"]
    )
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    worker = scratch.start([*WORKER, "--no-periodic"])
    try:
        wait_until(lambda: scratch.query(_TASK_ROW)[0][0] == "RUNNING", what="the task to start")
        assert _closed(scratch, later) == "0"  # its worker lives: the row is left alone
    finally:
        stop(worker, signal.SIGKILL)
    assert scratch.query(_TASK_ROW)[0][0] == "RUNNING"
    assert _closed(scratch) == "0"  # started a moment ago: its worker may not hold the lock yet
    wait_until(lambda: _closed(scratch, later) == "1", timeout=30, what="the row to be closed")
    [(status, exception, reason)] = scratch.query(_TASK_ROW)
    assert (status, exception) == ("FAILED", "vaxreg.core.task_results.WorkerStopped")
    assert (
        "Tiến trình chạy việc nền đã dừng giữa chừng" in reason
        and "The worker running this task stopped" in reason
    )
    assert not list(scratch.folder.glob("*task-result*.lock"))  # a task's lock leaves no file behind
