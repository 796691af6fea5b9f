"""The handlers' inbox: the most urgent complaint first, time left in words, filters, pages, bounded queries."""

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint
from vaxreg.complaints.services import complaint_defer, complaint_reject
from vaxreg.core import clock
from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 in Hà Nội


def _submit(**values: Any) -> Complaint:
    defaults: dict[str, Any] = {"category": 3, "full_name": "Nguyễn Văn An", "phone": "0912345601"}
    return complaint_submit(intake=Intake(**(defaults | values)))


def _at(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)
    monkeypatch.setattr(clock, "today", lambda: timezone.localdate(moment))


def client_for(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def page_text(response: Any) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def listed_ids(response: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-complaint="(\d+)"', response.content.decode())]


@pytest.fixture
def received(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, Complaint]:
    """Four complaints to HN001 received 50, 40, 28 and 10 hours before NOW; one of them deferred."""
    made = {}
    for key, hours, category in [("overdue", 50, 3), ("soon", 40, 5), ("deferred", 28, 4), ("fresh", 10, 1)]:
        _at(monkeypatch, NOW - dt.timedelta(hours=hours))
        made[key] = _submit(full_name=f"Người {key}", category=category, facility_code="HN001")
    _at(monkeypatch, NOW - dt.timedelta(hours=1))
    complaint_defer(
        actor=world.users["facility_hn1"],
        complaint_id=made["deferred"].pk,
        reason="Chờ sổ tiêm gốc",
        until=dt.date(2026, 3, 20),
    )
    _at(monkeypatch, NOW)
    return {key: Complaint.objects.get(pk=c.pk) for key, c in made.items()}


def test_the_most_urgent_complaint_comes_first_and_the_overdue_one_is_marked(world, received):
    handler = client_for(world, "facility_hn1")
    response = handler.get(reverse("complaints:inbox"))
    assert listed_ids(response) == [received[k].pk for k in ("overdue", "soon", "deferred", "fresh")]
    text = page_text(response)
    assert "quá hạn quá hạn 2 giờ 0 phút" in text  # the mark, then how long
    assert "còn 8 giờ 0 phút" in text and "còn 20 giờ 0 phút" in text and "còn 38 giờ 0 phút" in text
    body = response.content.decode()
    assert re.search(rf'<tr class="overdue[^"]*" data-complaint="{received["overdue"].pk}"', body)
    assert not re.search(rf'<tr class="overdue[^"]*" data-complaint="{received["soon"].pk}"', body)
    assert "4 phản ánh" in text

    english = client_for(world, "facility_hn1")
    english.cookies["django_language"] = "en"
    text = page_text(english.get(reverse("complaints:inbox")))
    assert "overdue overdue by 2 h 0 min" in text and "8 h 0 min left" in text

    api = handler.get("/api/complaints").json()
    assert [c["id"] for c in api["complaints"]] == listed_ids(response)
    assert (
        api["complaints"][0]["overdue"] is True
        and api["complaints"][0]["time_left_vi"] == "quá hạn 2 giờ 0 phút"
    )


def test_filters_state_category_and_overdue_only(world, received):
    handler = client_for(world, "facility_hn1")
    complaint_reject(actor=world.users["facility_hn1"], complaint_id=received["soon"].pk, reason="unreadable")
    inbox = reverse("complaints:inbox")
    assert listed_ids(handler.get(inbox)) == [received[k].pk for k in ("overdue", "deferred", "fresh")]
    assert listed_ids(handler.get(inbox, {"state": "closed"})) == [received["soon"].pk]
    assert listed_ids(handler.get(inbox, {"state": "deferred"})) == [received["deferred"].pk]
    assert listed_ids(handler.get(inbox, {"category": "1"})) == [received["fresh"].pk]
    assert listed_ids(handler.get(inbox, {"overdue": "on"})) == [received["overdue"].pk]
    assert listed_ids(handler.get(inbox, {"category": "nonsense"})) == listed_ids(handler.get(inbox))
    api = handler.get("/api/complaints", {"state": "closed"}).json()
    assert [c["id"] for c in api["complaints"]] == [received["soon"].pk]
    assert handler.get("/api/complaints", {"overdue": "true"}).json()["count"] == 1


def test_the_province_sees_escalated_complaints_highlighted_and_the_facility_no_longer(world, received):
    Complaint.objects.filter(pk=received["overdue"].pk).update(escalated_at=NOW - dt.timedelta(hours=1))
    province = client_for(world, "province_hn")
    response = province.get(reverse("complaints:inbox"))
    body = response.content.decode()
    assert re.search(rf'<tr class="overdue escalated" data-complaint="{received["overdue"].pk}"', body)
    assert "đã chuyển Sở Y tế" in page_text(response)
    facility = client_for(world, "facility_hn1")
    assert received["overdue"].pk not in listed_ids(facility.get(reverse("complaints:inbox")))


def test_the_inbox_is_paginated_and_its_queries_do_not_grow_with_the_rows(
    world, monkeypatch, django_assert_max_num_queries
):
    _at(monkeypatch, NOW - dt.timedelta(hours=5))
    for i in range(3):
        _submit(full_name=f"Người thứ {i}", facility_code="HN001")
    handler = client_for(world, "facility_hn1")
    _at(monkeypatch, NOW)
    with django_assert_max_num_queries(12) as few:
        handler.get(reverse("complaints:inbox"))
    baseline = len(few)
    _at(monkeypatch, NOW - dt.timedelta(hours=4))
    for i in range(52):
        _submit(full_name=f"Người khác {i}", facility_code="HN001")
    _at(monkeypatch, NOW)
    with django_assert_max_num_queries(baseline):
        first = handler.get(reverse("complaints:inbox"))
    assert len(listed_ids(first)) == 50 and "trang 1/2" in page_text(first)
    second = handler.get(reverse("complaints:inbox"), {"page": "2"})
    assert len(listed_ids(second)) == 5
    assert set(listed_ids(first)).isdisjoint(listed_ids(second))
    with django_assert_max_num_queries(baseline):
        api = handler.get("/api/complaints").json()
    assert (api["count"], api["pages"], len(api["complaints"])) == (55, 2, 50)


def test_the_complaint_page_reads_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    complaint = _submit(full_name="Nguyễn Thị Đào", id_number="001190012345", facility_code="HN001")
    _submit(full_name="Nguyễn Thị Đào", id_number="001190012345", facility_code="HN001", description="lần 2")
    handler = client_for(world, "facility_hn1")
    with django_assert_max_num_queries(25):
        response = handler.get(reverse("complaints:complaint", args=[complaint.pk]))
    assert response.status_code == 200
