"""Campaigns: the trend kept day by day by the recounts the work sets off, the date the last week's pace
reaches the goal, the units below that will be late, and who may read and start one."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent
from vaxreg.dashboards.campaigns import TARGET_RULES, campaign_create, projection_of, series_of
from vaxreg.dashboards.models import Campaign, Target
from vaxreg.dashboards.services import rollups_rebuild, rollups_refresh
from vaxreg.people.models import Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import TEST_PASSWORD, World, person_make, world  # noqa: F401 - the fixture
from vaxreg.verification.models import VerificationCase
from vaxreg.verification.services import case_resolve, cases_sync

pytestmark = pytest.mark.django_db

START = dt.date(2026, 3, 1)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(9)))


def test_the_pace_of_the_last_week_projects_the_finish() -> None:
    rule = TARGET_RULES[Target.CASES_ACTIVE]
    # 100 open cases, 5 fewer each day from 1 March; nothing kept on 3 March (carried forward).
    days = {START + dt.timedelta(days=i): {"cases_active": 100 - 5 * i} for i in range(11) if i != 2}
    series = series_of(rule, days, START, START + dt.timedelta(days=10))
    assert series.values[2] == 95  # the 2nd's value carried into the 3rd
    projection = projection_of(rule, series, goal=0)
    assert projection.value == 50 and projection.pace == pytest.approx(5)
    assert projection.projected == START + dt.timedelta(days=20)  # 50 left at 5 a day
    assert projection.days_late(START + dt.timedelta(days=15)) == 5
    assert projection.days_late(START + dt.timedelta(days=25)) == 0

    share = TARGET_RULES[Target.VERIFIED_SHARE]
    flat = {
        START: {"verified": 10, "persons": 100},
        START + dt.timedelta(days=9): {"verified": 10, "persons": 100},
    }
    stuck = projection_of(share, series_of(share, flat, START, START + dt.timedelta(days=9)), goal=95)
    assert stuck.value == 10 and stuck.projected is None and stuck.days_late(START) is None
    done = {START: {"verified": 96, "persons": 100}}
    reached = projection_of(share, series_of(share, done, START, START + dt.timedelta(days=3)), goal=95)
    assert reached.reached_on == START and reached.days_late(START + dt.timedelta(days=1)) == 0


def _cases_in(world: World, commune: str, count: int) -> list[int]:  # noqa: F811
    """``count`` persons of the commune whose gender is missing: a blocking finding, so a case each."""
    ids = []
    for i in range(count):
        person = person_make(full_name=f"Người Thứ {i} {commune}", commune=world.communes[commune])
        Person.objects.filter(pk=person.pk).update(gender="")
        ids.append(person.pk)
    quality_check_persons(person_ids=ids)
    cases_sync(person_ids=ids)
    return list(VerificationCase.objects.filter(person_id__in=ids).values_list("pk", flat=True))


def week_of_work(world: World, start: dt.date) -> None:  # noqa: F811
    """On ``start`` Hà Nội opens 20 cases in Ba Đình and 10 in Hoàn Kiếm; for 7 days Ba Đình closes 2 a day
    and Hoàn Kiếm none. Each day's figures are kept by the recount of that day's work, as that day."""
    with clock.moved_to(_at(start)):
        ba_dinh = _cases_in(world, "00004", 20)
        _cases_in(world, "00070", 10)
        rollups_rebuild()
    for day in range(1, 8):
        with clock.moved_to(_at(start + dt.timedelta(days=day))):
            for case_id in ba_dinh[2 * (day - 1) : 2 * day]:
                case_resolve(
                    actor=world.users["commune_badinh"],
                    case_id=case_id,
                    justification="Đã gặp trực tiếp người dân",
                )
            rollups_refresh()


@pytest.fixture
def campaign_world(world: World) -> dict[str, Any]:  # noqa: F811
    """A week of work from 1 March; the campaign: no open case in Hà Nội by 20 March."""
    week_of_work(world, START)
    with clock.moved_to(_at(START + dt.timedelta(days=7))):
        campaign = campaign_create(
            actor=world.users["province_hn"],
            name="Xác minh xong Hà Nội",
            unit_key="01",
            target=Target.CASES_ACTIVE,
            goal=Decimal(0),
            start=START,
            deadline=START + dt.timedelta(days=19),
        )
    return {"campaign": campaign, "today": START + dt.timedelta(days=7)}


def _client(world: World, user: str) -> Client:  # noqa: F811
    client = Client()
    assert client.login(username=user, password=TEST_PASSWORD)
    return client


def test_the_campaign_shows_its_projection_and_the_communes_behind(
    world: World,  # noqa: F811
    campaign_world: dict[str, Any],
) -> None:
    campaign: Campaign = campaign_world["campaign"]
    with clock.moved_to(_at(campaign_world["today"])):
        answer: Any = _client(world, "province_hn").get(f"/api/campaigns/{campaign.pk}").json()
    # 16 open in Hà Nội (6 in Ba Đình, 10 in Hoàn Kiếm), 2 fewer a day: 8 more days, on 16 March.
    assert answer["now"] == 16
    assert answer["pace_per_day"] == pytest.approx(2)
    assert answer["projected_finish"] == "2026-03-16"
    assert answer["on_time"] is True
    # Ba Đình finishes on 11 March; Hoàn Kiếm has not moved: it is the one behind.
    assert answer["units_behind"] == ["00070"]
    behind = next(t for t in answer["tables"] if t["slug"] == "behind")
    assert behind["rows"][0][6] == 10  # its open cases
    assert "GENDER_MISSING 10" in behind["rows"][0][7]

    with clock.moved_to(_at(campaign_world["today"])):
        page = _client(world, "province_hn").get(reverse("dashboards:campaign", args=[campaign.pk]))
    text = page.content.decode()
    assert "16/03/2026" in text
    assert reverse("dashboards:unit", args=["00070"]) in text
    assert 'id="chart-trend"' in text  # the chart's data beside the day-by-day table


@pytest.mark.parametrize(
    ("user", "status"),
    [
        ("national", 200),
        ("admin", 200),
        ("province_hn", 200),
        ("province_hcm", 404),
        ("commune_badinh", 404),
        ("facility_hn1", 404),
        ("police_badinh", 403),
    ],
)
def test_a_campaign_is_read_within_its_unit_only(
    world: World,  # noqa: F811
    campaign_world: dict[str, Any],
    user: str,
    status: int,
) -> None:
    campaign = campaign_world["campaign"]
    client = _client(world, user)
    urls = [
        reverse("dashboards:campaign", args=[campaign.pk]),
        reverse("dashboards:campaign_export_xlsx", args=[campaign.pk]),
        f"/api/campaigns/{campaign.pk}",
    ]
    for url in urls:
        assert client.get(url).status_code == status, url
    listed = client.get("/api/campaigns")
    if status == 200:
        assert [c["id"] for c in listed.json()] == [campaign.pk]
    elif status == 404:
        assert listed.json() == []


def test_only_the_ministry_and_provinces_start_campaigns_for_their_own_units(world: World) -> None:  # noqa: F811
    form = {
        "name": "Đủ thông tin",
        "target": Target.COMPLETE_SHARE,
        "goal": "95",
        "start": "2026-03-01",
        "deadline": "2026-04-01",
    }
    province = _client(world, "province_hn")
    created = province.post(reverse("dashboards:campaigns"), form | {"unit_key": "00004"})
    assert created.status_code == 302
    assert Campaign.objects.get().unit_key == "00004"
    # Another province's commune is not among the choices; the commune station may not start one.
    assert province.post(reverse("dashboards:campaigns"), form | {"unit_key": "26740"}).status_code == 400
    assert (
        _client(world, "commune_badinh")
        .post(reverse("dashboards:campaigns"), form | {"unit_key": "00004"})
        .status_code
        == 403
    )
    late = province.post(reverse("dashboards:campaigns"), form | {"unit_key": "01", "deadline": "2026-02-01"})
    assert late.status_code == 400
    assert "Hạn chót phải sau ngày bắt đầu" in late.content.decode()
    too_much = province.post(reverse("dashboards:campaigns"), form | {"unit_key": "01", "goal": "120"})
    assert too_much.status_code == 400
    assert Campaign.objects.count() == 1


def test_a_campaign_is_closed_with_a_reason_and_stays_readable(
    world: World,  # noqa: F811
    campaign_world: dict[str, Any],
) -> None:
    campaign = campaign_world["campaign"]
    url = reverse("dashboards:campaign_close", args=[campaign.pk])
    assert _client(world, "commune_badinh").post(url, {"reason": "Xong việc"}).status_code == 403
    assert _client(world, "province_hcm").post(url, {"reason": "Xong việc"}).status_code == 404
    province = _client(world, "province_hn")
    assert province.post(url, {"reason": ""}).status_code == 400
    assert province.post(url, {"reason": "Thay bằng chiến dịch mới"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.closed_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.CAMPAIGN_CLOSED)
    assert (
        event.actor_id == world.users["province_hn"].pk
        and event.detail["reason"] == "Thay bằng chiến dịch mới"
    )
    again = province.post(url, {"reason": "Lần nữa"})
    assert again.status_code == 400 and "Chiến dịch đã đóng" in again.content.decode()
    assert province.get(f"/api/campaigns/{campaign.pk}").json()["closed_at"] is not None
