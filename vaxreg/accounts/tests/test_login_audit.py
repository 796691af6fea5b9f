"""Every login attempt and logout is audited with the address, and a user sees the failures on their
account since their previous login on the page they land on."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent
from vaxreg.core.testing import TEST_PASSWORD

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def log_in(client: Client, username: str, password: str, address: str, **extra):
    return client.post(
        reverse("web:login"), {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def test_a_failed_login_is_audited_with_the_account_the_username_and_the_address(world):
    log_in(Client(), "Province_HN", "wrong-password", "203.0.113.7")

    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    user = world.users["province_hn"]
    assert (event.actor_id, event.object_type, event.object_id) == (user.pk, "user", str(user.pk))
    assert event.detail["username"] == "Province_HN"
    assert event.detail["address"] == "203.0.113.7"


def test_a_failed_login_with_an_unknown_username_names_no_account(world):
    log_in(Client(), "no-such-user", "wrong-password", "203.0.113.7")

    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor_id is None and event.object_id == ""
    assert event.detail["username"] == "no-such-user" and event.detail["address"] == "203.0.113.7"


def test_a_login_and_a_logout_are_audited_with_the_address(world):
    client = Client()
    assert log_in(client, "province_hn", TEST_PASSWORD, "203.0.113.7").status_code == 302
    client.post(reverse("web:logout"), REMOTE_ADDR="203.0.113.9")

    user = world.users["province_hn"]
    login = AuditEvent.objects.get(action=Action.LOGIN_SUCCEEDED)
    assert login.actor_id == user.pk and login.detail["address"] == "203.0.113.7"
    logout = AuditEvent.objects.get(action=Action.LOGOUT)
    assert logout.actor_id == user.pk and logout.detail["address"] == "203.0.113.9"
    assert client.get(reverse("web:home")).status_code == 302


def test_a_refused_login_is_audited_and_not_counted(world):
    for _ in range(20):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")
    for _ in range(3):
        log_in(Client(), "national", TEST_PASSWORD, "198.51.100.4")

    throttled = AuditEvent.objects.filter(action=Action.LOGIN_THROTTLED)
    assert throttled.count() == 3
    assert {e.detail["address"] for e in throttled} == {"198.51.100.4"}
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED).count() == 20


def test_the_address_behind_a_trusted_proxy_is_the_clients(world, monkeypatch):
    monkeypatch.setattr(settings, "VAXREG_TRUSTED_PROXIES", ["10.0.0.0/8"])
    log_in(Client(), "national", "wrong-password", "10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.77")

    assert AuditEvent.objects.get(action=Action.LOGIN_FAILED).detail["address"] == "203.0.113.77"


def test_the_next_login_shows_the_failures_since_the_previous_one(world, monkeypatch):
    first = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: first)
    assert log_in(Client(), "commune_badinh", TEST_PASSWORD, "203.0.113.7").status_code == 302
    for minutes, address in ((5, "198.51.100.20"), (6, "198.51.100.20"), (7, "198.51.100.21")):
        monkeypatch.setattr(clock, "now", lambda minutes=minutes: first + dt.timedelta(minutes=minutes))
        log_in(Client(), "commune_badinh", "wrong-password", address)

    monkeypatch.setattr(clock, "now", lambda: first + dt.timedelta(hours=1))
    client = Client()
    response = log_in(client, "commune_badinh", TEST_PASSWORD, "203.0.113.7", follow=True)

    assert response.request["PATH_INFO"] == reverse("web:home")
    page = response.content.decode()
    # 3 failures, the last at 08:07 Hà Nội time (01:07 UTC) from 198.51.100.21.
    assert "Có 3 lần đăng nhập không thành công" in page and "3 failed login attempt(s)" in page
    assert "08:07 02/03/2026" in page and "198.51.100.21" in page

    # Told once: the login after that has nothing to say.
    again = log_in(Client(), "commune_badinh", TEST_PASSWORD, "203.0.113.7", follow=True)
    assert "failed login attempt" not in again.content.decode()


def test_a_login_without_earlier_failures_shows_no_warning(world):
    response = log_in(Client(), "commune_badinh", TEST_PASSWORD, "203.0.113.7", follow=True)
    assert response.status_code == 200 and "failed login attempt" not in response.content.decode()
