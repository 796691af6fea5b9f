"""Killing the worker mid-import, then running the file again, gives the records of one clean import; the
worker's periodic job closes the batch and the background task's row the killed worker left running."""

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.env import child_environment
from vaxreg.imports.tests.conftest import row, write_csv

pytestmark = pytest.mark.slow


def _vaxreg(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vaxreg.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as connection:
        doses = connection.execute("SELECT COUNT(*) FROM vaccinations_dose").fetchone()[0]
        persons = connection.execute("SELECT COUNT(*) FROM people_person").fetchone()[0]
    return doses, persons


def _task_rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT status, exception_class_path, traceback FROM django_tasks_database_dbtaskresult"
        ).fetchall()


def test_killing_the_import_process_leaves_nothing_and_a_rerun_is_one_clean_import(tmp_path: Path) -> None:
    db = tmp_path / "kill.sqlite3"
    env = child_environment(
        drop={"DJANGO_SETTINGS_MODULE"}, VAXREG_DATABASE_URL=f"sqlite:///{db}", VAXREG_VAR_DIR=str(tmp_path),
        VAXREG_TASKS_IMMEDIATE="0",  # queued in the database and run by the worker, as an upload is
    )  # fmt: skip
    assert _vaxreg(["migrate", "-v0"], env).wait() == 0
    facilities = tmp_path / "facilities.csv"
    facilities.write_text("code,name,commune_code\n")
    setup = subprocess.run(
        [sys.executable, "-c", (
            "import django, os; from config.env import settings_module_default; settings_module_default(); django.setup();"
            "from vaxreg.places.models import Province, Commune, Facility;"
            "p = Province.objects.create(code='46', name='Huế', short_name='Huế', name_key='hue');"
            "c = Commune.objects.create(code='19753', name='Thuận Hóa', short_name='Thuận Hóa', kind='Phường',"
            " province=p, name_key='thuan hoa');"
            "Facility.objects.create(code='TYT19753', name='Trạm Y tế Thuận Hóa', commune=c, province=p);"
            "from vaxreg.core.testing import catalogue_parameters_load; catalogue_parameters_load()"
        )],
        env=env, check=False, capture_output=True,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    rows = [row(source_record_id=f"R{i}", id_number=f"046187{i:06d}", full_name=f"Nguyễn Thị Hoa {chr(65 + i % 26)}")
            for i in range(60_000)]  # fmt: skip
    path = write_csv(tmp_path / "big.csv", rows)

    queue = subprocess.run(
        [sys.executable, "-c", (
            "import django, os, pathlib; from config.env import settings_module_default; settings_module_default(); django.setup();"
            "from vaxreg.imports.services import import_batch_create; from vaxreg.imports.tasks import import_batch_run_task;"
            f"batch = import_batch_create(file_name='big.csv', path=pathlib.Path({str(path)!r}));"
            "import_batch_run_task.enqueue(batch.pk)"
        )],
        env=env, check=False, capture_output=True,
    )  # fmt: skip
    assert queue.returncode == 0, queue.stderr
    victim = _vaxreg(
        ["worker", "--no-reload", "--no-startup-delay", "--no-periodic", "--queue-name", "*"], env
    )
    deadline = time.monotonic() + 120
    progress = list(tmp_path.glob("private/imports/batch-*.progress"))
    while not progress and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
        progress = list(tmp_path.glob("private/imports/batch-*.progress"))
    assert victim.poll() is None, "the import finished before it could be killed; make the file larger"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert _counts(db) == (0, 0)
    assert [status for status, _, _ in _task_rows(db)] == ["RUNNING"], _task_rows(db)
    # The killed import's batch showed as running; the worker's periodic job finds its process gone.
    closer = subprocess.run(
        [sys.executable, "-c", (
            "import django, os; from config.env import settings_module_default; settings_module_default(); django.setup();"
            "from vaxreg.imports.services import import_batches_interrupted_close; print(import_batches_interrupted_close())"
        )],
        env=env, check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert closer.stdout.strip() == "1", closer.stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT status FROM imports_importbatch").fetchall() == [("failed",)]
    [(status, exception, reason)] = _task_rows(db)
    assert (status, exception) == ("FAILED", "vaxreg.core.task_results.WorkerStopped")
    assert "Lô nhập #1: Quá trình nhập đã dừng" in reason and "Import batch #1: The import stopped" in reason

    rerun = _vaxreg(["import", str(path), "--quiet"], env)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert _counts(db) == (60_000, 60_000)
    again = _vaxreg(["import", str(path), "--quiet"], env)
    again.communicate(timeout=300)
    assert _counts(db) == (60_000, 60_000)
