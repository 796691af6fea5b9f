from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop, pgettext_lazy

from vaxreg.accounts.models import User
from vaxreg.core.i18n import both_languages
from vaxreg.imports.readers import FileRefused
from vaxreg.verification.police import PoliceImportReport, police_results_import
from vaxreg.verification.services import CaseActionRefused

REJECTED_PRINTED = 50


class Command(BaseCommand):
    help = (
        "Import the commune police's result file (.xlsx or CSV; the export of escalated cases with the result "
        "columns filled in works as it is): one row per case with the case ID, the result MATCH / MISMATCH / "
        "NOT_FOUND and the identity the police verified (name, birth date, gender, ID number). Each row is "
        "recorded as the police result of that case, on behalf of --user (a police account of the cases' "
        "commune), with the file as source in the person's history. Rows that cannot be applied (unknown case, "
        "case of another commune or not waiting for the police, bad result, unreadable date...) are listed "
        "with their row, column and reason, and written with every other row to --report; the other rows are "
        "applied. Rows read = applied + rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the .xlsx or .csv result file")
        parser.add_argument("--user", required=True, help="username of the commune police account")
        parser.add_argument(
            "--report", type=Path, help="write the report (every row and its outcome) to this .csv"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{both_languages(gettext_noop('file not found'))}: {path}")
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            no_account = gettext_noop("no active account “%(username)s”")
            raise CommandError(both_languages(no_account, {"username": options["user"]}))
        try:
            report = police_results_import(actor=user, file_name=path.name, content=path.read_bytes())
        except (FileRefused, CaseActionRefused) as refused:
            raise CommandError(refused.bilingual("\n")) from refused
        self.stdout.write(report_summary(report))
        for rejected in report.rejected[:REJECTED_PRINTED]:
            for reason in rejected.reasons:
                column = f" [{reason.column}]" if reason.column else ""
                self.stdout.write(
                    f"  {both_languages(pgettext_lazy('file row', 'row'))} {rejected.row}{column}: "
                    f"{reason.message_vi} / {reason.message_en}"
                )
        if report.rows_rejected > REJECTED_PRINTED:
            more = gettext_noop("%(count)s more rows")
            self.stdout.write(
                f"  … {both_languages(more, {'count': report.rows_rejected - REJECTED_PRINTED})} (--report)"
            )
        if options["report"]:
            options["report"].write_bytes(report.as_csv())
            self.stdout.write(f"{both_languages(gettext_noop('report'))}: {options['report']}")


def report_summary(report: PoliceImportReport) -> str:
    balanced = report.adds_up
    counts = [
        (pgettext_lazy("import summary", "rows read"), report.rows_read),
        (pgettext_lazy("import summary", "applied"), report.rows_applied),
        (pgettext_lazy("import summary", "rejected"), report.rows_rejected),
    ]
    return "\n".join(
        [
            f"{both_languages(gettext_noop('police result file'))}: {report.file_name}",
            *(f"  {both_languages(label) + ':':<31}{value:>8,}" for label, value in counts),
            f"  ({both_languages(gettext_noop('read = applied + rejected'))}: {'OK' if balanced else 'MISMATCH'})",
            f"  {both_languages(pgettext_lazy('import summary', 'blank')) + ':':<31}{report.rows_blank:>8,}",
        ]
    )
