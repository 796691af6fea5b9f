from django_tasks import task

from vaxreg.quality.hooks import after_scan_run
from vaxreg.quality.services import quality_scan


@task()
def quality_scan_task(province_codes: list[str]) -> None:
    """Re-check every person of these provinces (after an import too large to re-check inline)."""
    for code in province_codes:
        quality_scan(province_code=code)
        after_scan_run(province_code=code)
