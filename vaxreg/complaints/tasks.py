"""Background work of the complaints: the 48-hour clock and sending notices, every minute in the worker.

Notices are sent at most a minute after they are queued. ``notices_send_task`` sends them at once, for an
operator who will not wait for the next round (``notices_send_task.enqueue()``; the worker runs it).
"""

import dataclasses
import datetime as dt

from django_tasks import task

from vaxreg.complaints.deadline import complaints_tick
from vaxreg.complaints.notify import notices_send
from vaxreg.core.periodic import periodic_register


@task()
def notices_send_task() -> dict[str, int]:
    """Send the queued complaint notices now."""
    return dataclasses.asdict(notices_send())


# In this order: the notices a tick queues go out in the same round.
periodic_register("complaints_tick", every=dt.timedelta(minutes=1), func=complaints_tick)
periodic_register("notices_send", every=dt.timedelta(minutes=1), func=notices_send)
