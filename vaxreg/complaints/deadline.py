"""The 48-hour clock: a reminder when 12 hours are left, escalation to the province past due."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_noop

from vaxreg.complaints.common import complaint_history_write, notice_queue
from vaxreg.complaints.models import OPEN_STATES, Complaint, Notice
from vaxreg.complaints.notify import unit_recipient
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages

REMINDER_BEFORE = dt.timedelta(hours=12)
REMINDER = gettext_noop("Complaint %(code)s: less than 12 hours left.")
ESCALATED = gettext_noop("Complaint %(code)s is past due: escalated to the health department.")


@dataclass(frozen=True)
class TickResult:
    reminded: int
    escalated: int


@transaction.atomic
def complaints_tick(*, now: dt.datetime | None = None) -> TickResult:
    """Send the 12-hours-left reminders and escalate what is past due, each exactly once.

    The times live in the database: a complaint is reminded when ``reminded_at`` is still empty and
    escalated when ``escalated_at`` is, and both are set in the same transaction as their notice (itself
    unique per complaint and kind). A tick that runs twice, or after a restart, repeats nothing and skips
    nothing.
    """
    now = now or clock.now()
    open_ = (
        Complaint.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state__in=OPEN_STATES)
        .select_related("handler_facility")
    )
    reminded = 0
    for complaint in open_.filter(reminded_at=None, due_at__gt=now, due_at__lte=now + REMINDER_BEFORE):
        complaint.reminded_at = now
        complaint.save(update_fields=["reminded_at"])
        complaint_history_write(
            complaint,
            {"reminded_at": (None, now)},
            actor_id=None,
            reason=both_languages(gettext_noop("12 hours left")),
        )
        notice_queue(
            complaint,
            Notice.Kind.REMINDER,
            both_languages(REMINDER, {"code": complaint.tracking_code}),
            recipient=unit_recipient(
                facility_code=complaint.handler_facility.code if complaint.handler_facility else None,
                province_code=complaint.handler_province_id,
            ),
        )
        reminded += 1
    escalated = 0
    for complaint in open_.filter(escalated_at=None, due_at__lte=now):
        complaint.escalated_at = now
        complaint.save(update_fields=["escalated_at"])
        complaint_history_write(
            complaint,
            {"escalated_at": (None, now)},
            actor_id=None,
            reason=both_languages(gettext_noop("past the 48 hours")),
        )
        notice_queue(
            complaint,
            Notice.Kind.ESCALATED,
            both_languages(ESCALATED, {"code": complaint.tracking_code}),
            recipient=unit_recipient(province_code=complaint.handler_province_id),
        )
        escalated += 1
    return TickResult(reminded=reminded, escalated=escalated)
