import io
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

# --- reference data (places + vaccine catalogue) ------------------------------------------------------
# Loaded once and committed to the test database, outside the per-test transaction, so a test's own
# writes still roll back. A test sees it exactly when it asks for ``reference_data``: before a database
# test that does not ask, the hook below removes it again (such tests build their own small world with
# the real codes), and it is loaded again for the next test that asks, also after a transactional test
# (live_server, transactional_db) has flushed every table.

_reference_state: dict[str, Any] = {}
_DB_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def _reference_ensure() -> dict[str, Any]:
    from django.core.management import call_command

    from vaxreg.core.models import AuditEvent
    from vaxreg.places.models import LegacyCommune, Province
    from vaxreg.vaccinations.models import Vaccine

    if not (Province.objects.exists() and LegacyCommune.objects.exists() and Vaccine.objects.exists()):
        call_command("reference_load", verbosity=0, stdout=io.StringIO())
        # Committed rows outlive the test: keep only the reference data, not the load's audit events.
        AuditEvent.objects.filter(action=AuditEvent.Action.REFERENCE_LOADED).delete()
    _reference_state["loaded"] = True
    return {
        "provinces": Province.objects.count(),
        "legacy_communes": LegacyCommune.objects.count(),
        "vaccines": Vaccine.objects.count(),
    }


def _reference_unload() -> None:
    from vaxreg.places.models import Commune, LegacyCommune, LegacyDistrict, LegacyProvince, Province
    from vaxreg.vaccinations.models import CatalogueParameter, Vaccine, VaccineAlias

    for model in (
        VaccineAlias,
        Vaccine,
        CatalogueParameter,
        LegacyCommune,
        LegacyDistrict,
        LegacyProvince,
        Commune,
        Province,
    ):
        model.objects.all().delete()
    _reference_state["loaded"] = False


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """pytest-django's hook before the test database is made (kept: its parallel suffix). On a Citus
    coordinator, a test database an earlier run left is dropped first, with the sessions Citus keeps in it
    (its maintenance daemon and its own connections, which a plain ``DROP DATABASE``, as Django's, waits
    on and then refuses)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg

    name = (database.get("TEST") or {}).get("NAME") or f"test_{database['NAME']}"
    from vaxreg.core.database import database_drop, maintenance_options

    try:
        with psycopg.connect(**maintenance_options(database), autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone():
                database_drop(admin, name)
    except psycopg.Error:
        return  # no maintenance database to ask: Django's own creation says what is wrong


@pytest.fixture(scope="session", autouse=True)
def citus_sessions_closed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """On a Citus coordinator: before the test database is dropped, end the idle sessions Citus keeps open
    to it (its own connections to the coordinator as a node), which would make the drop fail."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            return
        from vaxreg.scale.citus import citus_sessions_end, is_citus

        if is_citus(connection):
            citus_sessions_end(connection)


@pytest.fixture(scope="session")
def reference_data(django_db_setup: None, django_db_blocker: Any) -> dict[str, Any]:
    """The 2025 and old administrative units and the vaccine catalogue, loaded once per test session."""
    _reference_state["blocker"] = django_db_blocker
    with django_db_blocker.unblock():
        return _reference_ensure()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    blocker = _reference_state.get("blocker")
    if blocker is None:
        return
    fixtures = set(getattr(item, "fixturenames", ()))
    if "reference_data" in fixtures:
        with blocker.unblock():
            _reference_ensure()
    elif _reference_state.get("loaded") and (fixtures & _DB_FIXTURES or item.get_closest_marker("django_db")):
        with blocker.unblock():
            _reference_unload()


# --- parallel runs ----------------------------------------------------------------------------------
# `bash scripts/test` runs the suite on one worker process per core (pytest-xdist, ``--dist loadgroup``);
# each worker has its own test database (pytest-django's suffix: test_vaxreg_gw0, ...). A few tests share
# something outside that database: the benchmarks' scratch databases (vaxreg_bench, vaxreg_drill, ...) and
# the local Citus clusters on fixed ports. They run one after the other on a single worker.
_SHARED_OUTSIDE_THE_TEST_DATABASE = "shared-outside-the-test-database"


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/bench/tests/" in item.path.as_posix() or item.get_closest_marker("citus"):
            item.add_marker(pytest.mark.xdist_group(_SHARED_OUTSIDE_THE_TEST_DATABASE))


# --- browser tests ----------------------------------------------------------------------------------
# Browser tests (``@pytest.mark.browser``) drive Debian's Chromium (/usr/bin/chromium) through Playwright's
# sync API against pytest-django's ``live_server``; ``bash scripts/test`` installs Chromium when missing.
# Playwright never downloads a browser of its own here.

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # The machine has no network: without these Chromium keeps trying to reach Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator["Playwright"]:
    from django.conf import settings

    if not Path(settings.VAXREG_CHROMIUM).exists():
        pytest.fail(
            f"Chromium is missing at {settings.VAXREG_CHROMIUM}: run the tests with `bash scripts/test` "
            "(it installs Debian's chromium) or `apt-get install chromium`."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread, which Django's ORM takes for async code.
    # The ORM calls in these tests are plain synchronous ones, so the guard is lifted while it runs.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        manager = sync_playwright()
        playwright = manager.start()
        try:
            yield playwright
        finally:
            manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser(playwright_instance: "Playwright") -> Iterator["Browser"]:
    from django.conf import settings

    browser = playwright_instance.chromium.launch(
        executable_path=settings.VAXREG_CHROMIUM, headless=True, args=CHROMIUM_ARGS, chromium_sandbox=False
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def browser_page(browser: "Browser", request: pytest.FixtureRequest) -> Iterator["Page"]:
    """A fresh page (no cookies) in Vietnamese; fails the test on an uncaught JavaScript error and on
    anything the Content-Security-Policy blocked (a script, a style, an image, a form target, a frame).

    Use it with ``live_server``: ``browser_page.goto(live_server.url + "/login/")``. When the test
    fails, a screenshot is kept in ``var/test-screenshots/`` to show what the user would have seen.
    """
    context = browser.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports every blocked load or execution as a console error naming the policy.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(f"{message.location.get('url', '')}: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    try:
        yield page
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            from django.conf import settings

            folder = Path(settings.VAR_DIR) / "test-screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid) + ".png"
            page.screenshot(path=str(folder / name), full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not blocked, f"The Content-Security-Policy blocked: {blocked}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Lets browser_page know, while tearing down, whether the test itself failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--page-text-update",
        action="store_true",
        help="write the golden text of the main pages again (vaxreg/web/tests/page_text) instead of comparing",
    )
