"""The rules' part after an import (re-check the persons it touched), and what runs after a full scan.

Rooms above quality (verification) register in their ``AppConfig.ready`` to follow a scan's findings.
"""

from collections.abc import Callable

from vaxreg.quality.services import parameters_load, quality_check_persons

RECHECK_CHUNK = 5_000


def recheck_after_import(batch_id: int, person_ids: set[int]) -> None:
    """Re-check the touched persons at once, in the same transaction as the import, a few thousand at a
    time so that memory stays flat however large the file."""
    ids = sorted(person_ids)
    if not ids:
        return
    params = parameters_load()
    for start in range(0, len(ids), RECHECK_CHUNK):
        quality_check_persons(person_ids=ids[start : start + RECHECK_CHUNK], params=params)


AfterScan = Callable[[str | None], None]  # the province scanned, or None for the whole country

_after_scan: list[tuple[str, AfterScan]] = []


def after_scan_register(name: str, handler: AfterScan) -> None:
    if all(existing != name for existing, _ in _after_scan):
        _after_scan.append((name, handler))


def after_scan_run(*, province_code: str | None) -> None:
    for _, handler in _after_scan:
        handler(province_code)
