"""The people API: scoped like the pages, masked by default, every full-ID read audited."""

import pytest
from django.test import Client

from vaxreg.core.models import AuditEvent, SourceType
from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db
USERS = list(World.VISIBLE)


def api_client(world: World, user_key: str) -> Client:
    client = Client()
    client.force_login(world.users[user_key])
    return client


def assert_bilingual_error(response, status: int) -> None:
    assert response.status_code == status
    body = response.json()
    assert body["message_vi"] and body["message_en"]


@pytest.mark.parametrize("path", ["/api/people?q=dao", "/api/people/1", "/api/people/1/id-number"])
def test_anonymous_gets_401_json(client, world, path):
    assert_bilingual_error(client.get(path), 401)


@pytest.mark.parametrize("user_key", USERS)
def test_list_by_name_id_and_phone_shows_only_the_jurisdiction(world, user_key):
    client = api_client(world, user_key)
    for key, person in world.persons.items():
        for q in (person.full_name, person.id_number, person.phone):
            body = client.get("/api/people", {"q": q}).json()
            ids = {row["id"] for row in body}
            assert (person.pk in ids) == (key in world.visible(user_key)), (user_key, key, q)
            for row in body:
                assert row["id_number_masked"].startswith("•")
                assert "id_number" not in row


@pytest.mark.parametrize("user_key", USERS)
def test_detail_and_id_number_are_404_outside_the_jurisdiction(world, user_key):
    client = api_client(world, user_key)
    for key in world.hidden(user_key):
        pk = world.persons[key].pk
        assert_bilingual_error(client.get(f"/api/people/{pk}"), 404)
        response = client.get(f"/api/people/{pk}/id-number")
        assert_bilingual_error(response, 404)
        assert world.persons[key].id_number not in response.content.decode()
    for key in world.visible(user_key):
        assert client.get(f"/api/people/{world.persons[key].pk}").status_code == 200
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()


def test_detail_has_doses_and_history_and_a_masked_id(world):
    person = world.persons["dao_hn"]
    body = api_client(world, "province_hn").get(f"/api/people/{person.pk}").json()
    assert body["full_name"] == "Nguyễn Thị Đào"
    assert body["id_number_masked"] == "•••••••••345"
    assert person.id_number not in str(body)
    assert [d["dose_number"] for d in body["doses"]] == [1, 2]
    assert body["doses"][0]["facility_code"] == "HN001"
    assert body["history"][0]["field"] == "phone"
    assert body["history"][0]["actor"] == "commune_badinh"
    assert body["history"][0]["reason"] == "Số điện thoại sai"


def test_full_id_number_is_returned_and_audited(world):
    person = world.persons["hoa_traveller"]
    body = api_client(world, "facility_hcm").get(f"/api/people/{person.pk}/id-number").json()
    assert body == {"id": person.pk, "id_type": "CCCD", "id_number": "079185001122"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_ID_READ)
    assert event.actor == world.users["facility_hcm"] and event.object_id == str(person.pk)


def test_missing_query_is_a_bilingual_422(world):
    assert_bilingual_error(api_client(world, "national").get("/api/people"), 422)


def test_openapi_docs_are_served(client, world):
    client.force_login(world.users["national"])  # the docs are for staff (test_docs_access)
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/people/{person_id}/id-number" in schema["paths"]
    assert "/api/imports" in schema["paths"]


def test_history_never_carries_a_full_id_number(world):
    from vaxreg.core.history import ChangeSource, record_change

    person = world.persons["binh_hn"]
    record_change(
        entity="person",
        entity_id=person.pk,
        changes={"id_number": ("1090054321", "001090054321")},
        source=ChangeSource(type=SourceType.IMPORT, id="7"),
    )
    body = api_client(world, "national").get(f"/api/people/{person.pk}").json()
    change = next(c for c in body["history"] if c["field"] == "id_number")
    assert change["new_value"] == "•••••••••321"
    assert "1090054321" not in str(body)
