"""Complaints (SPEC §7): intake, routing to where the dose was given, the 48-hour deadline, outcomes.

Every change of a complaint is one action here that also writes its history (``ChangeRecord`` with entity
"complaint"); corrections of the citizen's record go through the correction service with the complaint as
their source.
"""

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from vaxreg.accounts.models import Role, User
from vaxreg.complaints.models import OPEN_STATES, Complaint, ComplaintState, Notice, RejectReason
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS, parse_id_number
from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.models import SourceType
from vaxreg.core.text import normalize_text
from vaxreg.corrections.services import dose_add, person_correct
from vaxreg.people.models import Person
from vaxreg.places.models import Facility
from vaxreg.vaccinations.models import Dose

DEADLINE = dt.timedelta(hours=48)
REMINDER_BEFORE = dt.timedelta(hours=12)
ENTITY = "complaint"


class ComplaintRefused(Exception):
    def __init__(self, message_vi: str, message_en: str, *, field: str = "") -> None:
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field


def _history(complaint: Complaint, changes: Mapping[str, tuple[Any, Any]], *, actor_id: int | None, reason: str) -> None:
    record_change(
        entity=ENTITY,
        entity_id=complaint.pk,
        changes=changes,
        source=ChangeSource(type=SourceType.COMPLAINT, id=complaint.tracking_code, reason=reason, actor_id=actor_id),
    )


def _notice(complaint: Complaint, kind: str, text: str, recipient: str = "") -> None:
    Notice.objects.create(
        complaint=complaint, kind=kind, recipient=recipient or complaint.phone, text=text, created_at=clock.now()
    )


def _matched_person(id_number: str) -> Person | None:
    parsed = parse_id_number(id_number) if id_number else None
    if parsed is None or parsed.kind not in USABLE_ID_KINDS:
        return None
    return Person.objects.filter(id_number=parsed.number).order_by("pk").first()


@dataclass(frozen=True)
class Intake:
    category: int
    full_name: str
    phone: str
    birth_date: str = ""
    gender: str = ""
    id_number: str = ""
    province_code: str | None = None
    commune_code: str | None = None
    facility_code: str | None = None  # None: "không rõ", the citizen does not know
    claimed_doses: tuple[Mapping[str, Any], ...] = ()
    description: str = ""


@transaction.atomic
def complaint_submit(*, intake: Intake) -> Complaint:
    """Record a citizen's complaint, route it, and give back its unguessable tracking code.

    Routing: the facility the citizen names; else the facility of their matched doses (latest first); else
    the health department of the province they name (or of their matched record). A second open complaint
    with the same ID number and category joins the first: it is kept, and points at the one being handled.
    """
    name = normalize_text(intake.full_name)
    if not name or len(name) > 200:
        raise ComplaintRefused("Họ tên bắt buộc, tối đa 200 ký tự.", "The full name is required, at most 200 characters.", field="full_name")
    if intake.category not in range(1, 6):
        raise ComplaintRefused("Loại phản ánh không hợp lệ.", "Unknown complaint category.", field="category")
    facility = None
    if intake.facility_code:
        facility = Facility.objects.filter(code=intake.facility_code.strip().upper()).first()
        if facility is None:
            raise ComplaintRefused(
                f"Mã cơ sở tiêm “{intake.facility_code[:40]}” không có trong danh mục.",
                f"Facility code “{intake.facility_code[:40]}” is not in the facility list.",
                field="facility_code",
            )
    id_number = intake.id_number.strip()
    person = _matched_person(id_number)
    handler_facility = facility
    if handler_facility is None and person is not None:
        latest = Dose.objects.filter(person=person).select_related("facility").order_by("-vaccination_date", "-pk").first()
        handler_facility = latest.facility if latest else None
    handler_province = (
        handler_facility.province_id
        if handler_facility
        else intake.province_code or (person.province_id if person is not None else None)
    )
    if handler_facility is None and handler_province is None:
        raise ComplaintRefused(
            "Hãy chọn tỉnh/thành phố nơi tiêm để phản ánh đến đúng nơi xử lý.",
            "Choose the province where you were vaccinated, so the complaint reaches who handles it.",
            field="province_code",
        )
    now = clock.now()
    earlier = (
        Complaint.objects.filter(id_number=id_number, category=intake.category, state__in=OPEN_STATES)
        .order_by("received_at")
        .first()
        if id_number
        else None
    )
    complaint = Complaint.objects.create(
        tracking_code=secrets.token_urlsafe(12),
        category=intake.category,
        full_name=name,
        birth_date=intake.birth_date.strip()[:10],
        gender=intake.gender[:1],
        id_number=id_number[:32],
        phone=intake.phone.strip()[:32],
        province_id=intake.province_code,
        commune_id=intake.commune_code,
        facility=facility,
        claimed_doses=[dict(d) for d in intake.claimed_doses][:10],
        description=normalize_text(intake.description)[:5000],
        person=person,
        handler_facility=earlier.handler_facility if earlier else handler_facility,
        handler_province_id=earlier.handler_province_id if earlier else handler_province,
        joined_to=earlier,
        state=ComplaintState.JOINED if earlier else ComplaintState.OPEN,
        received_at=now,
        due_at=earlier.due_at if earlier else now + DEADLINE,
    )
    _history(complaint, {"state": (None, complaint.state)}, actor_id=None, reason="Tiếp nhận / received")
    _notice(
        complaint,
        Notice.Kind.RECEIVED,
        f"Đã nhận phản ánh. Mã tra cứu: {complaint.tracking_code}. / Complaint received; tracking code "
        f"{complaint.tracking_code}.",
    )
    return complaint


# -- handling ---------------------------------------------------------------------------------------------


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


def _close(complaint: Complaint, state: ComplaintState, *, actor: User, outcome: str, extra: list[str] = []) -> None:  # noqa: B006
    old = complaint.state
    complaint.state = state
    complaint.outcome = outcome
    complaint.closed_at = clock.now()
    complaint.version += 1
    complaint.save(update_fields=["state", "outcome", "closed_at", "version", *extra])
    _history(complaint, {"state": (old, state)}, actor_id=actor.pk, reason=outcome)
    _notice(complaint, Notice.Kind.OUTCOME, f"Kết quả phản ánh {complaint.tracking_code}: {outcome}")
    for joined in Complaint.objects.filter(joined_to=complaint):
        _notice(joined, Notice.Kind.OUTCOME, f"Kết quả phản ánh {joined.tracking_code}: {outcome}")


@transaction.atomic
def complaint_approve_with_dose(
    *, actor: User, complaint_id: int, person_id: int, vaccination_date: dt.date, vaccine_id: str | None,
    dose_number: int | None, lot_number: str = "", note: str = "",
) -> Complaint:  # fmt: skip
    """Approve by adding the missing dose (correction service; the complaint is its source)."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    facility_id = complaint.handler_facility_id or actor.facility_id
    if facility_id is None:
        raise ComplaintRefused("Chưa rõ cơ sở đã tiêm mũi này.", "The facility that gave this dose is not known.")
    dose_add(
        person_id=person_id, facility_id=facility_id, vaccine_id=vaccine_id, vaccination_date=vaccination_date,
        dose_number=dose_number, lot_number=lot_number, reason=note or f"Phản ánh {complaint.tracking_code}",
        actor_id=actor.pk, source_type=SourceType.COMPLAINT, source_id=complaint.tracking_code,
    )  # fmt: skip
    _close(complaint, ComplaintState.APPROVED, actor=actor, outcome=note or "Đã bổ sung mũi tiêm / the dose was added")
    return complaint


@transaction.atomic
def complaint_approve_with_correction(
    *, actor: User, complaint_id: int, person_id: int, expected_version: int, changes: Mapping[str, Any], note: str
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
        raise ComplaintRefused("Hãy chọn một lý do từ chối chuẩn.", "Choose one of the standard reasons.", field="reason")
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    complaint.reject_reason = reason
    outcome = RejectReason(reason).label + (f" — {normalize_text(text)[:1000]}" if text.strip() else "")
    _close(complaint, ComplaintState.REJECTED, actor=actor, outcome=outcome, extra=["reject_reason"])
    return complaint


@transaction.atomic
def complaint_defer(*, actor: User, complaint_id: int, reason: str, until: dt.date) -> Complaint:
    complaint = _for_action(actor=actor, complaint_id=complaint_id)
    text = normalize_text(reason)
    if len(text) < 3 or until <= clock.today():
        raise ComplaintRefused("Cần lý do và một ngày sau hôm nay.", "A reason and a day after today are needed.")
    old = complaint.state
    complaint.state, complaint.deferred_until = ComplaintState.DEFERRED, until
    complaint.version += 1
    complaint.save(update_fields=["state", "deferred_until", "version"])
    _history(complaint, {"state": (old, complaint.state), "deferred_until": (None, until)}, actor_id=actor.pk, reason=text)
    _notice(complaint, Notice.Kind.OUTCOME, f"Phản ánh {complaint.tracking_code} hẹn xử lý đến {until:%d/%m/%Y}: {text}")
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
    _history(complaint, {"handler_facility": (old, target.code)}, actor_id=actor.pk, reason=normalize_text(reason) or "chuyển")
    return complaint


# -- the clock ----------------------------------------------------------------------------------------------


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
    open_ = Complaint.objects.select_for_update(skip_locked=True, of=("self",)).filter(state__in=OPEN_STATES)
    reminded = 0
    for complaint in open_.filter(reminded_at=None, due_at__gt=now, due_at__lte=now + REMINDER_BEFORE):
        complaint.reminded_at = now
        complaint.save(update_fields=["reminded_at"])
        _history(complaint, {"reminded_at": (None, now)}, actor_id=None, reason="Còn 12 giờ / 12 hours left")
        _notice(
            complaint, Notice.Kind.REMINDER, f"Phản ánh {complaint.tracking_code} còn dưới 12 giờ để xử lý.",
            recipient=complaint.handler_facility.code if complaint.handler_facility else f"SYT {complaint.handler_province_id}",
        )  # fmt: skip
        reminded += 1
    escalated = 0
    for complaint in open_.filter(escalated_at=None, due_at__lte=now).select_related("handler_facility"):
        complaint.escalated_at = now
        complaint.save(update_fields=["escalated_at"])
        _history(complaint, {"escalated_at": (None, now)}, actor_id=None, reason="Quá hạn 48 giờ / past the 48 hours")
        _notice(
            complaint, Notice.Kind.ESCALATED, f"Phản ánh {complaint.tracking_code} quá hạn, chuyển Sở Y tế.",
            recipient=f"SYT {complaint.handler_province_id}",
        )  # fmt: skip
        escalated += 1
    return TickResult(reminded=reminded, escalated=escalated)
