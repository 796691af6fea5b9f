from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vaxreg.places.models import Facility
from vaxreg.quality.exports import findings_export_write


class Command(BaseCommand):
    help = (
        "Export the open data-quality findings, one row per (finding, source record): facility code, source "
        "record id, rule code, severity and the message in Vietnamese and English, so that each facility can "
        "correct its own source system. A finding about a person is listed once for each of that person's "
        "dose records; a finding about one dose once. Written as .csv (UTF-8 with BOM) or .xlsx, by the "
        "extension of --out. Run `vaxreg quality scan` first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--facility", help="only the records of this facility code")
        parser.add_argument("--out", type=Path, required=True, help="the .csv or .xlsx file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        facility = options["facility"]
        if facility and not Facility.objects.filter(code=facility).exists():
            raise CommandError(
                f"Mã cơ sở tiêm “{facility}” không có trong danh mục.\nThe facility code “{facility}” is not in the list."
            )
        out: Path = options["out"]
        if out.suffix.lower() not in (".csv", ".xlsx"):
            raise CommandError("Tệp xuất phải là .csv hoặc .xlsx.\nThe output file must be .csv or .xlsx.")
        written = findings_export_write(out=out, facility_code=facility)
        self.stdout.write(f"{written:,} dòng / rows → {out}")
