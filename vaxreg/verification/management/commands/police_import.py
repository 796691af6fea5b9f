from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vaxreg.accounts.models import User
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
            raise CommandError(f"Không tìm thấy tệp / file not found: {path}")
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(
                f"Không có tài khoản “{options['user']}” / no active account “{options['user']}”"
            )
        try:
            report = police_results_import(actor=user, file_name=path.name, content=path.read_bytes())
        except (FileRefused, CaseActionRefused) as refused:
            raise CommandError(refused.bilingual("\n")) from refused
        self.stdout.write(report_summary(report))
        for rejected in report.rejected[:REJECTED_PRINTED]:
            for reason in rejected.reasons:
                column = f" [{reason.column}]" if reason.column else ""
                self.stdout.write(
                    f"  dòng / row {rejected.row}{column}: {reason.message_vi} / {reason.message_en}"
                )
        if report.rows_rejected > REJECTED_PRINTED:
            self.stdout.write(
                f"  … {report.rows_rejected - REJECTED_PRINTED} dòng nữa / more rows (--report)"
            )
        if options["report"]:
            options["report"].write_bytes(report.as_csv())
            self.stdout.write(f"Báo cáo / report: {options['report']}")


def report_summary(report: PoliceImportReport) -> str:
    balanced = report.adds_up
    return "\n".join(
        [
            f"Tệp kết quả công an / police result file: {report.file_name}",
            f"  Dòng đọc / rows read:          {report.rows_read:>8,}",
            f"  Dòng đã ghi / applied:         {report.rows_applied:>8,}",
            f"  Dòng bị từ chối / rejected:    {report.rows_rejected:>8,}",
            f"  (đọc = ghi + từ chối / read = applied + rejected: {'OK' if balanced else 'MISMATCH'})",
            f"  Dòng trống bỏ qua / blank:     {report.rows_blank:>8,}",
        ]
    )
