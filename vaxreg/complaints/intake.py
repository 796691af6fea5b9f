"""Intake of a citizen's complaint (SPEC §7): checks, routing to where the dose was given, joining."""

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from vaxreg.complaints.common import ComplaintRefused, complaint_history_write, notice_queue
from vaxreg.complaints.models import OPEN_STATES, Complaint, ComplaintState, Notice
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS, parse_id_number
from vaxreg.core.text import normalize_text
from vaxreg.people.models import Person
from vaxreg.places.models import Facility
from vaxreg.vaccinations.models import Dose

DEADLINE = dt.timedelta(hours=48)


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
        raise ComplaintRefused(
            "Họ tên bắt buộc, tối đa 200 ký tự.",
            "The full name is required, at most 200 characters.",
            field="full_name",
        )
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
        latest = (
            Dose.objects.filter(person=person)
            .select_related("facility")
            .order_by("-vaccination_date", "-pk")
            .first()
        )
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
    complaint_history_write(
        complaint, {"state": (None, complaint.state)}, actor_id=None, reason="Tiếp nhận / received"
    )
    notice_queue(
        complaint,
        Notice.Kind.RECEIVED,
        f"Đã nhận phản ánh. Mã tra cứu: {complaint.tracking_code}. / Complaint received; tracking code "
        f"{complaint.tracking_code}.",
    )
    return complaint
