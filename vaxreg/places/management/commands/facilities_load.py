from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop, pgettext_lazy

from vaxreg.core.i18n import both_languages, label_halves
from vaxreg.places.services import FacilityFileError, facilities_load_csv


class Command(BaseCommand):
    help = (
        "Load vaccination facilities from a CSV file with the columns "
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
            raise CommandError(f"{both_languages(gettext_noop('file not found'))}: {path}")
        try:
            result = facilities_load_csv(path=path)
        except FacilityFileError as exc:
            raise CommandError(str(exc)) from exc
        for error in result.errors:
            self.stderr.write(str(error))
        counts = [
            (pgettext_lazy("facilities load", "new"), result.created),
            (pgettext_lazy("facilities load", "updated"), result.updated),
            (pgettext_lazy("facilities load", "unchanged"), result.unchanged),
            (pgettext_lazy("facilities load", "rejected"), len(result.errors)),
        ]
        each = ", ".join(f"{'/'.join(label_halves(label))} {count}" for label, count in counts)
        self.stdout.write(
            f"{both_languages(pgettext_lazy('facilities load', 'rows read'))} {result.rows_read}: {each}"
        )
