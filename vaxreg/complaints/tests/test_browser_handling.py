"""A facility handles a complaint in Chromium: inbox, complaint page, the missing dose added, closed."""

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Dialog, Page, expect

from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint, ComplaintState
from vaxreg.core.models import ChangeRecord
from vaxreg.testing.browser import staff_log_in
from vaxreg.testing.world import world_build
from vaxreg.vaccinations.models import Dose

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_facility_adds_the_missing_dose_and_closes_the_complaint(
    browser_page: Page, live_server: Any
) -> None:
    world = world_build()
    dao = world.persons["dao_hn"]
    complaint = complaint_submit(
        intake=Intake(
            category=3,
            full_name="Nguyễn Thị Đào",
            phone="0912345601",
            id_number="001190012345",
            facility_code="HN001",
            claimed_doses=({"date": "01/02/2022", "vaccine": "AZ", "dose_number": "3", "lot": "AB123"},),
            description="Tôi đã tiêm mũi 3 nhưng ứng dụng không hiện.",
        )
    )
    hostile = complaint_submit(
        intake=Intake(
            category=2,
            full_name="Lê <script>alert(1)</script> Văn",
            phone="0912345609",
            facility_code="HN001",
            description='<img src=x onerror="alert(2)">',
        )
    )
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page, base = browser_page, live_server.url
    page.on("dialog", on_dialog)
    staff_log_in(page, base, "facility_hn1")

    page.goto(base + reverse("complaints:inbox"))
    rows = page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("main")).to_contain_text("Lê <script>alert(1)</script> Văn")
    expect(page.locator("main")).to_contain_text("còn 47 giờ")

    page.click(f"a[href='{reverse('complaints:complaint', args=[complaint.pk])}']")
    expect(page.locator("h1")).to_contain_text("Nguyễn Thị Đào")
    expect(page.locator("#records")).to_contain_text("khớp theo số giấy tờ")
    form = page.locator("form#approve-dose")
    expect(form.locator("[name=dose-vaccination_date]")).to_have_value("2022-02-01")
    form.locator("select[name=dose-vaccine_id]").select_option("AZ")
    form.locator("select[name=dose-dose_number]").select_option("3")
    form.locator("[name=dose-note]").fill("Đối chiếu phiếu tiêm giấy")
    form.locator("button[type=submit]").click()

    expect(page.locator("main .messages")).to_contain_text("Đã bổ sung mũi tiêm và đóng phản ánh.")
    expect(page.locator("#complaint-state")).to_have_text("Đã giải quyết")
    expect(page.locator(f"#person-{dao.pk} table.doses")).to_contain_text("AB123")
    expect(page.locator("form#approve-dose")).to_have_count(0)
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.APPROVED
    dose = Dose.objects.get(person=dao, dose_number=3)
    record = ChangeRecord.objects.get(entity="dose", entity_id=dose.pk)
    assert (record.source_type, record.source_id) == ("complaint", complaint.tracking_code)

    page.goto(base + reverse("complaints:complaint", args=[hostile.pk]))
    expect(page.locator("h1")).to_contain_text("Lê <script>alert(1)</script> Văn")
    expect(page.locator("#description")).to_have_text('<img src=x onerror="alert(2)">')
    page.goto(base + reverse("complaints:inbox"))
    expect(page.locator("table.inbox tbody tr")).to_have_count(1)
    assert dialogs == []
