"""Sending the complaint notices: the outbox rows that intake, handling and the 48-hour clock queue.

Who gets what:

- ``received`` and ``outcome`` notices go to the citizen, by SMS to the phone they gave (or e-mail, if
  they gave an address);
- ``reminder`` and ``escalated`` notices are addressed to a unit (a facility, or a province's health
  department, ``SYT <code>``). They go by e-mail to the active staff accounts of that unit that have an
  e-mail address — the unit's configured contacts. A unit with none still sees the complaint marked in
  its inbox (reminded, or late and escalated), which is what the notice says: such a notice is marked
  sent "in-app only" rather than kept unsent for ever.

A notice is sent in its own transaction with its row locked (``SKIP LOCKED``), and marked sent in that
transaction, so two workers never send the same notice. A backend that refuses (``MessageNotSent``)
leaves it unsent for the next round; the error goes to the log.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import Role, User
from vaxreg.complaints.models import Notice
from vaxreg.core import clock
from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.i18n import both_languages
from vaxreg.core.messaging import MessageNotSent, message_send
from vaxreg.core.models import SourceType

logger = logging.getLogger(__name__)

PROVINCE_UNIT_PREFIX = "SYT "
UNIT_KINDS = (Notice.Kind.REMINDER, Notice.Kind.ESCALATED)
# This many refusals in a row means the backend itself is down: stop, and try again next round.
FAILURES_BEFORE_PAUSE = 5


def unit_recipient(*, facility_code: str | None = None, province_code: str | None = None) -> str:
    """How a notice to a unit names it: the facility's code, or ``SYT <province code>``."""
    if facility_code:
        return facility_code
    return f"{PROVINCE_UNIT_PREFIX}{province_code}"


def unit_contacts(recipient: str) -> list[str]:
    """The e-mail addresses of the active staff accounts of the unit a notice is addressed to."""
    users = User.objects.filter(is_active=True).exclude(email="")
    if recipient.startswith(PROVINCE_UNIT_PREFIX):
        users = users.filter(role=Role.PROVINCE, province_id=recipient.removeprefix(PROVINCE_UNIT_PREFIX))
    else:
        users = users.filter(role=Role.FACILITY, facility__code=recipient)
    return sorted(set(users.values_list("email", flat=True)))


@dataclass(frozen=True)
class NoticesSent:
    sent: int  # delivered to the citizen, or to at least one contact of the unit
    in_app: int  # a unit without contacts: the notice stands in its inbox only
    failed: int  # refused by the backend: left unsent for the next round


def _subject(notice: Notice) -> str:
    return f"VaxReg: phản ánh {notice.complaint.tracking_code}"


@transaction.atomic
def _notice_send_next(*, after_id: int) -> tuple[Notice | None, str]:
    notice = (
        Notice.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("complaint")
        .filter(sent_at=None, pk__gt=after_id)
        .order_by("pk")
        .first()
    )
    if notice is None:
        return None, ""
    addresses = unit_contacts(notice.recipient) if notice.kind in UNIT_KINDS else [notice.recipient]
    try:
        for address in addresses:
            message_send(to=address, text=notice.text, subject=_subject(notice))
    except MessageNotSent as exc:
        logger.warning("notice %s (%s) not sent, kept for the next round: %s", notice.pk, notice.kind, exc)
        return notice, "failed"
    notice.sent_at = clock.now()
    notice.save(update_fields=["sent_at"])
    how = (
        both_languages(gettext_noop("sent to %(count)s recipient(s)"), {"count": len(addresses)})
        if addresses
        else both_languages(gettext_noop("no contact: in-app only"))
    )
    record_change(
        entity="notice",
        entity_id=notice.pk,
        changes={"sent_at": (None, notice.sent_at)},
        source=ChangeSource(type=SourceType.COMPLAINT, id=notice.complaint.tracking_code, reason=how),
    )
    return notice, "sent" if addresses else "in_app"


def notices_send(*, limit: int = 500) -> NoticesSent:
    """Send up to ``limit`` unsent notices, oldest first (ids are given in the order notices are queued)."""
    counts = {"sent": 0, "in_app": 0, "failed": 0}
    after_id = 0
    failures_in_a_row = 0
    for _ in range(limit):
        notice, outcome = _notice_send_next(after_id=after_id)
        if notice is None:
            break
        after_id = notice.pk
        counts[outcome] += 1
        failures_in_a_row = failures_in_a_row + 1 if outcome == "failed" else 0
        if failures_in_a_row >= FAILURES_BEFORE_PAUSE:
            logger.warning("notices: %d refusals in a row; pausing until the next round", failures_in_a_row)
            break
    return NoticesSent(**counts)
