"""Handling a complaint: approve (through the correction service, the complaint as source), defer, reject,
transfer. Only the complaint's handlers may act (``handlers_may_act``)."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from vaxreg.accounts.models import Role, User
from vaxreg.complaints.common import ComplaintRefused, complaint_history_write, notice_queue
from vaxreg.complaints.models import OPEN_STATES, Complaint, ComplaintState, Notice, RejectReason
from vaxreg.core import clock
from vaxreg.core.models import SourceType
from vaxreg.core.text import normalize_text
from vaxreg.corrections.services import dose_add, person_correct
from vaxreg.places.models import Facility


def handlers_may_act(user: User, complaint: Complaint) -> bool:
    """The handling facility; the province of the handler (always, and alone once escalated)."""
    if user.role == Role.FACILITY:
        return complaint.escalated_at is None and user.facility_id == complaint.handler_facility_id
    if user.role == Role.PROVINCE:
        return user.province_id == complaint.handler_province_id
    return False


def _for_action(*, actor: User, complaint_id: int) -> Complaint:
    complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
    if complaint is None or not handlers_may_act(actor, complaint):
        from django.http import Http404

        raise Http404(f"complaint {complaint_id}")
    if complaint.state not in OPEN_STATES:
        raise ComplaintRefused("Phản ánh đã xử lý xong.", "The complaint is already closed.")
    return complaint


def _close(
    complaint: Complaint, state: ComplaintState, *, actor: User, outcome: str, extra: tuple[str, ...] = ()
) -> None:
    old = complaint.state
    complaint.state = state
    complaint.outcome = outcome
    complaint.closed_at = clock.now()
    complaint.version += 1
    complaint.save(update_fields=["state", "outcome", "closed_at", "version", *extra])
    complaint_history_write(complaint, {"state": (old, state)}, actor_id=actor.pk, reason=outcome)
    notice_queue(complaint, Notice.Kind.OUTCOME, f"Kết quả phản ánh {complaint.tracking_code}: {outcome}")
    for joined in Complaint.objects.filter(joined_to=complaint):
        notice_queue(joined, Notice.Kind.OUTCOME, f"Kết quả phản ánh {joined.tracking_code}: {outcome}")


@transaction.atomic
def complaint_approve_with_dose(
    *, actor: User, complaint_id: int, person_id: int, vaccination_date: dt.date, vaccine_id: str | None,
    dose_number: int | None, lot_number: str = "", note: str = "",
) -> Complaint:  # fmt: skip
    """Approve by adding the missing dose (correction service; the complaint is its source)."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    facility_id = complaint.handler_facility_id or actor.facility_id
    if facility_id is None:
        raise ComplaintRefused(
            "Chưa rõ cơ sở đã tiêm mũi này.", "The facility that gave this dose is not known."
        )
    dose_add(
        person_id=person_id, facility_id=facility_id, vaccine_id=vaccine_id, vaccination_date=vaccination_date,
        dose_number=dose_number, lot_number=lot_number, reason=note or f"Phản ánh {complaint.tracking_code}",
        actor_id=actor.pk, source_type=SourceType.COMPLAINT, source_id=complaint.tracking_code,
    )  # fmt: skip
    _close(
        complaint,
        ComplaintState.APPROVED,
        actor=actor,
        outcome=note or "Đã bổ sung mũi tiêm / the dose was added",
    )
    return complaint


@transaction.atomic
def complaint_approve_with_correction(
    *,
    actor: User,
    complaint_id: int,
    person_id: int,
    expected_version: int,
    changes: Mapping[str, Any],
    note: str,
) -> Complaint:
    """Approve by correcting the person's record (correction service; the complaint is its source)."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    person_correct(
        person_id=person_id, expected_version=expected_version, changes=changes, reason=note,
        actor_id=actor.pk, source_type=SourceType.COMPLAINT, source_id=complaint.tracking_code,
    )  # fmt: skip
    _close(complaint, ComplaintState.APPROVED, actor=actor, outcome=note)
    return complaint


@transaction.atomic
def complaint_reject(*, actor: User, complaint_id: int, reason: str, text: str = "") -> Complaint:
    if reason not in RejectReason.values:
        raise ComplaintRefused(
            "Hãy chọn một lý do từ chối chuẩn.", "Choose one of the standard reasons.", field="reason"
        )
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    complaint.reject_reason = reason
    outcome = RejectReason(reason).label + (f" — {normalize_text(text)[:1000]}" if text.strip() else "")
    _close(complaint, ComplaintState.REJECTED, actor=actor, outcome=outcome, extra=("reject_reason",))
    return complaint


@transaction.atomic
def complaint_defer(*, actor: User, complaint_id: int, reason: str, until: dt.date) -> Complaint:
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    text = normalize_text(reason)
    if len(text) < 3 or until <= clock.today():
        raise ComplaintRefused(
            "Cần lý do và một ngày sau hôm nay.", "A reason and a day after today are needed."
        )
    old = complaint.state
    complaint.state, complaint.deferred_until = ComplaintState.DEFERRED, until
    complaint.version += 1
    complaint.save(update_fields=["state", "deferred_until", "version"])
    complaint_history_write(
        complaint,
        {"state": (old, complaint.state), "deferred_until": (None, until)},
        actor_id=actor.pk,
        reason=text,
    )
    notice_queue(
        complaint,
        Notice.Kind.OUTCOME,
        f"Phản ánh {complaint.tracking_code} hẹn xử lý đến {until:%d/%m/%Y}: {text}",
    )
    return complaint


@transaction.atomic
def complaint_transfer(*, actor: User, complaint_id: int, facility_code: str, reason: str) -> Complaint:
    """Hand the complaint to another facility; the deadline does not move."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    target = Facility.objects.filter(code=facility_code.strip().upper()).first()
    if target is None:
        raise ComplaintRefused("Không có cơ sở tiêm này.", "No such facility.", field="facility_code")
    old = complaint.handler_facility.code if complaint.handler_facility else None
    complaint.handler_facility, complaint.handler_province_id = target, target.province_id
    complaint.version += 1
    complaint.save(update_fields=["handler_facility", "handler_province", "version"])
    complaint_history_write(
        complaint,
        {"handler_facility": (old, target.code)},
        actor_id=actor.pk,
        reason=normalize_text(reason) or "chuyển",
    )
    return complaint
