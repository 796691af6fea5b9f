import json

import pytest
from django.test import Client

from vaxreg.people.models import Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.services import case_escalate, cases_sync


@pytest.fixture
def cases(world):
    """Đào (Ba Đình) and Bình (Hoàn Kiếm) each get a case: their recorded gender contradicts the CCCD."""
    for key, gender in (("dao_hn", "M"), ("binh_hn", "F")):
        Person.objects.filter(pk=world.persons[key].pk).update(gender=gender)
    ids = [world.persons["dao_hn"].pk, world.persons["binh_hn"].pk]
    quality_check_persons(person_ids=ids)
    cases_sync(person_ids=ids)
    return {key: VerificationCase.objects.get(person=world.persons[key]) for key in ("dao_hn", "binh_hn")}


def _client(world, key):
    client = Client()
    client.force_login(world.users[key])
    return client


def _post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


VISIBLE = {
    "national": {"dao_hn", "binh_hn"},
    "admin": {"dao_hn", "binh_hn"},
    "province_hn": {"dao_hn", "binh_hn"},
    "province_hcm": set(),
    "commune_badinh": {"dao_hn"},
    "commune_hoankiem": {"binh_hn"},
    "facility_hn1": {"dao_hn"},
    "facility_hcm": set(),
    "police_badinh": set(),  # nothing escalated yet
}


@pytest.mark.parametrize("user_key", sorted(VISIBLE))
def test_each_role_lists_and_reads_only_the_cases_of_its_unit(world, cases, user_key):
    client = _client(world, user_key)
    listed = {c["full_name"] for c in client.get("/api/cases").json()["cases"]}
    assert listed == {world.persons[k].full_name for k in VISIBLE[user_key]}
    for key, case in cases.items():
        response = client.get(f"/api/cases/{case.pk}")
        assert response.status_code == (200 if key in VISIBLE[user_key] else 404)
        if response.status_code == 200:
            assert response.json()["id_number_masked"] != world.persons[key].id_number


@pytest.mark.parametrize(
    "user_key", ["national", "province_hn", "facility_hn1", "commune_hoankiem", "police_badinh"]
)
def test_only_the_cases_station_acts_on_it(world, cases, user_key):
    case = cases["dao_hn"]
    response = _post(_client(world, user_key), f"/api/cases/{case.pk}/escalate", {"reason": "thử chuyển"})
    assert response.status_code in (403, 404)
    assert response.json()["message_vi"] and response.json()["message_en"]
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


def test_the_station_corrects_through_the_api_and_a_stale_version_is_a_409(world, cases):
    client = _client(world, "commune_badinh")
    case = cases["dao_hn"]
    detail = client.get(f"/api/cases/{case.pk}").json()
    assert [f["code"] for f in detail["findings"]] == ["ID_GENDER_MISMATCH"]
    body = {
        "expected_version": detail["person_version"],
        "changes": {"gender": "F"},
        "reason": "Gọi điện xác nhận",
    }
    after = _post(client, f"/api/cases/{case.pk}/person", body)
    assert after.status_code == 200
    assert after.json()["findings"] == [] and after.json()["state"] == CaseState.IN_PROGRESS
    stale = _post(client, f"/api/cases/{case.pk}/person", {**body, "changes": {"phone": "0987654321"}})
    assert stale.status_code == 409
    assert stale.json()["current"]["gender"] == "F"
    refused = _post(
        client, f"/api/cases/{case.pk}/person", {**body, "expected_version": 2, "changes": {"gender": "X"}}
    )
    assert (refused.status_code, refused.json()["field"]) == (422, "changes.gender")
    assert _post(client, f"/api/cases/{case.pk}/resolve", {}).json()["state"] == CaseState.RESOLVED


def test_the_police_records_a_result_through_the_api(world, cases):
    case = cases["dao_hn"]
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Không liên lạc được")
    police = _client(world, "police_badinh")
    assert [c["id"] for c in police.get("/api/cases").json()["cases"]] == [case.pk]
    bad = _post(police, f"/api/cases/{case.pk}/police-result", {"result": "MAYBE"})
    assert (bad.status_code, bad.json()["field"]) == (422, "result")
    done = _post(
        police, f"/api/cases/{case.pk}/police-result", {"result": "MISMATCH", "verified": {"gender": "F"}}
    )
    assert done.json()["state"] == CaseState.RESOLVED
    assert Person.objects.get(pk=case.person_id).gender == "F"


def test_anonymous_gets_401(client, cases):
    assert client.get("/api/cases").status_code == 401


def test_the_station_assigns_cases_through_the_api(world, cases):
    from vaxreg.accounts.models import Role
    from vaxreg.accounts.services import user_create

    colleague = user_create(
        username="yta_badinh_2", password="x-9-correct-horse", role=Role.COMMUNE, commune_code="00004"
    )
    case = cases["dao_hn"]
    assigned = _post(
        _client(world, "commune_badinh"),
        "/api/cases/assign",
        {"case_ids": [case.pk], "assignee_id": colleague.pk},
    )
    assert (assigned.status_code, assigned.json()) == (200, {"assigned": 1})
    assert (
        _client(world, "commune_badinh").get(f"/api/cases/{case.pk}").json()["assigned_to"] == "yta_badinh_2"
    )
    elsewhere = _post(
        _client(world, "facility_hn1"), "/api/cases/assign", {"case_ids": [case.pk], "assignee_id": None}
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["message_vi"]
