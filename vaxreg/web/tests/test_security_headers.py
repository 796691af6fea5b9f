"""Every response carries the Content-Security-Policy: each URL the project routes, for a visitor and for a
logged-in user, whatever it answers (page, JSON, file, redirect, 404, 405), and the static files."""

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def _routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def every_path() -> list[str]:
    """One concrete path per routed URL, its parameters filled with 1 (an id no row has here)."""
    paths = ["/" + re.sub(r"<(?:\w+:)?\w+>", "1", route) for route in _routes(get_resolver().url_patterns)]
    return [*paths, "/static/web/vaxreg.css", "/no-such-page/"]


def policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


def test_every_routed_url_is_checked() -> None:
    paths = every_path()

    assert len(paths) > 90
    assert {"/login/", "/api/docs", "/fhir/metadata", "/phan-anh/", "/verification/cases/1/"} <= set(paths)


def test_every_response_has_the_content_security_policy(world: World) -> None:
    visitor = Client(raise_request_exception=False)
    staff = Client(raise_request_exception=False)
    staff.force_login(world.users["national"])
    missing, loose = [], []

    for path in every_path():
        for who, client in (("visitor", visitor), ("national", staff)):
            response = client.get(path)
            header = response.get("Content-Security-Policy")
            if header is None:
                missing.append(f"{who} {path} ({response.status_code})")
                continue
            directives = policy(header)
            if any(directives.get(name) != value for name, value in STRICT.items()):
                loose.append(f"{who} {path}: {header}")

    assert not missing, f"no Content-Security-Policy on: {missing}"
    assert not loose, f"a weaker policy on: {loose}"
