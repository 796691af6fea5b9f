import datetime as dt
from typing import Any

import pytest
from django.http import Http404

from vaxreg.complaints.common import ComplaintRefused
from vaxreg.complaints.deadline import TickResult, complaints_tick
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint, ComplaintState, Notice
from vaxreg.complaints.services import complaint_approve_with_dose, complaint_reject, complaint_transfer
from vaxreg.core.models import ChangeRecord
from vaxreg.vaccinations.models import Dose


def _intake(**values: Any) -> Intake:
    defaults: dict[str, Any] = {
        "category": 3,
        "full_name": "Nguyễn Thị Đào",
        "phone": "0912345601",
        "id_number": "001190012345",
    }
    return Intake(**(defaults | values))


def test_routing_named_facility_then_matched_doses_then_the_province(world):
    named = complaint_submit(intake=_intake(facility_code="hn001"))  # Đào has her doses there
    assert named.handler_facility.code == "HN001" and named.due_at - named.received_at == dt.timedelta(
        hours=48
    )
    # HN002 has no dose of Đào's, so it does not read her record: her record's facility handles it.
    elsewhere = complaint_submit(intake=_intake(category=4, facility_code="hn002"))
    assert (elsewhere.handler_facility.code, elsewhere.facility.code) == ("HN001", "HN002")
    assert "record" in ChangeRecord.objects.get(entity="complaint", entity_id=elsewhere.pk).reason
    without_record = complaint_submit(
        intake=_intake(category=2, id_number="", full_name="Lê Văn Mới", facility_code="hn002")
    )
    assert without_record.handler_facility.code == "HN002"
    matched = complaint_submit(intake=_intake(category=5))
    assert matched.handler_facility.code == "HN001"  # Đào's latest dose
    assert matched.person == world.persons["dao_hn"]
    unknown = complaint_submit(intake=_intake(id_number="", full_name="Lê Văn Mới", province_code="79"))
    assert (unknown.handler_facility, unknown.handler_province_id) == (None, "79")
    with pytest.raises(ComplaintRefused, match="province"):
        complaint_submit(intake=_intake(id_number="", full_name="Lê Văn Mới"))
    with pytest.raises(ComplaintRefused) as refused:
        complaint_submit(intake=_intake(facility_code="XX999"))
    assert refused.value.field == "facility_code"
    assert len(named.tracking_code) >= 16 and named.tracking_code != matched.tracking_code


def test_a_second_open_complaint_with_the_same_id_and_category_joins_the_first(world):
    first = complaint_submit(intake=_intake())
    second = complaint_submit(intake=_intake(description="gửi lại"))
    assert (second.state, second.joined_to, second.due_at) == (ComplaintState.JOINED, first, first.due_at)
    assert Complaint.objects.count() == 2  # nothing the citizen sent is lost


def test_approval_adds_the_dose_with_the_complaint_as_source(world):
    complaint = complaint_submit(intake=_intake(facility_code="HN001"))
    head = world.users["facility_hn1"]
    complaint_approve_with_dose(
        actor=head, complaint_id=complaint.pk, person_id=world.persons["dao_hn"].pk,
        vaccination_date=dt.date(2022, 2, 1), vaccine_id="AZ", dose_number=3, note="Có phiếu tiêm giấy",
    )  # fmt: skip
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.APPROVED
    dose = Dose.objects.get(person=world.persons["dao_hn"], dose_number=3)
    created = ChangeRecord.objects.get(entity="dose", entity_id=dose.pk)
    assert (created.source_type, created.source_id) == ("complaint", complaint.tracking_code)
    assert Notice.objects.filter(complaint=complaint, kind="outcome").exists()


def test_other_units_cannot_act_and_a_transfer_keeps_the_deadline(world):
    complaint = complaint_submit(intake=_intake(facility_code="HN001"))
    for key in ("facility_hcm", "province_hcm", "commune_hoankiem", "police_badinh"):
        with pytest.raises(Http404):
            complaint_reject(actor=world.users[key], complaint_id=complaint.pk, reason="unreadable")
    complaint_transfer(
        actor=world.users["facility_hn1"],
        complaint_id=complaint.pk,
        facility_code="HN002",
        reason="tiêm ở HN002",
    )
    moved = Complaint.objects.get(pk=complaint.pk)
    assert moved.handler_facility.code == "HN002" and moved.due_at == complaint.due_at
    with pytest.raises(ComplaintRefused):
        complaint_reject(actor=world.users["province_hn"], complaint_id=complaint.pk, reason="no such reason")
    complaint_reject(
        actor=world.users["province_hn"], complaint_id=complaint.pk, reason="unreadable", text="Ảnh mờ"
    )
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.REJECTED


def test_reminder_at_36_hours_and_escalation_at_48_exactly_once_each(world):
    complaint = complaint_submit(intake=_intake(facility_code="HN001"))
    start = complaint.received_at
    assert complaints_tick(now=start + dt.timedelta(hours=35)) == TickResult(reminded=0, escalated=0)
    assert complaints_tick(now=start + dt.timedelta(hours=36, minutes=1)).reminded == 1
    assert complaints_tick(now=start + dt.timedelta(hours=40)).reminded == 0  # a second tick, or a restart
    assert complaints_tick(now=start + dt.timedelta(hours=48, minutes=1)).escalated == 1
    assert complaints_tick(now=start + dt.timedelta(hours=60)).escalated == 0
    kinds = sorted(Notice.objects.filter(complaint=complaint).values_list("kind", flat=True))
    assert kinds == ["escalated", "received", "reminder"]
    complaint.refresh_from_db()
    assert complaint.escalated_at is not None
    with pytest.raises(Http404):  # past due it is the province's
        complaint_reject(actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="unreadable")
    complaint_reject(actor=world.users["province_hn"], complaint_id=complaint.pk, reason="unreadable")
