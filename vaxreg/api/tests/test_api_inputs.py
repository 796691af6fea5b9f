"""Inputs that used to crash the server (500) are refused as invalid (422, naming the input) on every
database: numbers too large for the database, dates at the end of the calendar, text where a number
belongs, and NUL characters, which PostgreSQL cannot store or compare."""

import json

import pytest
from django.test import Client

from vaxreg.people.models import Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.verification.models import VerificationCase
from vaxreg.verification.services import cases_sync

pytestmark = pytest.mark.django_db
HUGE = "9" * 30


def _client(world, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def _invalid(response, field: str) -> None:
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_input", field)
    assert body["message_vi"] and body["message_en"]


@pytest.fixture
def case(world) -> VerificationCase:
    person = world.persons["dao_hn"]
    Person.objects.filter(pk=person.pk).update(gender="M")  # contradicts the CCCD: a blocking finding
    quality_check_persons(person_ids=[person.pk])
    cases_sync(person_ids=[person.pk])
    return VerificationCase.objects.get(person=person)


def test_numbers_beyond_the_database_are_refused(world):
    client = _client(world, "national")
    _invalid(client.get("/api/cases", {"facility_id": HUGE}), "facility_id")
    _invalid(client.get("/api/imports/1/rejected", {"offset": HUGE}), "offset")
    _invalid(client.get(f"/api/people/{HUGE}"), "person_id")


def test_a_date_at_the_end_of_the_calendar_is_refused(world):
    _invalid(
        _client(world, "national").get("/api/complaints/figures", {"received_to": "9999-12-31"}),
        "received_to",
    )


def test_a_correction_with_text_for_a_number_is_refused(world, case):
    body = {"expected_version": 1, "changes": {"birth_year": "abc"}, "reason": "Gọi điện xác nhận"}
    response = _client(world, "commune_badinh").post(
        f"/api/cases/{case.pk}/person", json.dumps(body), content_type="application/json"
    )
    _invalid(response, "changes.birth_year")


def test_nul_characters_are_refused(world, case):
    client = _client(world, "commune_badinh")
    _invalid(client.get("/api/people", {"q": "Đào\x00"}), "q")
    body = {"channel": "phone", "outcome": "reached", "note": "gọi\x00được"}
    response = client.post(
        f"/api/cases/{case.pk}/contacts", json.dumps(body), content_type="application/json"
    )
    _invalid(response, "note")
