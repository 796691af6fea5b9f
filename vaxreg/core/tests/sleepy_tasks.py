"""A background task for the worker tests: one that takes long enough to be killed in the middle."""

import time

from django_tasks import task


@task()
def sleep_task(seconds: float) -> None:
    time.sleep(seconds)
