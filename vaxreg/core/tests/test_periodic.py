import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection

from vaxreg.core import clock, periodic
from vaxreg.core.models import RateCounter
from vaxreg.core.periodic import (
    JobOutcome,
    PeriodicJob,
    periodic_autodiscover,
    periodic_last_run,
    periodic_loop,
    periodic_round,
    periodic_run,
)

MINUTE = dt.timedelta(minutes=1)


class Clock:
    """The time the code under test sees: starts now, moves only when told."""

    def __init__(self) -> None:
        self.at = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def job_calls() -> list[str]:
    return []


def _job(name: str, calls: list[str], *, every: dt.timedelta = MINUTE) -> PeriodicJob:
    return PeriodicJob(name=name, every=every, func=lambda: calls.append(name))


def test_the_worker_finds_every_apps_jobs_in_order() -> None:
    names = [job.name for job in periodic_autodiscover()]
    assert {"complaints_tick", "notices_send", "rate_counters_prune"} <= set(names)
    assert names.index("complaints_tick") < names.index("notices_send")  # a tick's notices go out at once
    jobs = {job.name: job for job in periodic_autodiscover()}
    assert jobs["complaints_tick"].every == jobs["notices_send"].every == MINUTE
    assert jobs["rate_counters_prune"].every == dt.timedelta(hours=1)


@pytest.mark.django_db
def test_a_job_runs_once_per_period_whatever_the_number_of_rounds(
    moved_clock: Clock, job_calls: list[str]
) -> None:
    job = _job("clean-up", job_calls)
    assert periodic_run(job) == JobOutcome.RAN
    assert periodic_last_run("clean-up") == moved_clock.at
    moved_clock.at += dt.timedelta(seconds=59)
    assert periodic_run(job) == JobOutcome.NOT_DUE
    assert periodic_run(job) == JobOutcome.NOT_DUE
    moved_clock.at += dt.timedelta(seconds=1)
    assert periodic_run(job) == JobOutcome.RAN
    assert job_calls == ["clean-up", "clean-up"]
    row = RateCounter.objects.get(key="periodic:clean-up")
    assert (row.window_start, row.count) == (moved_clock.at, 2)


@pytest.mark.django_db
def test_a_clock_set_back_does_not_hold_a_job_off(moved_clock: Clock, job_calls: list[str]) -> None:
    job = _job("clean-up", job_calls)
    periodic_run(job)
    moved_clock.at -= dt.timedelta(hours=3)
    assert periodic_run(job) == JobOutcome.RAN


@pytest.mark.django_db
def test_a_failing_job_keeps_its_period_and_the_others_still_run(
    moved_clock: Clock, job_calls: list[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("the SMS gateway said no")

    jobs = [PeriodicJob(name="broken", every=MINUTE, func=broken), _job("after", job_calls)]
    assert periodic_round(jobs) == {"broken": JobOutcome.FAILED, "after": JobOutcome.RAN}
    assert periodic_round(jobs) == {"broken": JobOutcome.NOT_DUE, "after": JobOutcome.NOT_DUE}
    moved_clock.at += MINUTE
    assert periodic_round(jobs)["broken"] == JobOutcome.FAILED
    assert job_calls == ["after", "after"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_the_same_job_at_once() -> None:
    inside, release = threading.Event(), threading.Event()

    def slow() -> None:
        inside.set()
        release.wait(10)

    job = PeriodicJob(name="slow", every=dt.timedelta(seconds=1), func=slow)
    other = PeriodicJob(name="other", every=MINUTE, func=lambda: None)
    results: dict[str, Any] = {}

    def first_worker() -> None:
        results["first"] = periodic_run(job)
        connection.close()

    first = threading.Thread(target=first_worker)
    first.start()
    assert inside.wait(10)
    try:
        # Another worker (here a thread with its own database connection) finds the job taken, not others.
        assert periodic_run(job) == JobOutcome.LOCKED
        assert periodic_run(other) == JobOutcome.RAN
    finally:
        release.set()
        first.join(10)
    assert results["first"] == JobOutcome.RAN
    assert RateCounter.objects.get(key="periodic:slow").count == 1


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_runs_due_jobs_and_stops_when_told(job_calls: list[str]) -> None:
    stop = threading.Event()
    jobs = [_job("every-minute", job_calls), _job("every-hour", job_calls, every=dt.timedelta(hours=1))]
    scheduler = threading.Thread(target=periodic_loop, args=(jobs,), kwargs={"stop": stop, "recheck": 0.1})
    scheduler.start()
    try:
        for _ in range(100):
            if len(job_calls) == 2:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        scheduler.join(5)
    assert not scheduler.is_alive()
    assert sorted(job_calls) == ["every-hour", "every-minute"]


def test_a_period_must_be_positive_and_at_most_a_day() -> None:
    with pytest.raises(ValueError, match="positive"):
        periodic.periodic_register("never", dt.timedelta(0), lambda: None)
    with pytest.raises(ValueError, match="at most"):
        periodic.periodic_register("weekly", dt.timedelta(days=7), lambda: None)
    assert "never" not in {job.name for job in periodic.periodic_jobs()}
