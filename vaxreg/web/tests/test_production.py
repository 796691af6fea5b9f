"""Production settings as an operator sets them (README, "Production"): each case runs in a fresh process
whose environment holds only what the README lists, outside the test suite's own settings."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from config.env import child_environment
from vaxreg.core.testing import TEST_PASSWORD, World

PROJECT_DIR = Path(__file__).resolve().parents[3]
SECRET = "a-long-random-production-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def production_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The machine's environment without any VAXREG_ or DJANGO_ variable, plus ``variables``."""
    return child_environment(
        drop_prefixes=("VAXREG_", "DJANGO_"),
        VAXREG_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **variables,
    )  # fmt: skip


def readme_production_env(tmp_path: Path) -> dict[str, str]:
    """The README's production environment (its PostgreSQL database aside: SQLite in tmp_path here)."""
    return production_env(
        tmp_path,
        VAXREG_SECRET_KEY=SECRET,
        VAXREG_ALLOWED_HOSTS="vaxreg.example.vn",
        VAXREG_HTTPS="1",
        VAXREG_TRUSTED_PROXIES="10.0.0.5/32",
    )


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run to the end; a process still running after ``timeout`` (a server that did start) is stopped with
    everything it started, and the test fails."""
    process = subprocess.Popen(
        args, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"still running after {timeout} s: {args}\n{out}{err}")
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["-m", "vaxreg.cli", "serve", "--port", str(_free_port())],
        ["-m", "vaxreg.cli", "worker", "--batch"],
        ["-c", "import config.wsgi"],  # any WSGI server (gunicorn config.wsgi:application)
    ],
    ids=["serve", "worker", "wsgi"],
)
def test_servers_refuse_to_start_in_production_without_a_secret_key(
    tmp_path: Path, command: list[str]
) -> None:
    result = run([sys.executable, *command], production_env(tmp_path), timeout=60)

    assert result.returncode != 0
    assert "VAXREG_SECRET_KEY is not set" in result.stderr, result.stderr
    assert "VAXREG_SECRET_KEY chưa được đặt" in result.stderr


@pytest.mark.slow
def test_development_and_one_shot_commands_run_without_a_secret_key(tmp_path: Path) -> None:
    wsgi = run([sys.executable, "-c", "import config.wsgi"], production_env(tmp_path, VAXREG_DEBUG="1"))
    check = run([sys.executable, "-m", "vaxreg.cli", "check"], production_env(tmp_path))

    assert wsgi.returncode == 0, wsgi.stderr
    assert check.returncode == 0, check.stderr


def test_the_demo_serves_with_a_key_kept_in_the_var_folder(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaxreg.web.management.commands.serve import _server_env

    settings.VAXREG_PRODUCTION = True
    settings.VAXREG_SECRET_KEY_SET = False
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("VAXREG_SECRET_KEY", raising=False)

    first = _server_env(demo=True)["VAXREG_SECRET_KEY"]
    again = _server_env(demo=True)["VAXREG_SECRET_KEY"]

    assert first == again == (tmp_path / "secret_key").read_text().strip()
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_production_environment_of_the_readme(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        readme_production_env(tmp_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


# Requests made with Django's test client inside a process started with the production environment.
HTTPS_PROBE = """
import json
import django
django.setup()
from django.test import Client

def probe(path, **meta):
    response = Client(HTTP_HOST="vaxreg.example.vn", **meta).get(path)
    return {"status": response.status_code, "location": response.get("Location", ""),
            "hsts": response.get("Strict-Transport-Security", "")}

print(json.dumps({
    "plain": probe("/login/"),
    "proxied": probe("/login/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_PROTO="https"),
    "claimed": probe("/login/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https"),
    "healthz": probe("/healthz"),
}))
"""


@pytest.mark.slow
def test_https_redirects_sends_hsts_and_believes_only_the_trusted_proxy(tmp_path: Path) -> None:
    result = run([sys.executable, "-c", HTTPS_PROBE], readme_production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"]["status"] == 301
    assert seen["plain"]["location"] == "https://vaxreg.example.vn/login/"
    # Through the TLS proxy the request counts as HTTPS: the page, with HSTS for a year and the subdomains.
    assert seen["proxied"]["status"] == 200
    assert seen["proxied"]["hsts"] == "max-age=31536000; includeSubDomains"
    # The same header from anyone else is ignored.
    assert seen["claimed"]["status"] == 301
    # A load balancer checks the process over plain HTTP inside the network.
    assert seen["healthz"]["status"] == 200


@pytest.mark.slow
def test_without_https_configured_nothing_redirects(tmp_path: Path) -> None:
    env = production_env(tmp_path, VAXREG_SECRET_KEY=SECRET, VAXREG_ALLOWED_HOSTS="vaxreg.example.vn")
    result = run([sys.executable, "-c", HTTPS_PROBE], env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"]["status"] == 200
    assert seen["plain"]["hsts"] == ""


@pytest.mark.django_db
def test_session_csrf_and_language_cookies_are_secure_outside_debug(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    token = page.cookies["csrftoken"]
    assert token["secure"]

    response = client.post(
        "/login/",
        {
            "username": world.users["facility_hn1"].username,
            "password": TEST_PASSWORD,
            "csrfmiddlewaretoken": token.value,
        },
    )

    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"]
    assert response.cookies["sessionid"]["httponly"]
    token = client.cookies["csrftoken"]  # a new one after the login
    chosen = client.post(
        "/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": token.value}
    )
    assert chosen.cookies["django_language"]["secure"]
