"""Background work of the dashboards: recount what the writes marked (queued after a large write, and
every minute for what is left), and rebuild every figure once a day as a safety net."""

import dataclasses
import datetime as dt
from typing import Any

from django_tasks import task

from vaxreg.core.periodic import periodic_register
from vaxreg.dashboards.services import rollups_rebuild, rollups_refresh


@task()
def rollups_refresh_task() -> dict[str, Any] | None:
    """Recount the units marked stale (queued when a write marked more than a few)."""
    result = rollups_refresh()
    return dataclasses.asdict(result) if result else None


periodic_register("dashboards_refresh", every=dt.timedelta(minutes=1), func=rollups_refresh)
periodic_register("dashboards_rebuild", every=dt.timedelta(days=1), func=rollups_rebuild)
