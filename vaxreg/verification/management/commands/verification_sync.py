import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.core.i18n import both_languages
from vaxreg.verification.services import cases_sync_all


class Command(BaseCommand):
    help = (
        "Bring verification cases in line with the stored findings (SPEC §6): open a case for every person "
        "with an open blocking finding and no active case (in the commune of residence, else of the latest "
        "dose), refresh the rule codes of active cases, and resolve untouched open cases whose blocking "
        "findings are gone. Walks persons in id order in batches, each committed on its own; idempotent, so "
        "it can run from cron. Imports and `vaxreg quality scan` do this themselves."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--province", help="only this province (2-digit 2025 code)")
        parser.add_argument("--batch-size", type=int, default=5000, help="persons per batch (default 5000)")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        result = cases_sync_all(batch_size=options["batch_size"], province_code=options["province"])
        synced = gettext_noop(
            "opened %(opened)s, updated %(updated)s, resolved %(resolved)s cases; %(skipped)s persons without a commune"
        )
        counts = {"opened": result.opened, "updated": result.updated, "resolved": result.resolved}
        values = {name: f"{count:,}" for name, count in {**counts, "skipped": len(result.skipped)}.items()}
        self.stdout.write(f"{both_languages(synced, values)} ({time.monotonic() - started:.1f} s)")
