import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.core.i18n import both_languages
from vaxreg.quality.hooks import after_scan_run
from vaxreg.quality.rules import RULES
from vaxreg.quality.selectors import open_findings_by_code
from vaxreg.quality.services import ScanProgress, quality_scan


class Command(BaseCommand):
    help = (
        "Run every data-quality rule (SPEC §5) over all persons, or those of one province, and bring the "
        "stored findings in line: new findings are opened, findings whose cause is gone are closed (kept "
        "with the time they closed), unchanged ones stay as they are; then verification cases are opened for "
        "persons with blocking findings and untouched ones closed when their cause is gone. Persons are checked in id order in "
        "batches, each committed on its own: a stopped scan can resume with --start-after-id (the last id "
        "the progress line showed). Prints a summary of opened, closed and open findings per rule code."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--province", help="only persons of this province (2-digit 2025 code)")
        parser.add_argument("--batch-size", type=int, default=5000, help="persons per batch (default 5000)")
        parser.add_argument("--start-after-id", type=int, default=0, help="resume after this person id")
        parser.add_argument("--quiet", action="store_true", help="no progress line")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        show = not options["quiet"] and sys.stderr.isatty()

        persons = both_languages(gettext_noop("persons"))

        def progress(p: ScanProgress) -> None:
            if show:
                rate = p.persons_done / max(time.monotonic() - started, 1e-6)
                sys.stderr.write(
                    f"\r  {p.persons_done:,}/{p.persons_total:,} {persons}  ({rate:,.0f}/s)  "
                    f"id {p.last_id}   "
                )
                sys.stderr.flush()

        result = quality_scan(
            province_code=options["province"],
            batch_size=options["batch_size"],
            start_after_id=options["start_after_id"],
            progress=progress,
        )
        if show:
            sys.stderr.write("\n")
        after_scan_run(province_code=options["province"])  # verification cases follow the findings
        elapsed = time.monotonic() - started
        checked = gettext_noop("checked %(persons)s persons in %(seconds)s s")
        self.stdout.write(
            both_languages(checked, {"persons": f"{result.persons:,}", "seconds": f"{elapsed:.1f}"})
        )
        open_now = open_findings_by_code()
        codes = [rule.code for rule in RULES] + ["ID_SHARED"]
        self.stdout.write(f"{'code':<24}{'mở/opened':>12}{'đóng/closed':>13}{'đang mở/open':>14}")
        for code in codes:
            if result.opened[code] or result.closed[code] or open_now.get(code):
                self.stdout.write(
                    f"{code:<24}{result.opened[code]:>12,}{result.closed[code]:>13,}"
                    f"{open_now.get(code, 0):>14,}"
                )
