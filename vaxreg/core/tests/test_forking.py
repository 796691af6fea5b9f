"""Forked workers: results in order, a lost worker said at once (never waited for), inherited objects
left out of the workers' garbage collections."""

import gc
import os
import time

import pytest

from vaxreg.core.forking import WorkerLost, can_fork, forked_map

pytestmark = pytest.mark.skipif(not can_fork(), reason="fork is not available here")


def _square(n: int) -> int:
    return n * n


def _dies_on_five(n: int) -> int:
    if n == 5:
        os._exit(70)  # as a crash would: no answer, no exception sent back
    time.sleep(0.01 * (n % 3))  # answers come out of order; they are handed out in order
    return n


def _inherited_and_frozen(_: int) -> int:
    return gc.get_freeze_count()


def test_results_come_in_task_order() -> None:
    assert list(forked_map(_square, range(40), workers=2)) == [n * n for n in range(40)]


def test_a_lost_worker_is_said_at_once_after_the_results_before_it() -> None:
    handed: list[int] = []
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        for result in forked_map(_dies_on_five, range(20), workers=2):
            handed.append(result)
    assert time.monotonic() - started < 30
    assert handed == list(range(lost.value.done))
    assert lost.value.done <= 5


def test_the_workers_leave_what_they_inherited_out_of_their_collections() -> None:
    # Everything the parent held at the fork is in the permanent generation of each worker.
    frozen = list(forked_map(_inherited_and_frozen, range(4), workers=2))
    assert all(count > 0 for count in frozen)
    assert gc.get_freeze_count() == 0  # the parent collects as before
