"""Cases follow the findings: of the persons an import touched (in the import's transaction), and of a
whole province after a full scan."""

from django.conf import settings

from vaxreg.verification.services import cases_sync, cases_sync_all


def cases_after_import(batch_id: int, person_ids: set[int], provinces: set[str]) -> None:
    # Past the inline limit the rules run later in a background scan, which syncs the cases when done.
    if len(person_ids) <= settings.VAXREG_IMPORT_RECHECK_INLINE_MAX:
        cases_sync(person_ids=person_ids)


def cases_after_scan(province_code: str | None) -> None:
    cases_sync_all(province_code=province_code)
