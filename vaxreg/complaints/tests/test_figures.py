"""Complaint figures on a small set whose numbers are known: on time, late, open by age, per unit."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from vaxreg.complaints.deadline import complaints_tick
from vaxreg.complaints.figures import complaint_figures
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint
from vaxreg.complaints.services import complaint_reject
from vaxreg.core import clock
from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 on 10/03 in Hà Nội
H = dt.timedelta(hours=1)


def _at(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)
    monkeypatch.setattr(clock, "today", lambda: timezone.localdate(moment))


def _submit(**values: Any) -> Complaint:
    defaults: dict[str, Any] = {"category": 3, "full_name": "Nguyễn Văn An", "phone": "0912345601"}
    return complaint_submit(intake=Intake(**(defaults | values)))


@pytest.fixture
def history(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, Complaint]:
    """HN001: A closed on time, B closed late, C open and escalated, D open 30 h, E open 5 h (J joined E);
    HN002: F open 5 h; Hà Nội's health department: G open 3 h; HCM01: H closed on time."""
    made: dict[str, Complaint] = {}

    def submit(key: str, at: dt.datetime, **values: Any) -> None:
        _at(monkeypatch, at)
        made[key] = _submit(**({"full_name": f"Người {key}"} | values))

    def reject(key: str, at: dt.datetime, user: str = "facility_hn1") -> None:
        _at(monkeypatch, at)
        complaint_reject(actor=world.users[user], complaint_id=made[key].pk, reason="unreadable")

    submit("A", NOW - 100 * H, facility_code="HN001")
    submit("B", NOW - 100 * H, facility_code="HN001", category=5)
    reject("A", NOW - 70 * H)
    complaints_tick(now=NOW - 51 * H)  # B is past due: escalated
    reject("B", NOW - 40 * H, user="province_hn")
    submit("C", NOW - 60 * H, facility_code="HN001")
    complaints_tick(now=NOW - 11 * H)  # C is past due: escalated
    submit("D", NOW - 30 * H, facility_code="HN001")
    submit("E", NOW - 5 * H, facility_code="HN001", id_number="001190012345")
    # J is the same citizen as E, sending again: it joins E.
    submit("J", NOW - 4 * H, facility_code="HN001", id_number="001190012345", full_name="Người E")
    submit("F", NOW - 5 * H, facility_code="HN002")
    submit("G", NOW - 3 * H, province_code="01")
    submit("H", NOW - 2 * H, facility_code="HCM01")
    reject("H", NOW - 1 * H, user="facility_hcm")
    _at(monkeypatch, NOW)
    assert made["J"].joined_to_id == made["E"].pk
    return made


def counts(row: Any) -> tuple[int, ...]:
    """received, on time, late, open, <24 h, 24–48 h, >48 h, escalated"""
    return (
        row.received,
        row.resolved_on_time,
        row.resolved_late,
        row.still_open,
        row.open_under_24h,
        row.open_24_to_48h,
        row.open_over_48h,
        row.late,
    )


def test_a_facility_sees_its_own_row(world, history, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        figures = complaint_figures(user=world.users["facility_hn1"], now=NOW)
    assert [(r.code, counts(r)) for r in figures.rows] == [("HN001", (5, 1, 1, 3, 1, 1, 1, 2))]
    assert figures.total is None


def test_a_province_sees_its_facilities_its_own_and_its_total(world, history, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        figures = complaint_figures(user=world.users["province_hn"], now=NOW)
    assert [(r.level, r.code, counts(r)) for r in figures.rows] == [
        ("facility", "HN001", (5, 1, 1, 3, 1, 1, 1, 2)),
        ("facility", "HN002", (1, 0, 0, 1, 1, 0, 0, 0)),
        ("province", "01", (1, 0, 0, 1, 1, 0, 0, 0)),
    ]
    assert counts(figures.total) == (7, 1, 1, 5, 3, 1, 1, 2)
    hcm = complaint_figures(user=world.users["province_hcm"], now=NOW)
    assert [(r.code, counts(r)) for r in hcm.rows] == [("HCM01", (1, 1, 0, 0, 0, 0, 0, 0))]


def test_the_ministry_sees_every_province_and_the_nation(world, history):
    figures = complaint_figures(user=world.users["national"], now=NOW)
    assert [(r.code, counts(r)) for r in figures.rows] == [
        ("01", (7, 1, 1, 5, 3, 1, 1, 2)),
        ("79", (1, 1, 0, 0, 0, 0, 0, 0)),
    ]
    assert counts(figures.total) == (8, 2, 1, 5, 3, 1, 1, 2)
    station = complaint_figures(user=world.users["commune_hoankiem"], now=NOW)
    assert [(r.code, r.received) for r in station.rows] == [("HN002", 1)] and station.total.received == 1
    assert complaint_figures(user=world.users["police_badinh"], now=NOW).rows == []


def test_the_date_range_counts_what_was_received_in_it(world, history):
    facility = world.users["facility_hn1"]
    since = complaint_figures(user=facility, received_from=dt.date(2026, 3, 9), now=NOW)
    assert counts(since.rows[0]) == (2, 0, 0, 2, 1, 1, 0, 0)  # D (09/03 04:00) and E
    one_day = complaint_figures(
        user=facility, received_from=dt.date(2026, 3, 8), received_to=dt.date(2026, 3, 9), now=NOW
    )
    assert [r.received for r in one_day.rows] == [1]  # D; C came in at 22:00 on 07/03, local time
    assert complaint_figures(user=facility, received_to=dt.date(2026, 3, 1), now=NOW).rows == []


def test_the_figures_page_and_api_show_the_same_numbers(world, history):
    client = Client()
    client.force_login(world.users["province_hn"])
    api = client.get("/api/complaints/figures").json()
    assert [(r["code"], r["received"], r["late"]) for r in api["rows"]] == [
        ("HN001", 5, 2),
        ("HN002", 1, 0),
        ("01", 1, 0),
    ]
    assert api["total"]["resolved_on_time"] == 1 and api["total"]["open_under_24h"] == 3
    filtered = client.get("/api/complaints/figures", {"received_from": "2026-03-09"}).json()
    assert filtered["total"]["received"] == 4 and filtered["received_from"] == "2026-03-09"
    page = client.get(reverse("complaints:figures"), {"received_from": "09/03/2026"})
    body = page.content.decode()
    assert page.status_code == 200 and 'data-code="HN001"' in body and 'data-code="total"' in body
    assert "Giải quyết đúng hạn" in body and "Trễ hạn (chuyển Sở)" in body
    bad = client.get(reverse("complaints:figures"), {"received_from": "31/02/2026"})
    assert bad.status_code == 200 and "Ngày không đọc được" in bad.content.decode()
