import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext_noop

from vaxreg.core.i18n import both_languages
from vaxreg.places.services import SyncCount, reference_load
from vaxreg.vaccinations.services import catalogue_load


class Command(BaseCommand):
    help = (
        "Load the reference data: the 34 provinces and 3,321 communes of the 2025 "
        "reform, the 63 old provinces (with their CCCD prefixes), old districts and communes each mapped "
        "to its 2025 unit (from the MIT-licensed vietnamadminunits package), and the vaccine catalogue "
        "with its aliases and rule parameters (vaxreg/vaccinations/data/catalogue.json). Safe to run "
        "again: rows that are already right are not written. With -v 0 nothing is printed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        verbosity = options["verbosity"]
        places = reference_load(verbosity=verbosity)
        catalogue = catalogue_load()
        if verbosity == 0:
            return
        for label, count in [*places.items(), *catalogue.items()]:
            if isinstance(count, SyncCount):
                self.stdout.write(
                    f"{label:<24} {count.total:>6}  (mới/new {count.created}, "
                    f"cập nhật/updated {count.updated}, giữ nguyên/unchanged {count.unchanged})"
                )
        unmapped = places["legacy_communes_unmapped"]
        without_communes = places["legacy_districts_without_communes"]
        self.stdout.write(
            f"{both_languages(gettext_noop('old communes without a 2025 commune'))}: {unmapped}"
        )
        self.stdout.write(
            f"{both_languages(gettext_noop('old districts without communes'))}: {without_communes}"
        )
        done = both_languages(
            gettext_noop("Done in %(seconds)s s"), {"seconds": f"{time.monotonic() - started:.1f}"}
        )
        self.stdout.write(self.style.SUCCESS(done))
