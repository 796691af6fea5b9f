"""One refusal protocol: every service refusal is a ``Refusal``, and the API answers each with one handler."""

import datetime as dt
import importlib
import inspect
import json
import pkgutil
import re
from typing import Any

import pytest
from django.test import Client

import vaxreg
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.core.refusals import Forbidden, Refusal, StaleVersion
from vaxreg.people.models import Gender, Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.verification.models import VerificationCase
from vaxreg.verification.services import cases_sync

# A name that says "refused", or an exception that carries a message for people, is a refusal.
REFUSAL_NAME = re.compile(r"(Refused|Forbidden|Changed|Invalid|Unavailable|Throttled)$")


def _our_exception_classes() -> list[type[Exception]]:
    found = []
    for info in pkgutil.walk_packages(vaxreg.__path__, "vaxreg."):
        if ".tests" in info.name or ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Exception)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def test_every_refusal_of_every_app_is_a_kind_of_the_one_refusal():
    classes = _our_exception_classes()
    speaking = [c for c in classes if REFUSAL_NAME.search(c.__name__) or "message_vi" in inspect.getsource(c)]
    assert {c.__name__ for c in speaking} >= {
        "CorrectionRefused", "AccessChangeRefused", "CaseActionRefused", "CaseActionForbidden",
        "ComplaintRefused", "FloodRefused", "ComplaintChanged", "ImportRefused", "ImportForbidden", "FileRefused",
        "SignOffRefused", "CertificateRefused", "OtpRequestRefused", "PoliceExportRefused", "BundleRefused",
        "LoginThrottled", "RegistryUnavailable",
    }  # fmt: skip
    assert [c.__name__ for c in speaking if not issubclass(c, Refusal)] == []
    kinds = {c.__name__: c for c in classes}
    for name in ("AccountRefused", "SynthError", "FacilityFileError", "ApiTokenError"):
        assert issubclass(kinds[name], Refusal), name
    stale, forbidden = (
        ("StaleRecord", "ComplaintChanged", "CaseChanged"),
        ("CaseActionForbidden", "ImportForbidden"),
    )
    assert all(issubclass(kinds[n], StaleVersion) for n in stale)
    assert all(issubclass(kinds[n], Forbidden) for n in forbidden)


def _client(world, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def _post(client: Client, path: str, body: dict) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def complaint(world):
    return complaint_submit(
        intake=Intake(
            category=3,
            full_name="Nguyễn Thị Đào",
            phone="0912345601",
            id_number="001190012345",
            facility_code="HN001",
        )
    )


def test_a_refusal_is_a_400_naming_its_field(world, complaint):
    response = _post(
        _client(world, "facility_hn1"),
        f"/api/complaints/{complaint.pk}/defer",
        {"version": complaint.version, "until": dt.date(2021, 1, 1).isoformat(), "reason": "Chờ sổ gốc"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "refused",
        "message_vi": "Ngày hẹn phải sau hôm nay.",
        "message_en": "The new date must be after today.",
        "field": "until",
    }


def test_a_role_that_only_reads_is_a_403(world, complaint):
    response = _post(
        _client(world, "national"),
        f"/api/complaints/{complaint.pk}/defer",
        {"version": complaint.version, "until": "2999-01-01", "reason": "Chờ sổ gốc"},
    )
    assert (response.status_code, response.json()) == (
        403,
        {
            "code": "forbidden",
            "message_vi": "Vai trò của bạn không xử lý phản ánh này.",
            "message_en": "Your role does not handle this complaint.",
            "field": "",
        },
    )


def test_a_case_someone_else_moved_on_is_a_409_with_its_stored_state(world):
    person = world.persons["dao_hn"]
    Person.objects.filter(pk=person.pk).update(gender=Gender.MALE)
    quality_check_persons(person_ids=[person.pk])
    cases_sync(person_ids=[person.pk])
    case = VerificationCase.objects.get(person=person)
    station = _client(world, "commune_badinh")
    seen = case.version
    assert (
        _post(
            station, f"/api/cases/{case.pk}/contacts", {"channel": "phone", "outcome": "no_answer"}
        ).status_code
        == 200
    )
    response = _post(
        station, f"/api/cases/{case.pk}/escalate", {"reason": "Không liên lạc được", "expected_version": seen}
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "stale",
        "message_vi": "Hồ sơ vừa được người khác cập nhật; hãy tải lại trang.",
        "message_en": "Someone else has just updated this case; reload the page.",
        "field": "",
        "current": {"state": "in_progress", "version": seen + 1},
    }
    case.refresh_from_db()
    assert case.state == "in_progress" and case.escalated_at is None
