from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vaxreg.places.services import FacilityFileError, facilities_load_csv


class Command(BaseCommand):
    help = (
        "Nạp cơ sở tiêm chủng / Load vaccination facilities from a CSV file with the columns "
        "code,name,commune_code (UTF-8, with or without BOM; extra columns are ignored). commune_code may be "
        "a 2025 commune code or an old one, which is mapped to its 2025 commune. Facilities are created or "
        "updated by code. Rows that cannot be stored are listed with their row number and reason; the "
        "other rows are still loaded. Run `vaxreg reference load` first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV file: code,name,commune_code")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp / File not found: {path}")
        try:
            result = facilities_load_csv(path=path)
        except FacilityFileError as exc:
            raise CommandError(str(exc)) from exc
        for error in result.errors:
            self.stderr.write(str(error))
        self.stdout.write(
            f"Đã đọc / rows read {result.rows_read}: mới/new {result.created}, "
            f"cập nhật/updated {result.updated}, "
            f"giữ nguyên/unchanged {result.unchanged}, lỗi/rejected {len(result.errors)}"
        )
