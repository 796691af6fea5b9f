"""The one place that asks what time it is, so that tests can move time."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def today() -> dt.date:
    return timezone.localdate()


@contextmanager
def moved_to(moment: dt.datetime) -> Iterator[None]:
    """Run the block as if it were ``moment`` (the demo's replay of past days of work; tests): every
    ``now()`` and ``today()`` inside it reads that moment, plus the time the block has taken."""
    global now, today
    real_now, real_today = now, today
    offset = moment - real_now()

    def moved_now() -> dt.datetime:
        return real_now() + offset

    def moved_today() -> dt.date:
        return timezone.localdate(moved_now())

    now, today = moved_now, moved_today
    try:
        yield
    finally:
        now, today = real_now, real_today
