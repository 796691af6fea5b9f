"""The rows of background tasks (django-tasks' database backend) left running by a worker that died.

A worker marks a task's row RUNNING when it takes the task, and SUCCESSFUL or FAILED when the task ends; a
worker killed in between (``kill -9``, the machine lost) leaves the row RUNNING for ever. So each task runs
under a lock of its own (see ``vaxreg.core.locks``), taken when the task starts and released when its row
is final: a RUNNING row whose lock can be taken belongs to a worker that no longer lives, and the periodic
job ``task_results_interrupted_close`` marks it FAILED, saying why. An app that knows more closes its own
rows at once and with its own words (an import's row with its batch: ``task_result_interrupted_close``).
"""

import datetime as dt
import logging
from contextlib import ExitStack
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.compat import TaskResultStatus, task_finished, task_started
from django_tasks_db.models import DBTaskResult

from vaxreg.core import clock
from vaxreg.core.locks import process_lock, process_lock_forget

logger = logging.getLogger(__name__)

# A worker takes a task's lock a moment after marking its row RUNNING (in another transaction): a row is
# only looked at once it has been running longer than that moment could last.
STARTING_GRACE = dt.timedelta(minutes=1)

STOPPED_VI = "Tiến trình chạy việc nền đã dừng giữa chừng (bị tắt hoặc máy chủ khởi động lại); việc này không chạy xong."
STOPPED_EN = "The worker running this task stopped before it finished (killed, or the server restarted)."

_held: dict[str, ExitStack] = {}  # result id → the lock of the task this worker runs


class WorkerStopped(Exception):
    """The reason given on a task row closed because its worker died (its ``exception_class_path``)."""


def _lock_name(result_id: str) -> str:
    return f"task-result:{result_id}"


def _in_database(sender: Any) -> bool:
    # django-tasks sends the backend's class, or (the database worker, as the task starts) the backend itself.
    backend = sender if isinstance(sender, type) else type(sender)
    return issubclass(backend, DatabaseBackend)


def task_lock_take(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """``task_started``: hold the task's lock until its row is final (only rows in the database have one).
    Never raises: the task runs whatever becomes of its lock."""
    if not _in_database(sender):
        return
    result_id = str(task_result.id)
    held = ExitStack()
    try:
        taken = held.enter_context(process_lock(_lock_name(result_id)))
    except Exception:
        logger.exception("task %s: its lock cannot be taken; the task runs without it", result_id)
        return
    if not taken:
        # ``task_results_interrupted_close`` looks only at rows older than STARTING_GRACE: not this one.
        logger.warning("task %s: its lock is held elsewhere; the task runs without it", result_id)
        held.close()
        return
    _held[result_id] = held


def task_lock_release(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """``task_finished``: the row is final; the lock is released and, being of this run only, forgotten."""
    result_id = str(task_result.id)
    held = _held.pop(result_id, None)
    if held is not None:
        try:
            held.close()
            process_lock_forget(_lock_name(result_id))
        except Exception:  # the lock goes with the connection or the process anyway
            logger.exception("task %s: its lock cannot be released", result_id)


def task_locks_connect() -> None:
    task_started.connect(task_lock_take, dispatch_uid="vaxreg.task_lock_take")
    task_finished.connect(task_lock_release, dispatch_uid="vaxreg.task_lock_release")


def task_result_interrupted_close(
    *, result_id: str, reason_vi: str = STOPPED_VI, reason_en: str = STOPPED_EN
) -> bool:
    """Mark the task row FAILED with the reason when it is RUNNING and no living worker holds its lock;
    whether it was."""
    name = _lock_name(result_id)
    with process_lock(name) as held:
        if not held:
            return False
        closed = _task_result_failed(result_id=result_id, reason=f"{reason_vi}\n{reason_en}")
    process_lock_forget(name)
    return closed


@transaction.atomic
def _task_result_failed(*, result_id: str, reason: str) -> bool:
    return bool(
        DBTaskResult.objects.filter(pk=result_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            return_value=None,
            exception_class_path=f"{WorkerStopped.__module__}.{WorkerStopped.__qualname__}",
            traceback=reason,
        )
    )


def task_results_running(*, task_path: str, args: list[Any]) -> list[str]:
    """The ids of the RUNNING rows of the task ``task_path`` (its module path) called with ``args``."""
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, task_path=task_path)
    return [str(pk) for pk, called in running.values_list("pk", "args_kwargs") if called.get("args") == args]


def task_results_interrupted_close() -> int:
    """Mark FAILED every task row left RUNNING by a worker that died (any task: imports, re-scans, messages);
    how many were. A row still starting, or whose worker lives, is left alone."""
    started_before = clock.now() - STARTING_GRACE
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=started_before)
    return sum(
        task_result_interrupted_close(result_id=str(pk)) for pk in running.values_list("pk", flat=True)
    )


def task_waiting(task_path: str) -> bool:
    """Whether a row of this task (its dotted path) waits in the queue, not yet taken by a worker: a task
    that does all there is to do when it runs need not be queued twice."""
    return DBTaskResult.objects.ready().filter(task_path=task_path).exists()
