"""Categories 1 and 2: vaccinated, but not on record. The handler records the citizen and the dose."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.complaints.common import ComplaintRefused
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import ComplaintState
from vaxreg.complaints.services import NEW_PERSON, complaint_approve_with_dose
from vaxreg.core.models import ChangeRecord
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose

pytestmark = pytest.mark.django_db


def _not_on_record() -> Any:
    return complaint_submit(
        intake=Intake(
            category=2,
            full_name="Lê Thị Mới",
            phone="0987111222",
            birth_date="05/06/1961",
            gender="F",
            id_number="001161099999",
            facility_code="HN001",
            description="Tôi tiêm ở Bạch Mai, tra cứu không thấy tên.",
        )
    )


def test_the_facility_records_the_citizen_and_the_dose_with_the_complaint_as_source(world: Any) -> None:
    complaint = _not_on_record()
    assert complaint.person_id is None
    client = Client()
    client.force_login(world.users["facility_hn1"])
    page = client.get(reverse("complaints:complaint", args=[complaint.pk]))
    assert "Người mới, theo thông tin phản ánh" in page.content.decode()

    response = client.post(
        reverse("complaints:approve_dose", args=[complaint.pk]),
        {
            "dose-version": complaint.version, "dose-person_id": str(NEW_PERSON),
            "dose-vaccination_date": "2021-09-10", "dose-vaccine_id": "AZ", "dose-dose_number": "1",
            "dose-lot_number": "A1", "dose-note": "Sổ tiêm của cơ sở ghi nhận ngày 10/9/2021",
        },
    )  # fmt: skip

    assert response.status_code in (200, 302)
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.APPROVED
    assert complaint.person is not None
    person = complaint.person
    assert (person.full_name, person.birth_year, person.birth_month, person.birth_day, person.gender) == (
        "Lê Thị Mới", 1961, 6, 5, "F",
    )  # fmt: skip
    assert person.id_number == "001161099999" and person.province_id == "01"
    created = ChangeRecord.objects.get(entity="person", entity_id=person.pk, field="created")
    assert (created.source_type, created.source_id) == ("complaint", complaint.tracking_code)
    dose = Dose.objects.get(person=person)
    assert dose.facility.code == "HN001" and dose.lot_number == "A1"


def test_a_complaint_matched_to_a_person_cannot_make_a_second_one(world: Any) -> None:
    complaint = complaint_submit(
        intake=Intake(category=3, full_name="Nguyễn Thị Đào", phone="0912345601", id_number="001190012345",
                      facility_code="HN001")
    )  # fmt: skip
    persons = Person.objects.count()
    with pytest.raises(ComplaintRefused):
        complaint_approve_with_dose(
            actor=world.users["facility_hn1"], complaint_id=complaint.pk, person_id=NEW_PERSON,
            vaccination_date=complaint.received_at.date(), vaccine_id="AZ", dose_number=3,
        )  # fmt: skip
    assert Person.objects.count() == persons


def test_the_intake_keeps_a_facility_until_one_is_saved(
    world: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    from vaxreg.complaints.intake import _facilities, _facility_by_code

    settings.VAXREG_INTAKE_CACHE_SECONDS = 60
    _facilities.clear()
    with django_assert_num_queries(1):
        assert _facility_by_code("HN001") == world.facilities["HN001"]
        assert _facility_by_code("HN001") == world.facilities["HN001"]
    with django_assert_num_queries(2):  # an unknown code is not remembered
        assert _facility_by_code("XX999") is None
        assert _facility_by_code("XX999") is None
    facility = world.facilities["HN001"]
    facility.name = "Bệnh viện Bạch Mai (cơ sở 2)"
    facility.save(update_fields=["name"])
    found = _facility_by_code("HN001")
    assert found is not None and found.name == "Bệnh viện Bạch Mai (cơ sở 2)"
    _facilities.clear()
