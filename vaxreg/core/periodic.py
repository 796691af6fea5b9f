"""Periodic jobs, run by ``vaxreg worker`` beside the background tasks.

An app registers its jobs in its ``tasks`` module::

    periodic_register("complaints_tick", every=dt.timedelta(minutes=1), func=complaints_tick)

and ``periodic_autodiscover`` imports the ``tasks`` module of every installed app, so the worker knows
every job without core importing any app above it. A job is a plain function without arguments that
does its own transactions; it must be safe to run again (each of ours is).

Any number of workers may run at once. Each job runs under a lock of its own name, so two workers never
run the same job at the same time: a PostgreSQL session advisory lock, or on SQLite an exclusive
``flock`` on a file beside the database. Both are released by the server or the kernel when the process
dies, so a killed worker never leaves a job locked. The time a job last started is kept in the database
(the ``RateCounter`` row ``periodic:<name>``, its ``window_start``), so that all workers, also after a
restart, agree on when the job is due again.
"""

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.db import DatabaseError, connection
from django.db.models import F
from django.utils.module_loading import autodiscover_modules

from vaxreg.core import clock
from vaxreg.core.locks import process_lock
from vaxreg.core.models import RateCounter
from vaxreg.core.ratelimit import rate_counters_prune
from vaxreg.core.task_results import task_results_interrupted_close

logger = logging.getLogger(__name__)

KEY_PREFIX = "periodic:"
LONGEST_PERIOD = dt.timedelta(days=1)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: dt.timedelta
    func: Callable[[], object]


class JobOutcome(StrEnum):
    RAN = "ran"
    FAILED = "failed"  # it ran and raised; it is due again after ``every`` like any other run
    NOT_DUE = "not due"  # another worker ran it less than ``every`` ago
    LOCKED = "locked"  # another worker is running it right now


_registry: dict[str, PeriodicJob] = {}


def periodic_register(name: str, every: dt.timedelta, func: Callable[[], object]) -> None:
    """Run ``func`` every ``every`` in the worker (registering a name again replaces the job)."""
    if every <= dt.timedelta(0):
        raise ValueError(f"periodic job {name}: `every` must be positive")
    if every > LONGEST_PERIOD:
        # The last-run stamp lives among the rate counters, which `rate_counters_prune` drops after 2 days.
        raise ValueError(f"periodic job {name}: `every` must be at most {LONGEST_PERIOD}")
    _registry[name] = PeriodicJob(name=name, every=every, func=func)


def periodic_jobs() -> list[PeriodicJob]:
    """The registered jobs, in the order they were registered (the order one round runs them in)."""
    return list(_registry.values())


def periodic_autodiscover() -> list[PeriodicJob]:
    autodiscover_modules("tasks")
    return periodic_jobs()


@contextmanager
def periodic_lock(name: str) -> Iterator[bool]:
    """Hold the job's lock while the block runs; yields False at once when another worker holds it."""
    with process_lock(f"periodic:{name}") as held:
        yield held


def periodic_last_run(name: str) -> dt.datetime | None:
    return RateCounter.objects.filter(key=KEY_PREFIX + name).values_list("window_start", flat=True).first()


def _stamp(name: str, at: dt.datetime) -> None:
    # Only the lock holder writes the row, so the update-else-create cannot race.
    updated = RateCounter.objects.filter(key=KEY_PREFIX + name).update(window_start=at, count=F("count") + 1)
    if not updated:
        RateCounter.objects.create(key=KEY_PREFIX + name, window_start=at, count=1)


def periodic_run(job: PeriodicJob) -> JobOutcome:
    """Run one job if it is due and no other worker is running it."""
    with periodic_lock(job.name) as held:
        if not held:
            return JobOutcome.LOCKED
        now = clock.now()
        last = periodic_last_run(job.name)
        # A last run in the future (the clock was set back) does not hold the job off.
        if last is not None and last <= now < last + job.every:
            return JobOutcome.NOT_DUE
        # Stamped before it runs: a job that kills its process is tried again after `every`, not at once.
        _stamp(job.name, now)
        started = time.monotonic()
        try:
            result = job.func()
        except Exception:
            logger.exception("periodic job %s failed", job.name)
            return JobOutcome.FAILED
        logger.info("periodic job %s: %s (%.2f s)", job.name, result, time.monotonic() - started)
        return JobOutcome.RAN


def periodic_round(jobs: list[PeriodicJob], *, stop: threading.Event | None = None) -> dict[str, JobOutcome]:
    """Run each due job once, in order; a job that fails does not keep the others from running."""
    outcomes: dict[str, JobOutcome] = {}
    for job in jobs:
        if stop is not None and stop.is_set():
            break
        try:
            outcomes[job.name] = periodic_run(job)
        except DatabaseError:
            # The database is away (restart, network): drop the connection and try again next round.
            logger.exception("periodic job %s: database unavailable", job.name)
            outcomes[job.name] = JobOutcome.FAILED
            connection.close()
    return outcomes


def periodic_loop(jobs: list[PeriodicJob], *, stop: threading.Event, recheck: float = 5.0) -> None:
    """Run rounds until ``stop`` is set; a job already running finishes first.

    Between rounds it sleeps until the next job is due by this worker's own reckoning; a job another
    worker ran is looked at again after ``recheck`` seconds, so no worker's restart delays it for long."""
    every = {job.name: job.every.total_seconds() for job in jobs}
    next_check = dict.fromkeys(every, 0.0)
    try:
        while not stop.is_set():
            due = [job for job in jobs if next_check[job.name] <= time.monotonic()]
            for name, outcome in periodic_round(due, stop=stop).items():
                wait = recheck if outcome == JobOutcome.NOT_DUE else every[name]
                next_check[name] = time.monotonic() + wait
            stop.wait(
                max(min(next_check.values(), default=time.monotonic() + recheck) - time.monotonic(), 0.05)
            )
    finally:
        connection.close()


# Core has no ``tasks`` module: its own housekeeping is registered here.
periodic_register("rate_counters_prune", every=dt.timedelta(hours=1), func=rate_counters_prune)
periodic_register(
    "task_results_interrupted_close", every=dt.timedelta(minutes=1), func=task_results_interrupted_close
)
