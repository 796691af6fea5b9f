"""The whole verification flow in Chromium, as the health worker and the commune police would walk it."""

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from vaxreg.core.models import ChangeRecord
from vaxreg.people.models import Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.browser import staff_log_in
from vaxreg.testing.world import world_build
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.services import cases_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_station_corrects_escalates_and_the_police_match_resolves(
    browser_page: Page, live_server: Any
) -> None:
    world = world_build()
    dao, hoa = world.persons["dao_hn"], world.persons["hoa_traveller"]
    Person.objects.filter(pk=dao.pk).update(gender="M")  # her CCCD says female
    Person.objects.filter(pk=hoa.pk).update(gender="M", commune_id="00004", province_id="01", home="01")
    quality_check_persons(person_ids=[dao.pk, hoa.pk])
    cases_sync(person_ids=[dao.pk, hoa.pk])
    dao_case = VerificationCase.objects.get(person=dao)
    hoa_case = VerificationCase.objects.get(person=hoa)
    page, base = browser_page, live_server.url

    # The health worker finds Đào's case in the worklist and corrects her gender in place.
    staff_log_in(page, base, "commune_badinh")
    page.click("nav >> text=Xác minh")
    expect(page.locator("main")).to_contain_text("Nguyễn Thị Đào")
    # The head box ticks every case of the page (verification/worklist.js, loaded under the CSP).
    page.check("#pick-all")
    boxes = page.locator("input[name=case_ids]")
    expect(boxes).to_have_count(2)
    for box in boxes.all():
        expect(box).to_be_checked()
    page.goto(base + reverse("verification:case", args=[dao_case.pk]))
    expect(page.locator("main")).to_contain_text("ID_GENDER_MISMATCH")
    page.click("summary >> text=Sửa thông tin cá nhân")
    form = page.locator(f"form[action='{reverse('verification:case_person_correct', args=[dao_case.pk])}']")
    form.locator("select[name=gender]").select_option("F")
    form.locator("[name=reason]").fill("Gọi điện, bà xác nhận là nữ")
    form.locator("button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Đã hết lỗi: CCCD lệch giới tính")
    assert not dao.findings.filter(is_open=True).exists()

    # Hoa cannot be reached: the worker escalates her case to the police.
    page.goto(base + reverse("verification:case", args=[hoa_case.pk]))
    form = page.locator(f"form[action='{reverse('verification:case_escalate', args=[hoa_case.pk])}']")
    form.locator("[name=reason]").fill("Gọi nhiều lần không được")
    form.locator("button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("Chuyển công an")
    hoa_case.refresh_from_db()
    assert hoa_case.state == CaseState.ESCALATED

    # The commune police records a match with the identity the register holds; the case resolves.
    staff_log_in(page, base, "police_badinh")
    page.goto(base + reverse("verification:police_case", args=[hoa_case.pk]))
    page.check("input[name=result][value=MISMATCH]")
    page.fill("[name=full_name]", "Phạm Thị Hoa")
    page.fill("[name=birth_date]", "15/01/1985")
    page.select_option("select[name=gender]", "F")
    page.fill("[name=id_number]", "079185001122")
    page.locator(
        f"form[action='{reverse('verification:police_case', args=[hoa_case.pk])}'] button[type=submit]"
    ).first.click()
    page.wait_for_load_state()
    hoa_case.refresh_from_db()
    assert hoa_case.state == CaseState.RESOLVED

    # The person page shows every step, with where each came from.
    staff_log_in(page, base, "commune_badinh")
    page.goto(base + reverse("web:person", args=[hoa.pk]))
    history = page.locator("main")
    expect(history).to_contain_text("police_badinh")
    expect(history).to_contain_text("commune_badinh")
    steps = list(
        ChangeRecord.objects.filter(entity="person", entity_id=hoa.pk)
        .order_by("at", "id")
        .values_list("field", "source_type")
    )
    assert steps[0] == ("verification_case.state", "case")  # opened
    assert ("gender", "police") in steps and ("birth_year", "police") in steps
    assert steps[-1] == ("verification_case.state", "case")  # resolved
