from typing import Any

from django.core.management.base import BaseCommand

from vaxreg.complaints.deadline import complaints_tick


class Command(BaseCommand):
    help = (
        "The complaints' clock (SPEC §7), for cron: remind the handlers of every open complaint with less "
        "than 12 hours left, and escalate every complaint past its 48 hours to the province's health "
        "department, counting it late. Each happens exactly once per complaint: the times are kept in the "
        "database, so running it again, or after a restart, repeats nothing and skips nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = complaints_tick()
        self.stdout.write(
            f"Nhắc {result.reminded}, chuyển Sở Y tế {result.escalated} / reminded {result.reminded}, "
            f"escalated {result.escalated}"
        )
