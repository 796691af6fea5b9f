"""The API documentation works on a closed network: Swagger UI comes from the server itself, under the
same Content-Security-Policy as every page (the browser_page fixture fails the test on anything blocked)."""

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, Route, expect

from vaxreg.accounts.models import Role
from vaxreg.accounts.services import user_create
from vaxreg.places.models import Commune, Facility, Province

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _logged_in(page: Page, base_url: str) -> None:
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
    user = user_create(
        username="co-so-api", password="mat-khau-dai-2024", role=Role.FACILITY, facility_code="BV4601"
    )
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])


def test_the_docs_page_shows_the_operations_with_nothing_fetched_from_outside(
    browser_page: Page, live_server: Any
) -> None:
    _logged_in(browser_page, live_server.url)
    outside: list[str] = []

    def only_our_server(route: Route) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:  # a closed government network: nothing else answers
            outside.append(route.request.url)
            route.abort()

    browser_page.context.route("**/*", only_our_server)

    browser_page.goto(live_server.url + "/api/docs")

    expect(browser_page.locator(".opblock-summary-path").first).to_be_visible()
    paths = browser_page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/people/{person_id}/id-number" in path.replace("\u200b", "") for path in paths), paths
    assert len(paths) >= 10
    # An opened operation shows its parameters and responses, drawn with the icons of Swagger UI's stylesheet.
    browser_page.locator(".opblock-summary").first.click()
    expect(browser_page.locator(".opblock-body .parameters-container").first).to_be_visible()
    expect(browser_page.locator(".opblock-body .responses-wrapper").first).to_be_visible()
    assert outside == []
