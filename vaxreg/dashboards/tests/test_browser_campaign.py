"""The province follows its campaign in Chromium: the projected finish, the commune behind, that commune's
dashboard and its worklist, and the campaign's workbook."""

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from vaxreg.core import clock
from vaxreg.dashboards.campaigns import campaign_create
from vaxreg.dashboards.models import Target
from vaxreg.dashboards.tests.test_campaigns import week_of_work
from vaxreg.testing.browser import staff_log_in
from vaxreg.testing.world import world_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_province_sees_the_projection_drills_down_to_the_commune_behind_and_downloads(
    browser_page: Page, live_server: Any
) -> None:
    world = world_build()
    today = clock.today()
    start = today - dt.timedelta(days=7)

    week_of_work(world, start)  # Ba Đình closes 2 cases a day since; Hoàn Kiếm none of its 10
    campaign = campaign_create(
        actor=world.users["province_hn"],
        name="Xác minh xong Hà Nội",
        unit_key="01",
        target=Target.CASES_ACTIVE,
        goal=Decimal(0),
        start=start,
        deadline=today + dt.timedelta(days=12),
    )
    page, base = browser_page, live_server.url

    staff_log_in(page, base, "province_hn")
    page.click("nav >> text=Tiến độ")
    expect(page.locator("h1")).to_have_text("Tiến độ: Thành phố Hà Nội")
    page.click("text=Chiến dịch")
    page.click(f"text={campaign.name}")

    # 16 open, 2 fewer a day: the goal on today + 8 days, before the deadline.
    projected = (today + dt.timedelta(days=8)).strftime("%d/%m/%Y")
    expect(page.locator("#verdict")).to_contain_text(projected)
    expect(page.locator("#verdict")).to_contain_text("trước hạn chót")
    behind = page.locator("table.dashboard-behind tbody tr")
    expect(behind).to_have_count(1)
    expect(behind.first).to_contain_text("Phường Hoàn Kiếm")
    expect(behind.first).to_contain_text("GENDER_MISSING 10")
    expect(page.locator("#chart-trend + .chart canvas")).to_be_visible()
    # Every table sorts by any column: the days, newest first after two clicks on their title.
    days = page.locator("table.dashboard-trend")
    days.locator("thead th button").first.click()
    days.locator("thead th button").first.click()
    expect(days.locator("thead th").first).to_have_attribute("aria-sort", "descending")
    expect(days.locator("tbody tr").first).to_contain_text(today.strftime("%d/%m/%Y"))

    # The workbook of the campaign: its tables, the same numbers.
    with page.expect_download() as download:
        page.click("text=Tải về (Excel)")
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    assert book["behind"].cell(row=2, column=2).value == "00070"

    # Down to the commune behind, and to its worklist: its ten cases.
    behind.first.locator("a").first.click()
    expect(page.locator("h1")).to_have_text("Tiến độ: Phường Hoàn Kiếm")
    page.locator("table.dashboard-findings a", has_text="GENDER_MISSING").click()
    expect(page).to_have_url(f"{base}{reverse('verification:worklist')}?code=GENDER_MISSING&commune=00070")
    expect(page.locator("table.worklist tbody tr")).to_have_count(10)
