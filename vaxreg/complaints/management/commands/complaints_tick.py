import argparse
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from django.utils.translation import gettext_noop

from vaxreg.complaints.deadline import complaints_tick
from vaxreg.core.i18n import both_languages


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date and time") from exc
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "The complaints' clock (SPEC §7), for cron: remind the handlers of every open complaint with less "
        "than 12 hours left, and escalate every complaint past its 48 hours to the province's health "
        "department, counting it late. Each happens exactly once per complaint: the times are kept in the "
        "database, so running it again, or after a restart, repeats nothing and skips nothing. "
        "`vaxreg worker` runs this every minute by itself; the notices it queues are sent by the worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            type=_instant,
            help=(
                "tick as if it were this moment (ISO 8601, e.g. 2026-11-28T10:00:00+07:00; without an offset "
                "it is Vietnam's time): for rehearsals and tests on a copy of the data, never in service"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = complaints_tick(now=options["now"])
        ticked = gettext_noop("reminded %(reminded)s, escalated %(escalated)s")
        self.stdout.write(
            both_languages(ticked, {"reminded": result.reminded, "escalated": result.escalated})
        )
