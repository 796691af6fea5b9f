"""`vaxreg serve` as an operator runs it: gunicorn serves the pages and their static files, and stopping
the server also stops the background worker it started. `vaxreg demo` as the README's first command runs
it on a fresh machine: no configuration, served on http://127.0.0.1, and its accounts log in."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from config.env import child_environment

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT_DIR = Path(__file__).resolve().parents[3]


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    # Its own SQLite file in a temporary var folder, whatever database the test run itself uses.
    # A production server: it starts only with a configured secret key (test_production checks the refusal).
    env = child_environment(
        drop_prefixes=("VAXREG_", "DJANGO_"),
        VAXREG_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", VAXREG_SECRET_KEY="k" * 50,
    )  # fmt: skip
    vaxreg = [sys.executable, "-m", "vaxreg.cli"]
    subprocess.run([*vaxreg, "migrate", "-v0"], env=env, cwd=PROJECT_DIR, check=True)
    port = _free_port()
    process = subprocess.Popen(
        [*vaxreg, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield Served(url=f"http://127.0.0.1:{port}", process=process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_serve_gives_styled_pages_and_stopping_it_stops_the_worker_too(
    browser_page: Page, served: Served
) -> None:
    assert served.process.poll() is None, "the server did not start"

    response = browser_page.goto(served.url + "/login/")

    assert response is not None and response.status == 200
    expect(browser_page.locator("#id_username")).to_be_visible()
    css_rules = browser_page.evaluate("[...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)")
    assert css_rules > 0, "the stylesheet was not served"

    children = _children(served.process.pid)
    assert len(children) == 2, "gunicorn and the task worker run beside each other"
    browser_page.context.close()  # an open keep-alive connection would hold up gunicorn's graceful stop
    served.process.terminate()
    output, _ = served.process.communicate(timeout=30)

    assert served.process.returncode == 0, output
    assert not [pid for pid in children if _alive(pid)], output


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Served, list[str]]]:
    """`vaxreg demo` with nothing configured (no secret key, no database URL), like `uv run vaxreg demo`."""
    env = child_environment(
        drop_prefixes=("VAXREG_", "DJANGO_"), VAXREG_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1"
    )
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vaxreg.cli", "demo", "--persons", "60", "--port", str(port)],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None and not any("Ready" in ln for ln in output):
        time.sleep(0.5)
    try:
        yield Served(url=f"http://127.0.0.1:{port}", process=process), output
    finally:
        process.terminate()  # the demo stops gunicorn and the worker it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)


def test_the_demo_runs_on_a_fresh_machine_and_its_accounts_log_in_over_http(
    browser_page: Page, demo: tuple[Served, list[str]]
) -> None:
    served, output = demo
    assert served.process.poll() is None, "".join(output)
    # The accounts table: role, username, password, unit.
    facility = next(line.split() for line in output if line.startswith("facility "))

    browser_page.goto(served.url + "/login/")
    browser_page.fill("#id_username", facility[1])
    browser_page.fill("#id_password", facility[2])
    browser_page.click("main form button[type=submit]")

    # The session and CSRF cookies are Secure (not DEBUG); Chromium keeps them on http://127.0.0.1.
    expect(browser_page).to_have_url(served.url + "/")
    expect(browser_page.locator("main h1")).to_contain_text(facility[1])
    cookies = {cookie["name"]: cookie for cookie in browser_page.context.cookies()}
    assert cookies["sessionid"]["secure"] and cookies["csrftoken"]["secure"]
