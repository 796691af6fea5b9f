"""Every page needs a login and shows only persons inside the user's jurisdiction."""

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.core.models import AuditEvent, SourceType
from vaxreg.testing.world import TEST_PASSWORD, World

pytestmark = pytest.mark.django_db
USERS = list(World.VISIBLE)


def client_for(world: World, user_key: str) -> Client:
    client = Client()
    client.force_login(world.users[user_key])
    return client


@pytest.mark.parametrize("url_name", ["web:home", "web:search", "web:imports"])
def test_anonymous_is_sent_to_login(client, world, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("web:login"))


def test_anonymous_cannot_open_or_reveal_a_person(client, world):
    pk = world.persons["dao_hn"].pk
    for response in (
        client.get(reverse("web:person", args=[pk])),
        client.post(reverse("web:person_full_id", args=[pk])),
    ):
        assert response.status_code == 302
        assert response.url.startswith(reverse("web:login"))
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()


def test_login_with_csrf_then_logout(world):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("web:login"))
    token = page.cookies["csrftoken"].value
    refused = client.post(reverse("web:login"), {"username": "national", "password": TEST_PASSWORD})
    assert refused.status_code == 403
    response = client.post(
        reverse("web:login"),
        {"username": "national", "password": TEST_PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    assert "national" in client.get(reverse("web:home")).content.decode()
    token = client.cookies["csrftoken"].value
    client.post(reverse("web:logout"), {"csrfmiddlewaretoken": token})
    assert client.get(reverse("web:home")).status_code == 302


def test_wrong_password_shows_an_error(client, world):
    response = client.post(reverse("web:login"), {"username": "national", "password": "nope-nope-nope"})
    assert response.status_code == 200
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.content.decode()


@pytest.mark.parametrize("user_key", USERS)
def test_search_page_by_name_id_and_phone_shows_only_the_jurisdiction(world, user_key):
    client = client_for(world, user_key)
    for key, person in world.persons.items():
        page_url = reverse("web:person", args=[person.pk])
        for q in (person.full_name, person.id_number, person.phone):
            html = client.get(reverse("web:search"), {"q": q}).content.decode()
            assert (page_url in html) == (key in world.visible(user_key)), (user_key, key, q)
            if q == person.full_name:  # lists never show a full ID number
                assert person.id_number not in html


@pytest.mark.parametrize("user_key", USERS)
def test_person_page_is_404_outside_the_jurisdiction(world, user_key):
    client = client_for(world, user_key)
    for key, person in world.persons.items():
        response = client.get(reverse("web:person", args=[person.pk]))
        if key in world.visible(user_key):
            assert response.status_code == 200
            assert person.full_name in response.content.decode()
        else:
            assert response.status_code == 404
            assert person.full_name not in response.content.decode()


@pytest.mark.parametrize("user_key", USERS)
def test_full_id_outside_the_jurisdiction_is_404_and_not_logged(world, user_key):
    client = client_for(world, user_key)
    for key in world.hidden(user_key):
        response = client.post(reverse("web:person_full_id", args=[world.persons[key].pk]))
        assert response.status_code == 404
        assert world.persons[key].id_number not in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()


def test_person_page_masks_the_id_and_reveals_it_on_request(world):
    client = client_for(world, "commune_badinh")
    person = world.persons["dao_hn"]
    html = client.get(reverse("web:person", args=[person.pk])).content.decode()
    assert "001190012345" not in html
    assert person.id_number_masked in html
    assert "Hiện số đầy đủ" in html

    response = client.post(reverse("web:person_full_id", args=[person.pk]))
    assert response.status_code == 200
    assert "001190012345" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_ID_READ)
    assert event.actor == world.users["commune_badinh"]
    assert event.object_id == str(person.pk)


def test_revealing_needs_a_post(world):
    client = client_for(world, "national")
    response = client.get(reverse("web:person_full_id", args=[world.persons["dao_hn"].pk]))
    assert response.status_code == 405
    assert not AuditEvent.objects.exists() or not AuditEvent.objects.filter(action="full_id_read").exists()


def test_person_page_shows_doses_and_history(world):
    client = client_for(world, "facility_hn1")
    html = client.get(reverse("web:person", args=[world.persons["hoa_traveller"].pk])).content.decode()
    # The traveller's dose at another facility is shown too: a visible person is shown whole.
    assert "Bệnh viện Bạch Mai" in html and "Bệnh viện Chợ Rẫy" in html
    html = client.get(reverse("web:person", args=[world.persons["dao_hn"].pk])).content.decode()
    assert "0900000000" in html and "0912345601" in html
    assert "Số điện thoại sai" in html
    assert "commune_badinh" in html


def test_home_shows_role_and_unit(world):
    html = client_for(world, "facility_hcm").get(reverse("web:home")).content.decode()
    assert "Cơ sở tiêm chủng" in html
    assert "HCM01 Bệnh viện Chợ Rẫy" in html
    html = client_for(world, "national").get(reverse("web:home")).content.decode()
    assert "Toàn quốc" in html


def test_history_masks_id_numbers_changed_by_a_correction(world):
    from vaxreg.core.history import ChangeSource, record_change

    person = world.persons["binh_hn"]
    record_change(
        entity="person",
        entity_id=person.pk,
        changes={"id_number": ("1090054321", "001090054321")},
        source=ChangeSource(type=SourceType.IMPORT, id="7", reason="leading zeros restored"),
    )
    html = client_for(world, "province_hn").get(reverse("web:person", args=[person.pk])).content.decode()
    assert "001090054321" not in html and "1090054321" not in html
    assert "•••••••••321" in html
