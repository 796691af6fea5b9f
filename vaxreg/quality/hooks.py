"""The rules' part after an import (re-check the persons it touched), and what runs after a full scan.

Rooms above quality (verification) register in their ``AppConfig.ready`` to follow a scan's findings.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from vaxreg.core.database import statistics_refresh
from vaxreg.people.models import Person
from vaxreg.quality.services import parameters_load, quality_check_persons
from vaxreg.vaccinations.models import Dose

RECHECK_CHUNK = 5_000


def recheck_after_import(batch_id: int, person_ids: set[int], provinces: set[str]) -> None:
    """Re-check the touched persons at once, in the same transaction as the import.

    An import touching more persons than ``VAXREG_IMPORT_RECHECK_INLINE_MAX`` (a province's initial load)
    would hold its transaction open for the whole re-check; its provinces are re-scanned by a background
    task queued when the import commits instead (a full scan finds the same findings).
    """
    if len(person_ids) <= settings.VAXREG_IMPORT_RECHECK_INLINE_MAX:
        ids = sorted(person_ids)
        params = parameters_load()
        for start in range(0, len(ids), RECHECK_CHUNK):  # a few thousand at a time: memory stays flat
            quality_check_persons(person_ids=ids[start : start + RECHECK_CHUNK], params=params)
        return
    from vaxreg.quality.tasks import quality_scan_task

    # The planner's statistics of the tables such a load filled are refreshed first (on commit, and commit
    # callbacks run in order), so that the scan and the cases after it read them by their indexes.
    statistics_refresh(Person, Dose)
    transaction.on_commit(lambda: quality_scan_task.enqueue(sorted(provinces)))


AfterScan = Callable[[str | None], None]  # the province scanned, or None for the whole country

_after_scan: list[tuple[str, AfterScan]] = []


def after_scan_register(name: str, handler: AfterScan) -> None:
    if all(existing != name for existing, _ in _after_scan):
        _after_scan.append((name, handler))


def after_scan_run(*, province_code: str | None) -> None:
    for _, handler in _after_scan:
        handler(province_code)
