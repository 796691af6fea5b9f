import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop, pgettext_lazy

from vaxreg.core.i18n import both_languages
from vaxreg.core.tables import rows_add_up
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.pipeline import ImportCounts
from vaxreg.imports.services import ImportRefused, import_batch_create, import_batch_run


class Command(BaseCommand):
    help = (
        "Import a CSV or Excel (.xlsx) file of dose records in the template of the specification: one row per "
        "dose, headers in Vietnamese or English. The whole file is imported in one transaction: if the "
        "command is stopped, nothing of the file is kept and it can simply be run again. Re-importing a file "
        "changes nothing; a changed row updates its records with history. Rows that cannot be stored (no "
        "facility, no source record id, no vaccination date) are kept with their reasons; see --report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the .csv or .xlsx file")
        parser.add_argument(
            "--facility",
            help="the facility code of every row (the file then needs no facility column); rows of other "
            "facilities are refused",
        )
        parser.add_argument(
            "--report", type=Path, help="write the rejected rows with their reasons to this .csv/.xlsx"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{both_languages(gettext_noop('file not found'))}: {path}")
        try:
            batch = import_batch_create(file_name=path.name, path=path, facility_code=options["facility"])
        except ImportRefused as refused:
            raise CommandError(refused.bilingual("\n")) from refused
        started = time.monotonic()
        show = not options["quiet"] and sys.stderr.isatty()
        rows = both_languages(gettext_noop("rows"))

        def progress(counts: ImportCounts) -> None:
            if show:
                rate = counts.rows_read / max(time.monotonic() - started, 1e-6)
                sys.stderr.write(f"\r  {counts.rows_read:,} {rows}  ({rate:,.0f}/s)   ")
                sys.stderr.flush()

        batch = import_batch_run(batch_id=batch.pk, progress=progress)
        if show:
            sys.stderr.write("\n")
        elapsed = time.monotonic() - started
        if batch.status == ImportBatch.Status.REFUSED:
            raise CommandError(f"{both_languages(gettext_noop('file refused'))}: {path}\n{batch.message}")
        self.stdout.write(batch_summary(batch, elapsed))
        if options["report"] and batch.rows_rejected:
            from vaxreg.imports.services import rejected_rows_report

            fmt = "xlsx" if options["report"].suffix.lower() == ".xlsx" else "csv"
            content, _, _ = rejected_rows_report(batch=batch, actor=None, fmt=fmt)
            options["report"].write_bytes(content)
            self.stdout.write(f"{both_languages(gettext_noop('rejected rows report'))}: {options['report']}")


def batch_summary(batch: ImportBatch, elapsed: float) -> str:
    adds_up = rows_add_up(read=batch.rows_read, stored=batch.rows_stored, rejected=batch.rows_rejected)
    balanced = "OK" if adds_up else "MISMATCH"
    counts = [
        (pgettext_lazy("import summary", "rows read"), batch.rows_read),
        (pgettext_lazy("import summary", "rows stored"), batch.rows_stored),
        (pgettext_lazy("import summary", "rejected"), batch.rows_rejected),
    ]
    more = [
        (pgettext_lazy("import summary", "blank"), batch.rows_blank),
        (pgettext_lazy("import summary", "persons created"), batch.persons_created),
        (pgettext_lazy("import summary", "updated"), batch.persons_updated),
        (pgettext_lazy("import summary", "doses created"), batch.doses_created),
        (pgettext_lazy("import summary", "doses updated"), batch.doses_updated),
        (pgettext_lazy("import summary", "unchanged"), batch.doses_unchanged),
    ]
    rate = batch.rows_read / max(elapsed, 1e-6)
    return "\n".join(
        [
            f"{both_languages(gettext_noop('batch'))} #{batch.pk}: {batch.file_name}",
            *(f"  {both_languages(label) + ':':<31}{value:>10,}" for label, value in counts),
            f"  ({both_languages(gettext_noop('read = stored + rejected'))}: {balanced})",
            *(f"  {both_languages(label) + ':':<31}{value:>10,}" for label, value in more),
            f"  {both_languages(gettext_noop('IDs with leading zeros restored'))}: {batch.ids_repaired:,}",
            f"  {both_languages(gettext_noop('time'))}: {elapsed:.1f} s "
            f"({both_languages(gettext_noop('%(rate)s rows/s'), {'rate': f'{rate:,.0f}'})})",
        ]
    )
