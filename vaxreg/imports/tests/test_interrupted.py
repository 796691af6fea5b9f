"""A batch left running by a process that died is closed as failed; a batch still being imported is not."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from vaxreg.core.locks import process_lock
from vaxreg.core.models import AuditEvent
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.services import import_batch_create, import_batch_run, import_batches_interrupted_close
from vaxreg.imports.tests.conftest import row, write_csv
from vaxreg.vaccinations.models import Dose


def _left_running(tmp_path, rows: int = 3) -> ImportBatch:
    """A batch as a killed import leaves it: marked running, some rows counted, nothing stored."""
    path = write_csv(tmp_path / "doses.csv", [row(source_record_id=f"R{i}") for i in range(rows)])
    batch = import_batch_create(file_name=path.name, path=path)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING, progress_rows=2)
    return batch


@contextmanager
def _held_by_another_process(name: str) -> Iterator[None]:
    """Hold a lock as another process would: from another thread, with its own database connection."""
    taken, release = threading.Event(), threading.Event()
    outcome: list[bool] = []

    def hold() -> None:
        try:
            with process_lock(name) as held:
                outcome.append(held)
                taken.set()
                release.wait(30)
        finally:
            taken.set()
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(30)
    try:
        assert outcome == [True]
        yield
    finally:
        release.set()
        holder.join()


def test_a_batch_left_running_by_a_dead_process_is_closed_and_can_be_run_again(places, tmp_path):
    batch = _left_running(tmp_path)

    assert import_batches_interrupted_close() == 1

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED and batch.finished_at is not None
    assert (
        "không dòng nào của tệp được lưu" in batch.message
        and "no row of the file was stored" in batch.message
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT_INTERRUPTED)
    assert event.object_id == str(batch.pk) and event.detail["rows_handled_before_the_stop"] == 2
    assert import_batches_interrupted_close() == 0  # closed once

    rerun = import_batch_run(batch_id=batch.pk)
    assert rerun.status == ImportBatch.Status.DONE and rerun.rows_stored == 3
    assert Dose.objects.count() == 3


def test_a_batch_still_being_imported_is_left_alone_and_not_run_twice(places, tmp_path):
    batch = _left_running(tmp_path)

    with _held_by_another_process(f"import-batch:{batch.pk}"):
        assert import_batches_interrupted_close() == 0
        assert (
            import_batch_run(batch_id=batch.pk).status == ImportBatch.Status.RUNNING
        )  # not run a second time
        assert not Dose.objects.exists()

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.RUNNING
    assert import_batches_interrupted_close() == 1  # its process is gone now


def test_a_finished_import_leaves_nothing_to_close(places, tmp_path):
    path = write_csv(tmp_path / "doses.csv", [row(source_record_id="R1")])
    batch = import_batch_run(batch_id=import_batch_create(file_name=path.name, path=path).pk)
    assert batch.status == ImportBatch.Status.DONE
    assert import_batches_interrupted_close() == 0
