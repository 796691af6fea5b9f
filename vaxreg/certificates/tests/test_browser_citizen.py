"""Acceptance: a citizen looks up their record with the code sent to their phone, gets their certificate,
downloads it, and sees it verified; after a correction the old one is revoked and the new one valid.

The live server runs in this process with the memory message backend and tasks run at once, so the code
the citizen would read on their phone is read from ``memory_outbox`` (in the demo the console backend
prints the same text from the worker).
"""

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from vaxreg.certificates.keys import KeyFiles
from vaxreg.certificates.models import Certificate
from vaxreg.certificates.tests.qr_codes import read_qr_codes
from vaxreg.certificates.tests.test_issuing import dcc_key_files, dcc_keys, qualified
from vaxreg.certificates.tests.test_pdf import pdf_qr_image
from vaxreg.core.messaging import memory_outbox
from vaxreg.corrections.services import person_correct
from vaxreg.people.models import Person
from vaxreg.testing.world import world_build

__all__ = ["dcc_key_files", "dcc_keys"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _qr_text(png: bytes | Image.Image) -> str:
    image = png if isinstance(png, Image.Image) else Image.open(io.BytesIO(png))
    found = read_qr_codes(image)
    assert len(found) == 1
    return found[0].text


def _look_up(page: Page, base: str, *, id_number: str, phone: str) -> None:
    memory_outbox.clear()
    page.goto(base + reverse("citizens:start"))
    page.fill("#id_id_number", id_number)
    page.fill("#id_phone", phone)
    page.click("#send-code")
    expect(page.locator("#sent-notice")).to_contain_text("Nếu thông tin khớp, mã đã được gửi")
    [sms] = memory_outbox
    assert sms.to == phone
    code = re.search(r"\b(\d{6})\b", sms.text).group(1)
    page.fill("#id_code", code)
    page.click("#check-code")


def _verify(page: Page, base: str, *, png: Path | None = None, text: str = "") -> Any:
    """Check a certificate on the public verify page, by its QR picture or its text; the verdict."""
    page.goto(base + reverse("certificates:verify"))
    form = page.locator("main form[enctype='multipart/form-data']")
    if png is not None:
        form.locator("input[type=file]").set_input_files(str(png))
    else:
        form.locator("textarea[name=text]").fill(text)
    form.locator("button[type=submit]").click()
    return page.locator("#verdict")


def _download(page: Page, selector: str, folder: Path, name: str) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = folder / name
    info.value.save_as(target)
    return target


def test_citizen_gets_downloads_and_verifies_a_certificate_then_a_correction_replaces_it(
    browser_page: Page, live_server: Any, dcc_keys: KeyFiles, tmp_path: Path
) -> None:
    world = world_build()
    dao = qualified(world)
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": 390, "height": 844})  # a phone

    # A stranger with her ID but another phone gets the same answer, and no code goes anywhere.
    memory_outbox.clear()
    page.goto(base + reverse("citizens:start"))
    page.fill("#id_id_number", "001190012345")
    page.fill("#id_phone", "0987000000")
    page.click("#send-code")
    expect(page.locator("#sent-notice")).to_contain_text("Nếu thông tin khớp, mã đã được gửi")
    assert memory_outbox == []

    _look_up(page, base, id_number="001190012345", phone="0912345601")
    main = page.locator("main")
    expect(main).to_contain_text("Nguyễn Thị Đào")
    expect(page.locator("#doses .dose")).to_have_count(2)
    expect(page.locator("#verification-status")).to_contain_text("Không có thông tin nào cần xác minh")

    page.click("#get-certificate")
    expect(page).to_have_url(base + reverse("certificates:mine"))
    certificate = Certificate.objects.get(person=dao)
    expect(page.locator("#uvci")).to_have_text(certificate.uvci)
    page.wait_for_function("() => document.querySelector('#certificate img').naturalWidth > 0")

    pdf = _download(page, "#download-pdf", tmp_path, "old.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert _qr_text(pdf_qr_image(pdf)) == certificate.hcert
    old_png = _download(page, "#download-qr", tmp_path, "old.png")
    assert _qr_text(old_png.read_bytes()) == certificate.hcert

    # Anyone checks it on the verify page, from the downloaded QR picture.
    verdict = _verify(page, base, png=old_png)
    expect(verdict).to_contain_text("Hợp lệ")
    expect(page.locator("main")).to_contain_text("Nguyễn Thị Đào")
    expect(page.locator("main")).to_contain_text(certificate.uvci)

    # The commune health station corrects her name: the certificate she holds is revoked, a new one issued.
    dao.refresh_from_db()
    person_correct(
        person_id=dao.pk,
        expected_version=dao.version,
        changes={"full_name": "Nguyễn Thị Hồng Đào"},
        reason="Sửa tên theo CCCD",
        actor_id=world.users["commune_badinh"].pk,
    )
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None
    new = Certificate.objects.get(person_id=dao.pk, revoked_at__isnull=True)

    page.goto(base + reverse("certificates:mine"))
    expect(page.locator("#uvci")).to_have_text(new.uvci)
    expect(page.locator("#older")).to_contain_text("đã thu hồi")
    expect(page.locator("#certificate")).to_contain_text("Nguyễn Thị Hồng Đào")
    new_png = _download(page, "#download-qr", tmp_path, "new.png")
    assert _qr_text(new_png.read_bytes()) == new.hcert

    # The certificate printed before the correction is now reported revoked; the new one, pasted as
    # text, is valid under the corrected name.
    verdict = _verify(page, base, png=old_png)
    expect(verdict).to_contain_text("Không hợp lệ")
    expect(verdict).to_contain_text("thu hồi")
    expect(page.locator("li[data-step=REVOKED]")).to_have_class("failed")
    verdict = _verify(page, base, text=new.hcert)
    expect(verdict).to_contain_text("Hợp lệ")
    expect(page.locator("main")).to_contain_text("Nguyễn Thị Hồng Đào")
    published = page.request.get(base + reverse("certificates:revocations_json")).json()
    assert certificate.uvci_sha256 in published["revoked"] and new.uvci_sha256 not in published["revoked"]
    assert Person.objects.get(pk=dao.pk).full_name == "Nguyễn Thị Hồng Đào"
