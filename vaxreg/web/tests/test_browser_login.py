"""Every role logs in through the real login form in Chromium and lands on its own home page."""

import base64
import time
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from vaxreg.accounts.models import Role
from vaxreg.accounts.services import user_create
from vaxreg.places.models import Commune, Facility, Province

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "mat-khau-dai-2024"


@pytest.fixture
def units() -> dict[str, str]:
    hue = Province.objects.create(code="46", name="Thành phố Huế", short_name="Huế", name_key="hue")
    ward = Commune.objects.create(
        code="19753",
        name="Phường Thuận Hóa",
        short_name="Thuận Hóa",
        kind="phuong",
        province=hue,
        name_key="thuan hoa",
    )
    Facility.objects.create(code="BV4601", name="Bệnh viện Trung ương Huế", commune=ward, province=hue)
    return {
        "province": "Thành phố Huế",
        "commune": "Phường Thuận Hóa",
        "facility": "Bệnh viện Trung ương Huế",
    }


ROLE_UNITS = [
    (Role.NATIONAL, {}, None),
    (Role.PROVINCE, {"province_code": "46"}, "province"),
    (Role.COMMUNE, {"commune_code": "19753"}, "commune"),
    (Role.FACILITY, {"facility_code": "BV4601"}, "facility"),
    (Role.POLICE, {"commune_code": "19753"}, "commune"),
    (Role.ADMIN, {}, None),
]


def _log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + reverse("web:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main form button[type=submit]")


@pytest.mark.parametrize(
    ("role", "unit_codes", "unit_key"), ROLE_UNITS, ids=[r.value for r, _, _ in ROLE_UNITS]
)
def test_each_role_logs_in_and_sees_its_home_page(
    browser_page: Page,
    live_server: Any,
    units: dict[str, str],
    role: Role,
    unit_codes: dict[str, Any],
    unit_key: str | None,
) -> None:
    username = f"can-bo-{role.value}"
    user_create(username=username, password=PASSWORD, role=role, **unit_codes)

    _log_in(browser_page, live_server.url, username, PASSWORD)

    expect(browser_page).to_have_url(live_server.url + reverse("web:home"))
    main = browser_page.locator("main")
    expect(main.locator("h1")).to_contain_text(username)
    if unit_key is not None:
        expect(main).to_contain_text(units[unit_key])
    else:
        for name in units.values():
            expect(main).not_to_contain_text(name)


def test_wrong_password_keeps_the_user_on_the_login_page(
    browser_page: Page, live_server: Any, units: dict[str, str]
) -> None:
    user_create(username="can-bo-tinh", password=PASSWORD, role=Role.PROVINCE, province_code="46")

    _log_in(browser_page, live_server.url, "can-bo-tinh", "sai-mat-khau-123")

    expect(browser_page).to_have_url(live_server.url + reverse("web:login"))
    expect(browser_page.get_by_role("alert")).to_be_visible()
    browser_page.goto(live_server.url + reverse("web:home"))
    expect(browser_page).to_have_url(live_server.url + reverse("web:login") + "?next=/")


def _code_of(device: Any, *, steps_ahead: int = 0) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def test_a_province_account_sets_up_its_second_factor_then_logs_in_with_a_code(
    browser_page: Page, live_server: Any, units: dict[str, str], settings: Any
) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.VAXREG_SECOND_FACTOR = True
    user = user_create(username="can-bo-tinh", password=PASSWORD, role=Role.PROVINCE, province_code="46")

    _log_in(browser_page, live_server.url, "can-bo-tinh", PASSWORD)

    expect(browser_page).to_have_url(live_server.url + reverse("web:login_setup"))
    expect(browser_page.locator("main svg.segno")).to_be_visible()
    secret = browser_page.locator("main code.secret").inner_text().replace(" ", "")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert secret == base64.b32encode(device.bin_key).decode()
    browser_page.goto(live_server.url + reverse("web:home"))  # not logged in yet
    expect(browser_page).to_have_url(live_server.url + reverse("web:login") + "?next=/")
    browser_page.goto(live_server.url + reverse("web:login_setup"))
    browser_page.fill("#id_code", _code_of(device))
    browser_page.click("main form button[type=submit]")
    expect(browser_page).to_have_url(live_server.url + reverse("web:home"))
    expect(browser_page.locator("main")).to_contain_text(units["province"])

    browser_page.click("header form.logout button[type=submit]")
    _log_in(browser_page, live_server.url, "can-bo-tinh", PASSWORD)
    expect(browser_page).to_have_url(live_server.url + reverse("web:login_code"))
    browser_page.fill("#id_code", "000000" if _code_of(device, steps_ahead=1) != "000000" else "111111")
    browser_page.click("main form button[type=submit]")
    expect(browser_page.get_by_role("alert")).to_contain_text("Mã xác thực không đúng")
    browser_page.wait_for_timeout(1100)  # django-otp wants a second between two codes after a wrong one
    browser_page.fill("#id_code", _code_of(device, steps_ahead=1))
    browser_page.click("main form button[type=submit]")
    expect(browser_page).to_have_url(live_server.url + reverse("web:home"))
    # The failed code is shown on the page the user lands on.
    expect(browser_page.locator(".messages")).to_contain_text("1 failed login attempt(s)")
