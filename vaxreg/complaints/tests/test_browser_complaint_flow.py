"""The whole complaint loop in Chromium: a citizen files, the facility adds the missing dose, the citizen
sees the outcome, and the person's history names the complaint."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from vaxreg.complaints.models import Complaint, ComplaintState
from vaxreg.testing.browser import staff_log_in
from vaxreg.testing.world import world_build
from vaxreg.vaccinations.models import Dose

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _proof_photo(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (240, 240, 230)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def test_a_missing_dose_complaint_goes_from_the_citizen_to_the_facility_and_back(
    browser_page: Page, live_server: Any, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"
    world = world_build()
    dao = world.persons["dao_hn"]
    page, base = browser_page, live_server.url

    # Đào has two doses on record; her third, given at Bạch Mai, is missing. She files from her phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + reverse("complaints_public:form"))
    page.check("#category-3")
    page.fill("#id_full_name", "Nguyễn Thị Đào")
    page.fill("#id_birth_date", "1990")
    page.locator("label.pill", has_text="Nữ").click()
    page.fill("#id_id_number", "001190012345")
    page.fill("#id_phone", "0912345601")
    page.select_option("#id_province_code", "01")
    expect(page.locator("select#id_commune_code option[value='00004']")).to_have_count(1)
    page.select_option("select#id_commune_code", "00004")
    expect(page.locator("select#id_facility_code option[value='HN001']")).to_have_count(1)
    page.select_option("select#id_facility_code", "HN001")
    page.fill("#id_dose1_date", "01/02/2022")
    page.select_option("#id_dose1_vaccine", "AZ")
    page.fill("#id_description", "Tôi đã tiêm mũi 3 ở Bạch Mai nhưng ứng dụng không hiện.")
    page.set_input_files("input[type=file]", str(_proof_photo(tmp_path / "phieu-tiem.jpg")))
    page.wait_for_timeout(3200)  # the form refuses what a script sends faster than a person can type
    page.locator("form.public-form button[type=submit]").click()
    expect(page.locator("#tracking-code")).to_be_visible()
    code = page.locator("#tracking-code").inner_text().strip()
    complaint = Complaint.objects.get(tracking_code=code)
    assert complaint.handler_facility is not None and complaint.handler_facility.code == "HN001"
    assert complaint.attachments.count() == 1

    # The facility finds it in its inbox, sees the photo beside her record, and adds the dose.
    staff_log_in(page, base, "facility_hn1")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("nav >> text=Phản ánh")
    expect(page.locator("table.inbox tbody tr")).to_have_count(1)
    page.click(f"a[href='{reverse('complaints:complaint', args=[complaint.pk])}']")
    photo = page.locator("img[src*='/proof/1/']")
    expect(photo).to_be_visible()
    # Visible is not yet loaded: wait for the picture itself (decode() fails if it is not a picture).
    assert photo.evaluate("img => img.decode().then(() => img.naturalWidth)") == 320
    expect(page.locator("#records")).to_contain_text("001190012345"[:3])
    form = page.locator("form#approve-dose")
    form.locator("select[name=dose-vaccine_id]").select_option("AZ")
    form.locator("select[name=dose-dose_number]").select_option("3")
    form.locator("[name=dose-note]").fill("Đối chiếu sổ tiêm ngày 01/02/2022")
    form.locator("button[type=submit]").click()
    expect(page.locator("#complaint-state")).to_have_text("Đã giải quyết")
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.APPROVED
    assert Dose.objects.filter(person=dao, dose_number=3, facility__code="HN001").exists()

    # The person's history names the complaint as the source of the new dose.
    page.goto(base + reverse("web:person", args=[dao.pk]))
    expect(page.locator("main")).to_contain_text(code)

    # Đào follows her complaint with its code and her phone, and reads the outcome.
    page.context.clear_cookies()
    page.goto(base + reverse("complaints_public:track"))
    page.fill("#id_code", code)
    page.fill("#id_phone", "0912 345 601")
    page.locator("form.public-form button[type=submit]").click()
    result = page.locator("section.result")
    expect(result).to_contain_text("Đã giải quyết")
    expect(result).to_contain_text("Đối chiếu sổ tiêm ngày 01/02/2022")
