"""Work handed to forked processes: one way to fork, so that a worker neither trips over what its parent
holds nor, when it dies, leaves its parent waiting for ever.

Two things went wrong with bare ``multiprocessing.Pool`` and ``fork``:

- A forked child inherits every object of its parent, among them objects of C extensions that are only
  valid in the parent (a greenlet of a thread the child does not have, a connection's handle). When the
  child's garbage collector walks them it may crash the child with a segmentation fault. Freezing the
  collector just before the fork (``gc.freeze``, as the Python documentation advises for fork without
  exec) leaves the inherited objects out of every collection in the child; the parent unfreezes after.
- ``Pool.imap`` waits for ever for the result of a task whose worker died. ``ProcessPoolExecutor`` says
  so instead (``BrokenProcessPool``), and here that becomes ``WorkerLost``, which a caller can answer by
  doing the rest itself.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


class WorkerLost(RuntimeError):
    """A forked worker ended without answering (killed, or crashed): its task and those after it are
    not done. ``done`` says how many results, in task order, were handed out before."""

    def __init__(self, done: int) -> None:
        super().__init__(f"a worker process ended without answering, after {done} results in order")
        self.done = done


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def frozen_for_fork() -> Generator[None, None, None]:
    """Keep every object that exists now out of the garbage collections of processes forked inside."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def forked_map(
    function: Callable[[Task], Result],
    tasks: Iterable[Task],
    *,
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Result]:
    """``function`` over ``tasks`` on ``workers`` forked processes, the results in task order.

    Raises ``WorkerLost`` when a worker dies, once the results before its task have been handed out.
    The workers are stopped when the caller stops reading.
    """
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=initializer,
        initargs=initargs,
    )
    done = 0
    try:
        with frozen_for_fork():  # every worker is forked by the first submit, which map makes
            results = executor.map(function, tasks)
        for result in results:
            yield result
            done += 1
    except BrokenProcessPool as broken:
        raise WorkerLost(done) from broken
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
