"""A citizen on a phone sends a complaint with markup in it and follows it: nothing runs, all is shown as typed."""

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Dialog, Page, expect

from vaxreg.complaints.models import Complaint
from vaxreg.testing.world import world_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME = "<script>alert(1)</script> Nguyễn Văn An"
DESCRIPTION = "<img src=x onerror=alert(1)> Mũi 2 không hiện"


def test_a_citizen_on_a_phone_sends_and_tracks_a_complaint_with_markup_in_it(
    browser_page: Page, live_server: Any
) -> None:
    world_build()
    page, base = browser_page, live_server.url
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + reverse("complaints_public:form"))

    page.check("#category-3")
    page.fill("#id_full_name", NAME)
    page.fill("#id_birth_date", "1978")
    page.locator("label.pill", has_text="Nam").click()
    page.fill("#id_phone", "0987 654 321")
    # The commune and facility boxes became lists filled from the places API.
    page.select_option("#id_province_code", "01")
    expect(page.locator("select#id_commune_code option[value='00004']")).to_have_count(1)
    page.select_option("select#id_commune_code", "00004")
    expect(page.locator("select#id_facility_code option[value='HN001']")).to_have_count(1)
    page.select_option("select#id_facility_code", "HN001")
    page.fill("#id_dose1_date", "15/09/2021")
    page.select_option("#id_dose1_vaccine", "AZ")
    page.fill("#id_description", DESCRIPTION)
    submit = page.locator("form.public-form button[type=submit]")
    box = submit.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] <= 390  # a thumb-sized target that fits
    page.wait_for_timeout(3200)  # a person takes longer than the form's minimum age
    submit.click()

    expect(page.locator("#tracking-code")).to_be_visible()
    code = page.locator("#tracking-code").inner_text().strip()
    complaint = Complaint.objects.get(tracking_code=code)
    assert (complaint.full_name, complaint.description, complaint.facility.code) == (
        NAME,
        DESCRIPTION,
        "HN001",
    )

    page.click("text=Xem tình trạng")
    expect(page.locator("#id_code")).to_have_value(code)
    page.fill("#id_phone", "+84987654321")
    page.locator("form.public-form button[type=submit]").click()
    result = page.locator("section.result")
    expect(result).to_contain_text("Đang xử lý")
    expect(result.locator("dd.literal").first).to_have_text(NAME)
    expect(result.locator("dd.literal").nth(1)).to_have_text(DESCRIPTION)
    assert page.locator("section.result img").count() == 0
    assert dialogs == []
