"""Cases follow the findings: of the persons an import touched (in the import's transaction, after the
rules have re-checked them), and of a whole province after a full scan."""

from vaxreg.verification.services import cases_sync, cases_sync_all

SYNC_CHUNK = 5_000


def cases_after_import(batch_id: int, person_ids: set[int]) -> None:
    ids = sorted(person_ids)
    for start in range(0, len(ids), SYNC_CHUNK):
        cases_sync(person_ids=ids[start : start + SYNC_CHUNK])


def cases_after_scan(province_code: str | None) -> None:
    cases_sync_all(province_code=province_code)
