import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext_noop

from vaxreg.core.i18n import both_languages
from vaxreg.dashboards.services import RefreshResult, rollups_rebuild, rollups_refresh


class Command(BaseCommand):
    help = (
        "The figures the dashboards read (SPEC §9), kept per unit. `refresh` recounts the units that writes "
        "marked stale and not yet recounted (imports, corrections, cases and complaints mark them, and "
        "the worker recounts them within a minute; safe to run at any time). `rebuild` counts every unit's "
        "figures again from the records: a repair after a restore or a change made outside the services "
        "(the worker also runs it once a day). Both print what they recounted and how long it took."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["refresh", "rebuild"])
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        result: RefreshResult | None
        result = rollups_rebuild() if options["action"] == "rebuild" else rollups_refresh()
        if result is None:
            self.stdout.write(both_languages(gettext_noop("Another process is recounting; nothing to do.")))
            return
        if options["json"]:
            self.stdout.write(json.dumps(result.__dict__))
            return
        done = gettext_noop(
            "%(marks)s marks: %(facilities)s facilities, %(communes)s communes, %(provinces)s provinces "
            "recounted in %(seconds)s s"
        )
        if result.rebuilt:
            done = gettext_noop("every unit counted again in %(seconds)s s")
        self.stdout.write(
            both_languages(
                done,
                {
                    "marks": f"{result.marks:,}",
                    "facilities": f"{result.facilities:,}",
                    "communes": f"{result.communes:,}",
                    "provinces": f"{result.provinces:,}",
                    "seconds": f"{result.seconds:.2f}",
                },
            )
        )
