"""A staff session ends after an idle time (8 hours by default) counted from its last request, is kept by
activity, and is not written back on every request."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent
from vaxreg.testing.world import TEST_PASSWORD

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
API_URL = "/api/people?q=dao"


@pytest.fixture
def at(monkeypatch):
    def move(delta: dt.timedelta) -> None:
        monkeypatch.setattr(clock, "now", lambda: START + delta)

    move(dt.timedelta(0))
    return move


def logged_in_client() -> Client:
    client = Client()
    response = client.post(
        reverse("web:login"),
        {"username": "province_hn", "password": TEST_PASSWORD},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    return client


def home_status(client: Client) -> int:
    return client.get(reverse("web:home"), REMOTE_ADDR="203.0.113.7").status_code


def test_the_session_ends_after_eight_idle_hours(world, at):
    client = logged_in_client()

    at(dt.timedelta(hours=8, minutes=1))

    response = client.get(reverse("web:home"), REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGOUT)
    assert event.actor_id == world.users["province_hn"].pk and event.detail["reason"] == "idle"
    assert client.get(API_URL).status_code == 401


def test_activity_keeps_the_session(world, at):
    client = logged_in_client()

    for hours in (7, 14, 21, 28):
        at(dt.timedelta(hours=hours, minutes=50))
        assert home_status(client) == 200, hours

    at(dt.timedelta(hours=28 + 8, minutes=52))
    assert home_status(client) == 302


def test_the_idle_time_is_configurable(world, at, settings):
    settings.VAXREG_SESSION_IDLE_MINUTES = 30
    client = logged_in_client()

    at(dt.timedelta(minutes=25))
    assert home_status(client) == 200
    at(dt.timedelta(minutes=56))
    assert home_status(client) == 302


def test_the_session_is_written_back_only_every_few_minutes(world, at):
    client = logged_in_client()

    def session_writes() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert home_status(client) == 200
        return sum('UPDATE "django_session"' in q["sql"] for q in queries.captured_queries)

    at(dt.timedelta(minutes=1))
    assert session_writes() == 0
    at(dt.timedelta(minutes=4))
    assert session_writes() == 0
    at(dt.timedelta(minutes=6))
    assert session_writes() == 1
    at(dt.timedelta(minutes=7))
    assert session_writes() == 0


def test_the_session_cookie_ends_with_the_browser(world):
    client = Client()
    response = client.post(reverse("web:login"), {"username": "province_hn", "password": TEST_PASSWORD})
    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""


def test_a_citizen_session_without_a_login_is_left_alone(world, at):
    client = Client()
    session = client.session  # a session without a login, as a citizen's lookup has
    session["citizen_person_id"] = 1
    session.save()

    at(dt.timedelta(hours=9))
    client.get(reverse("web:login"))

    assert client.session.get("citizen_person_id") == 1
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGOUT).exists()
