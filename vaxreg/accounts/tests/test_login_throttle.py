"""After 20 wrong passwords the right one does not log in: per account from any address, per address for
any account, counted in the database that every worker shares (each Client here is another worker)."""

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from vaxreg.core import clock
from vaxreg.core.testing import TEST_PASSWORD

pytestmark = pytest.mark.django_db

REFUSAL_VI = "Tạm thời không thể đăng nhập"
REFUSAL_EN = "Logging in is paused"


def log_in(client: Client, username: str, password: str, address: str):
    return client.post(
        reverse("web:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def logged_in(client: Client) -> bool:
    return client.get(reverse("web:home")).status_code == 200


def test_twenty_wrong_passwords_from_twenty_addresses_lock_the_account_for_every_address(world):
    for i in range(20):
        response = log_in(Client(), "national", f"wrong-password-{i}", f"198.51.100.{i + 1}")
        assert response.status_code == 200 and "Sai tên đăng nhập hoặc mật khẩu" in response.content.decode()

    worker = Client()
    refused = log_in(worker, "national", TEST_PASSWORD, "203.0.113.50")

    assert refused.status_code == 429
    page = refused.content.decode()
    assert REFUSAL_VI in page and REFUSAL_EN in page
    assert 1 <= int(refused["Retry-After"]) <= 30 * 60
    assert not logged_in(worker)
    # The same page for a wrong password: the refusal tells nothing about the password.
    wrong = log_in(Client(), "national", "still-wrong-123", "203.0.113.51")
    assert wrong.status_code == 429 and REFUSAL_EN in wrong.content.decode()
    # Another account is not locked, from the same addresses.
    assert log_in(Client(), "admin", TEST_PASSWORD, "198.51.100.1").status_code == 302


def test_twenty_wrong_passwords_from_one_address_lock_that_address_for_another_account(world):
    for i in range(20):
        assert log_in(Client(), f"nobody-{i}", "wrong-password", "203.0.113.7").status_code == 200

    worker = Client()
    refused = log_in(worker, "province_hn", TEST_PASSWORD, "203.0.113.7")
    assert refused.status_code == 429 and REFUSAL_VI in refused.content.decode()
    assert not logged_in(worker)
    # The account itself is not locked: from another address it logs in.
    other = Client()
    assert log_in(other, "province_hn", TEST_PASSWORD, "203.0.113.8").status_code == 302
    assert logged_in(other)


def test_nineteen_wrong_passwords_still_let_the_right_one_in(world):
    for _ in range(19):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")
    client = Client()
    assert log_in(client, "national", TEST_PASSWORD, "203.0.113.7").status_code == 302
    assert logged_in(client)


def test_the_lock_ends_after_its_window(world, monkeypatch):
    start = dt.datetime(2026, 3, 2, 9, 0, 5, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: start)
    for _ in range(20):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")

    # The failures still count through the next 15-minute window...
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(minutes=20))
    refused = log_in(Client(), "national", TEST_PASSWORD, "203.0.113.8")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 10 * 60 - 5  # until 09:30:00, the end of the next window

    # ...and not after it.
    monkeypatch.setattr(clock, "now", lambda: start + dt.timedelta(minutes=30))
    client = Client()
    assert log_in(client, "national", TEST_PASSWORD, "203.0.113.8").status_code == 302
    assert logged_in(client)


def test_failures_on_both_sides_of_a_window_boundary_add_up(world, monkeypatch):
    boundary = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: boundary - dt.timedelta(seconds=30))
    for _ in range(10):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")
    monkeypatch.setattr(clock, "now", lambda: boundary + dt.timedelta(seconds=30))
    for _ in range(10):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")

    assert log_in(Client(), "national", TEST_PASSWORD, "198.51.100.1").status_code == 429


def test_the_limits_are_configurable(world, monkeypatch):
    monkeypatch.setattr(settings, "VAXREG_LOGIN_LIMITS", "account=3/h")
    for _ in range(3):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")
    assert log_in(Client(), "national", TEST_PASSWORD, "198.51.100.1").status_code == 429
    # The address keeps its default of 20.
    assert log_in(Client(), "admin", TEST_PASSWORD, "203.0.113.7").status_code == 302


@pytest.mark.parametrize("bad", ["account=many/h", "account=0/h", "user=3/h", "20/15m"])
def test_a_bad_limit_setting_is_a_clear_configuration_error(bad, monkeypatch):
    from vaxreg.accounts.logins import login_limits

    monkeypatch.setattr(settings, "VAXREG_LOGIN_LIMITS", bad)
    with pytest.raises(ImproperlyConfigured, match="VAXREG_LOGIN_LIMITS"):
        login_limits()


def test_every_password_check_is_throttled_not_only_the_login_page(world):
    for _ in range(20):
        log_in(Client(), "national", "wrong-password", "203.0.113.7")

    assert authenticate(username="national", password=TEST_PASSWORD) is None
    assert not Client().login(username="national", password=TEST_PASSWORD)


def test_a_password_checked_elsewhere_counts_towards_the_lock(world):
    for _ in range(20):
        assert authenticate(username="national", password="wrong-password") is None

    assert log_in(Client(), "national", TEST_PASSWORD, "203.0.113.7").status_code == 429
