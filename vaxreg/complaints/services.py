"""Handling a complaint: approve (through the correction service, the complaint as source), defer, reject,
transfer. Only the complaint's handlers may act (``handlers_may_act``).

Every action names the version of the complaint the handler saw: when two handlers act on the same
complaint at once, the second finds the version moved on and nothing of theirs is written
(``ComplaintChanged``).
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import Role, User
from vaxreg.complaints.common import ComplaintRefused, complaint_history_write, notice_queue
from vaxreg.complaints.models import OPEN_STATES, Complaint, ComplaintState, Notice, RejectReason
from vaxreg.complaints.selectors import ComplaintNotVisible, complaint_person_allowed
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS, parse_id_number
from vaxreg.core.i18n import both_languages
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.models import SourceType
from vaxreg.core.refusals import StaleVersion
from vaxreg.core.text import normalize_text
from vaxreg.core.touched import figures_touched
from vaxreg.core.versioning import version_expect, versioned_update
from vaxreg.corrections.services import (
    access_change_request,
    access_change_words,
    access_fields_split,
    dose_add,
    person_correct,
    person_create,
)
from vaxreg.people.models import Person
from vaxreg.places.models import Facility

TEXT_MAX = 1000


class ComplaintChanged(StaleVersion, ComplaintRefused):
    """Someone else acted on the complaint since the handler read it; ``current`` is its state now."""

    code = "conflict"

    def __init__(self, complaint: Complaint) -> None:
        super().__init__(
            "Phản ánh vừa được người khác xử lý hoặc thay đổi; hãy tải lại trang để xem.",
            "Someone else has just acted on this complaint; reload the page to see what changed.",
            current={"state": complaint.state, "version": complaint.version},
            field="version",
        )


def handlers_may_act(user: Any, complaint: Complaint) -> bool:
    """The handling facility and its commune's health station until escalation; the handler's province
    always (and alone once escalated). The ministry and administrators only read."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.role == Role.FACILITY:
        return complaint.escalated_at is None and user.facility_id == complaint.handler_facility_id
    if user.role == Role.COMMUNE:
        facility = complaint.handler_facility
        return (
            complaint.escalated_at is None and facility is not None and facility.commune_id == user.commune_id
        )
    if user.role == Role.PROVINCE:
        return user.province_id == complaint.handler_province_id
    return False


def _for_action(*, actor: User, complaint_id: int, expected_version: int | None) -> Complaint:
    """The complaint locked for the action; 404 when the actor may not act on it, as if it did not exist.

    ``expected_version`` None skips the version test: only for callers that act on what they just read.
    """
    complaint = (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("handler_facility")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None or not handlers_may_act(actor, complaint):
        raise ComplaintNotVisible(f"complaint {complaint_id}")
    version_expect(complaint, expected_version, ComplaintChanged)
    if complaint.state not in OPEN_STATES:
        raise ComplaintRefused("Phản ánh đã xử lý xong.", "The complaint is already closed.", field="state")
    return complaint


def _text(value: str) -> str:
    return normalize_text(value)[:TEXT_MAX]


def _close(
    complaint: Complaint, state: ComplaintState, *, actor: User, outcome: str, extra: tuple[str, ...] = ()
) -> None:
    old = complaint.state
    complaint.state = state
    complaint.outcome = outcome
    complaint.closed_at = clock.now()
    versioned_update(complaint, fields=["state", "outcome", "closed_at", *extra], stale=ComplaintChanged)
    complaint_history_write(complaint, {"state": (old, state)}, actor_id=actor.pk, reason=outcome)
    notice_queue(complaint, Notice.Kind.OUTCOME, f"Kết quả phản ánh {complaint.tracking_code}: {outcome}")
    for joined in Complaint.objects.filter(joined_to=complaint):
        notice_queue(joined, Notice.Kind.OUTCOME, f"Kết quả phản ánh {joined.tracking_code}: {outcome}")


def _person_for_approval(*, actor: User, complaint: Complaint, person_id: int) -> list[str]:
    """Check the person may be touched through this complaint; link it to the complaint if none was.

    Returns the complaint fields to save.
    """
    if not complaint_person_allowed(user=actor, person_id=person_id):
        raise ComplaintRefused(
            "Hãy chọn một người trong danh sách đối chiếu của phản ánh (người thuộc địa bàn của bạn).",
            "Choose a person from the complaint's matched records (a person in your area).",
            field="person_id",
        )
    if complaint.person_id == person_id:
        return []
    complaint_history_write(
        complaint,
        {"person_id": (complaint.person_id, person_id)},
        actor_id=actor.pk,
        reason=both_languages(gettext_noop("matched")),
    )
    complaint.person_id = person_id
    return ["person"]


NEW_PERSON = 0  # ``person_id`` of an approval that records the citizen as a new person


def _birth_parts(text: str) -> dict[str, int | None]:
    """The complaint's birth date as given (dd/mm/yyyy, mm/yyyy or yyyy) in the person's three parts."""
    parts = [int(p) for p in text.replace("-", "/").split("/") if p.strip().isdigit()]
    day, month, year = ([None] * (3 - len(parts)) + parts)[-3:] if parts else (None, None, None)
    return {"birth_day": day, "birth_month": month, "birth_year": year}


def _person_from_complaint(*, actor: User, complaint: Complaint, note: str) -> int:
    """Categories 1 and 2: the citizen was vaccinated but is not on record. The handler records them from
    the identity the complaint gives (correction service, the complaint as source) and links them."""
    parsed = parse_id_number(complaint.id_number) if complaint.id_number else None
    known_id = (
        parsed is not None
        and parsed.kind in USABLE_ID_KINDS
        and Person.objects.filter(id_number=parsed.number).exists()
    )
    if complaint.person_id is not None or known_id:
        # A second record under a known ID number would be a way around the record's own jurisdiction.
        raise ComplaintRefused(
            "Số giấy tờ của phản ánh đã có trên hệ thống: chỉ bổ sung mũi tiêm cho người đó, do đơn vị "
            "quản lý hồ sơ của người đó thực hiện.",
            "The complaint's ID number is already on record: the dose is added to that person, by the unit "
            "that holds their record.",
            field="person_id",
        )
    person = person_create(
        values={
            "full_name": complaint.full_name, "gender": complaint.gender, "id_number": complaint.id_number,
            "phone": complaint.phone, "commune_id": complaint.commune_id, **_birth_parts(complaint.birth_date),
        },
        province_id=complaint.province_id or complaint.handler_province_id,
        reason=note or f"{complaint.tracking_code}: {both_languages(gettext_noop('not on record'))}",
        actor_id=actor.pk, source_type=SourceType.COMPLAINT, source_id=complaint.tracking_code,
    )  # fmt: skip
    complaint_history_write(
        complaint,
        {"person_id": (None, person.pk)},
        actor_id=actor.pk,
        reason=both_languages(gettext_noop("new person")),
    )
    complaint.person_id = person.pk
    return person.pk


def _dose_facility(*, complaint: Complaint, actor: User, facility_code: str) -> int:
    """Where the added dose was given: the handler's own facility (a commune station: one of its commune's;
    a province: one of its own) — a complaint never records a dose in another unit's name."""
    reach = jurisdiction_of(actor)
    code = facility_code.strip().upper()
    if code:
        facility = Facility.objects.filter(code=code).first()
        if facility is None:
            raise ComplaintRefused(
                f"Không có cơ sở tiêm mã “{facility_code[:40]}”.",
                f"No facility has the code “{facility_code[:40]}”.",
                field="facility_code",
            )
    else:
        handler = complaint.handler_facility
        own = Facility.objects.filter(pk=actor.facility_id).first() if actor.facility_id else None
        facility = handler if handler is not None and reach.covers_facility(handler) else own
        if facility is None:
            raise ComplaintRefused(
                "Chưa rõ cơ sở đã tiêm mũi này: hãy ghi mã cơ sở tiêm.",
                "The facility that gave this dose is not known: enter its code.",
                field="facility_code",
            )
    if not reach.covers_facility(facility):
        raise ComplaintRefused(
            f"Cơ sở {facility.code} không thuộc đơn vị của bạn: mũi tiêm bổ sung qua phản ánh phải do đơn vị "
            "của bạn tiêm. Mũi do cơ sở khác tiêm được cơ sở đó ghi qua tệp dữ liệu tiêm chủng của mình.",
            f"Facility {facility.code} is not in your unit: a dose added through a complaint is one your unit "
            "gave. A dose another facility gave is recorded by that facility, through its own dose file.",
            field="facility_code",
        )
    return facility.pk


@transaction.atomic
def complaint_approve_with_dose(
    *, actor: User, complaint_id: int, person_id: int, vaccination_date: dt.date, vaccine_id: str | None,
    dose_number: int | None, lot_number: str = "", note: str = "", facility_code: str = "",
    expected_version: int | None = None,
) -> Complaint:  # fmt: skip
    """Approve by adding the missing dose to an existing person (correction service; the complaint is its
    source). The dose is the handling facility's unless ``facility_code`` names where it was given."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id, expected_version=expected_version)
    facility_id = _dose_facility(complaint=complaint, actor=actor, facility_code=facility_code)
    note = _text(note)
    if person_id == NEW_PERSON:
        person_id = _person_from_complaint(actor=actor, complaint=complaint, note=note)
        linked = ["person"]
    else:
        linked = _person_for_approval(actor=actor, complaint=complaint, person_id=person_id)
    dose_add(
        person_id=person_id, facility_id=facility_id, vaccine_id=vaccine_id, vaccination_date=vaccination_date,
        dose_number=dose_number, lot_number=lot_number, reason=note or f"Phản ánh {complaint.tracking_code}",
        actor_id=actor.pk, source_type=SourceType.COMPLAINT, source_id=complaint.tracking_code,
    )  # fmt: skip
    outcome = note or both_languages(gettext_noop("the dose was added"))
    _close(complaint, ComplaintState.APPROVED, actor=actor, outcome=outcome, extra=tuple(linked))
    return complaint


@transaction.atomic
def complaint_approve_with_correction(
    *,
    actor: User,
    complaint_id: int,
    person_id: int,
    person_version: int,
    changes: Mapping[str, Any],
    note: str,
    expected_version: int | None = None,
) -> Complaint:
    """Approve by correcting the person's record (correction service; the complaint is its source).

    ``person_version`` is the version of the person the handler saw (``StaleRecord`` when it moved on). The
    fields that open the citizen's own access (phone on record, ID number, commune of residence) are not
    changed by the approval: they are asked for (``access_change_request``), the phone on record is told,
    and they change only after the citizen's code or the commune health station's check.
    """
    complaint = _for_action(actor=actor, complaint_id=complaint_id, expected_version=expected_version)
    if not changes:
        raise ComplaintRefused("Chưa có thông tin nào được sửa.", "Nothing was changed.", field="changes")
    linked = _person_for_approval(actor=actor, complaint=complaint, person_id=person_id)
    note = _text(note)
    ordinary, access = access_fields_split(changes)
    source = SourceType.COMPLAINT
    if ordinary:
        person_correct(
            person_id=person_id, expected_version=person_version, changes=ordinary, reason=note,
            actor_id=actor.pk, source_type=source, source_id=complaint.tracking_code,
        )  # fmt: skip
    asked = (
        access_change_request(
            person_id=person_id,
            changes=access,
            reason=note,
            expected_version=None if ordinary else person_version,
            actor_id=actor.pk,
            source_type=source,
            source_id=complaint.tracking_code,
        )  # fmt: skip
        if access
        else None
    )
    outcome = note
    if asked is not None:
        awaits = gettext_noop(
            "The change of the %(fields)s awaits confirmation: by the citizen on the lookup page after a code "
            "sent to the phone on record, or by the commune health station."
        )
        outcome = outcome.rstrip(". ") + ". " + access_change_words(asked.changes, awaits, {})
    _close(complaint, ComplaintState.APPROVED, actor=actor, outcome=outcome, extra=tuple(linked))
    return complaint


@transaction.atomic
def complaint_reject(
    *, actor: User, complaint_id: int, reason: str, text: str = "", expected_version: int | None = None
) -> Complaint:
    """Reject with one of the Ministry's standard reasons (and free text); the citizen is told why."""
    if reason not in RejectReason.values:
        raise ComplaintRefused(
            "Hãy chọn một lý do từ chối chuẩn.", "Choose one of the standard reasons.", field="reason"
        )
    complaint = _for_action(actor=actor, complaint_id=complaint_id, expected_version=expected_version)
    complaint.reject_reason = reason
    free = _text(text)
    outcome = RejectReason(reason).label + (f" — {free}" if free else "")
    outcome += " Mời ông/bà đến cơ sở tiêm chủng để được hướng dẫn."
    _close(complaint, ComplaintState.REJECTED, actor=actor, outcome=outcome, extra=("reject_reason",))
    return complaint


@transaction.atomic
def complaint_defer(
    *, actor: User, complaint_id: int, reason: str, until: dt.date, expected_version: int | None = None
) -> Complaint:
    """Handle later ("xử lý sau"): a reason and a new date; the 48-hour deadline itself does not move."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id, expected_version=expected_version)
    text = _text(reason)
    if len(text) < 3:
        raise ComplaintRefused("Cần ghi lý do hẹn lại.", "A reason for deferring is needed.", field="reason")
    if until <= clock.today():
        raise ComplaintRefused(
            "Ngày hẹn phải sau hôm nay.", "The new date must be after today.", field="until"
        )
    old_state, old_until = complaint.state, complaint.deferred_until
    complaint.state, complaint.deferred_until = ComplaintState.DEFERRED, until
    versioned_update(complaint, fields=["state", "deferred_until"], stale=ComplaintChanged)
    complaint_history_write(
        complaint,
        {"state": (old_state, complaint.state), "deferred_until": (old_until, until)},
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
def complaint_transfer(
    *, actor: User, complaint_id: int, facility_code: str, reason: str, expected_version: int | None = None
) -> Complaint:
    """Hand the complaint (and those that joined it) to another facility; the deadline does not move."""
    complaint = _for_action(actor=actor, complaint_id=complaint_id, expected_version=expected_version)
    target = Facility.objects.filter(code=facility_code.strip().upper()).first()
    if target is None:
        raise ComplaintRefused(
            f"Không có cơ sở tiêm mã “{facility_code[:40]}”.",
            f"No facility has the code “{facility_code[:40]}”.",
            field="facility_code",
        )
    if target.pk == complaint.handler_facility_id:
        raise ComplaintRefused(
            "Phản ánh đang ở chính cơ sở này.",
            "The complaint is already with this facility.",
            field="facility_code",
        )
    old = complaint.handler_facility.code if complaint.handler_facility else None
    old_province = complaint.handler_province_id
    figures_touched(  # the unit it leaves
        facilities=[complaint.handler_facility_id],
        provinces=[] if complaint.handler_facility_id else [old_province],
    )
    complaint.handler_facility, complaint.handler_province_id = target, target.province_id
    versioned_update(complaint, fields=["handler_facility", "handler_province"], stale=ComplaintChanged)
    Complaint.objects.filter(joined_to=complaint).update(
        handler_facility=target, handler_province_id=target.province_id
    )
    complaint_history_write(
        complaint,
        {"handler_facility": (old, target.code), "handler_province": (old_province, target.province_id)},
        actor_id=actor.pk,
        reason=_text(reason) or both_languages(gettext_noop("transferred")),
    )
    return complaint
