"""What the browser tests share (only tests import this module)."""

from django.urls import reverse
from playwright.sync_api import Page, expect

from vaxreg.testing.world import TEST_PASSWORD


def staff_log_in(page: Page, base_url: str, username: str) -> None:
    """Log a staff account of the test world in through the login page (cookies of before cleared)."""
    page.context.clear_cookies()
    page.goto(base_url + reverse("web:login"))
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    expect(page).to_have_url(base_url + reverse("web:home"))
