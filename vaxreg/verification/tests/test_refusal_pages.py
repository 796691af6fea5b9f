"""Pages show a service's refusal through the one page helper: its reason in the reader's language, on the
field it names, with 409 when the record moved on and 400 otherwise."""

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.people.models import Gender, Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.services import cases_sync


def _client(world, key: str, language: str = "vi") -> Client:
    client = Client()
    client.force_login(world.users[key])
    client.cookies["django_language"] = language
    return client


def _text(response) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


@pytest.fixture
def case(world) -> VerificationCase:
    person = world.persons["dao_hn"]
    Person.objects.filter(pk=person.pk).update(gender=Gender.MALE)
    quality_check_persons(person_ids=[person.pk])
    cases_sync(person_ids=[person.pk])
    return VerificationCase.objects.get(person=person)


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("vi", "Hồ sơ vừa được người khác cập nhật; hãy tải lại trang."),
        ("en", "Someone else has just updated this case; reload the page."),
    ],
)
def test_a_case_someone_else_moved_on_is_a_409_page_saying_so(world, case, language, reason):
    station = _client(world, "commune_badinh", language)
    seen = case.version
    logged = station.post(
        reverse("verification:case_contact_log", args=[case.pk]), {"channel": "phone", "outcome": "no_answer"}
    )
    assert logged.status_code == 302
    response = station.post(
        reverse("verification:case_escalate", args=[case.pk]),
        {"case_version": seen, "reason": "Không liên lạc được"},
    )
    assert response.status_code == 409
    assert reason in _text(response)
    case.refresh_from_db()
    assert (case.state, case.version) == (CaseState.IN_PROGRESS, seen + 1)


def test_a_refused_action_is_a_400_with_the_reason_beside_the_field_it_names(world):
    complaint = complaint_submit(
        intake=Intake(
            category=3,
            full_name="Nguyễn Thị Đào",
            phone="0912345601",
            id_number="001190012345",
            facility_code="HN001",
        )
    )
    response = _client(world, "facility_hn1").post(
        reverse("complaints:defer", args=[complaint.pk]),
        {"defer-version": complaint.version, "defer-until": "2021-01-01", "defer-reason": "Chờ sổ gốc"},
    )
    assert response.status_code == 400
    assert "Ngày hẹn phải sau hôm nay." in _text(response)
    assert response.context["defer_form"].errors == {"until": ["Ngày hẹn phải sau hôm nay."]}
