"""The duplicates review in Chromium, as a commune health station walks it: the queue, the evidence, a
merge (the person page then holds every dose and one certificate), its undo, and "not the same"."""

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from vaxreg.certificates.issuing import certificate_issue
from vaxreg.certificates.keys import KeyFiles
from vaxreg.certificates.models import Certificate
from vaxreg.certificates.tests.test_issuing import dcc_key_files, dcc_keys, qualified, sign_off_doses
from vaxreg.linkage.models import PairState, PersonMerge, SuspectedPair
from vaxreg.linkage.tests.review_helpers import NO_ID_LEVELS, pair_make
from vaxreg.testing.browser import staff_log_in
from vaxreg.testing.world import dose_make, person_make, world_build

__all__ = ["dcc_key_files", "dcc_keys"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_station_merges_a_pair_undoes_it_and_marks_another_not_the_same(
    browser_page: Page, live_server: Any, dcc_keys: KeyFiles
) -> None:
    world = world_build()
    dao = qualified(world)
    certificate_issue(person_id=dao.pk)
    # Đào's booster typed at the hospital again, without diacritics: a second record.
    twin = person_make(
        full_name="Nguyen Thi Dao",
        commune=world.communes["00004"],
        id_number="001190012345",
        phone="0912345601",
    )
    dose_make(
        person=twin,
        facility=world.facilities["HN001"],
        source_record_id="twin-3",
        date=dt.date(2022, 3, 1),
        number=3,
        vaccine=world.vaccine,
    )
    sign_off_doses(world, twin)
    same = pair_make(dao, twin, probability=0.999)
    hoa = world.persons["hoa_traveller"]
    namesake = person_make(full_name="Phạm Thị Hoa", commune=world.communes["00004"], phone="0912345603")
    other = pair_make(hoa, namesake, probability=0.93, levels=NO_ID_LEVELS)
    page, base = browser_page, live_server.url

    # The station opens the queue from the navigation: the surest pair first.
    staff_log_in(page, base, "commune_badinh")
    page.click("nav >> text=Hồ sơ trùng")
    expect(page.locator("h1")).to_have_text("Hồ sơ nghi trùng")
    rows = page.locator("table.pairs tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("trùng số CCCD")

    # It reads the evidence in words and merges, keeping Đào's record.
    rows.first.locator("a").first.click()
    evidence = page.locator("#evidence")
    expect(evidence).to_contain_text("họ tên chỉ khác dấu")
    expect(evidence).to_contain_text("trùng ngày sinh")
    expect(page.locator("#side-by-side")).to_contain_text("•••••••••345")
    form = page.locator("#merge-form")
    expect(form.locator(f"input[name=survivor][value='{dao.pk}']")).to_be_checked()
    form.locator("[name=reason]").fill("Cùng CCCD, cùng ngày sinh; mũi 3 nhập lại không dấu")
    form.locator("button[type=submit]").click()

    # The survivor's page: every dose, and one certificate (the merge's) for all three.
    expect(page).to_have_url(base + reverse("web:person", args=[dao.pk]))
    expect(page.locator(".messages")).to_contain_text(f"Đã gộp hồ sơ #{twin.pk} vào hồ sơ #{dao.pk}")
    doses = page.locator("section:has(h2:text-is('Các mũi tiêm')) tbody tr")
    expect(doses).to_have_count(3)
    expect(page.locator("#merges .certificate")).to_have_count(1)
    current = Certificate.objects.get(person=dao, revoked_at__isnull=True)
    assert len(current.dose_ids) == 3
    expect(page.locator("#merges")).to_contain_text(current.uvci)
    assert SuspectedPair.objects.get(pk=same.pk).state == PairState.MERGED

    # The station finds it was wrong after all and undoes the merge from the person page.
    undo = page.locator(
        f"#merges form[action='{reverse('web:merge_undo', args=[PersonMerge.objects.get().pk])}']"
    )
    undo.locator("[name=reason]").fill("Kiểm tra lại giấy tờ")
    undo.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("Đã hoàn tác")
    expect(page.locator("section:has(h2:text-is('Các mũi tiêm')) tbody tr")).to_have_count(2)
    assert PersonMerge.objects.get().undone_at is not None
    twin.refresh_from_db()
    assert twin.merged_into_id is None and twin.doses.count() == 1
    assert SuspectedPair.objects.get(pk=same.pk).state == PairState.OPEN

    # The other pair: two different women named Phạm Thị Hoa.
    page.goto(base + reverse("linkage:pair", args=[other.pk]))
    page.click("summary >> text=Không phải cùng một người")
    form = page.locator("#not-same-form")
    form.locator("[name=reason]").fill("Hai người khác nhau, khác ngày sinh")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(base + reverse("linkage:queue"))
    expect(page.locator(".messages")).to_contain_text(f"cặp #{other.pk} là hai người khác nhau")
    expect(page.locator(f"#pair-{other.pk}")).to_have_count(0)
    assert SuspectedPair.objects.get(pk=other.pk).state == PairState.NOT_SAME
