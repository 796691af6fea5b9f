"""Every URL the resolver knows, asked by a visitor without an account and by every user of the test world,
answers as the permission policy says.

Each page, export, FHIR endpoint and API operation declares the capability it needs (``@requires``,
``@operation_requires``, ``@public``, ``fhir_endpoint``); a URL whose view declares none fails here, naming
it. A user whose role holds the capability must not be turned away (401, 403, or sent to the login page:
a 404 for a row outside its jurisdiction is the jurisdiction's answer, not the policy's); anyone else
must be (401, 403, 404, or the login page).
"""

import datetime as dt
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from ninja.operation import PathView

from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.fhir.tokens import api_token_create
from vaxreg.imports.models import ImportBatch
from vaxreg.people.models import Gender, Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World
from vaxreg.vaccinations.models import Dose
from vaxreg.verification.models import VerificationCase
from vaxreg.verification.services import cases_sync

pytestmark = pytest.mark.django_db
ROOT_URLCONF = settings.ROOT_URLCONF

ANONYMOUS = "anonymous"
REFUSED = {401, 403}
# Routes that end the session they are asked with: asked with a session of their own.
LOGOUTS = {"logout/"}


@dataclass(frozen=True)
class Endpoint:
    route: str  # the resolver's pattern, e.g. "verification/cases/<int:case_id>/"
    methods: tuple[str, ...]  # the methods to ask with; empty: GET, then POST when GET is not allowed
    capability: Capability | None
    view: str  # for the failure message

    def label(self) -> str:
        return f"{'/'.join(self.methods) or 'ANY'} /{self.route} ({self.view})"


def _view_name(callback: Any) -> str:
    inner = getattr(callback, "func", callback)  # functools.partial (django-ninja's docs views)
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', repr(inner))}"


def _ninja_operations(route: str, callback: Any) -> Iterator[Endpoint] | None:
    """A django-ninja path: one endpoint per operation (each method may need another capability)."""
    path_view = getattr(callback, "__self__", None)
    if not isinstance(path_view, PathView) and getattr(callback, "__closure__", None):
        path_view = inspect.getclosurevars(callback).nonlocals.get("self")
    if not isinstance(path_view, PathView):
        return None
    operations = path_view.operations
    return (
        Endpoint(
            route,
            tuple(op.methods),
            getattr(op.view_func, "required_capability", None),
            _view_name(op.view_func),
        )
        for op in operations
    )


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[Endpoint]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
            continue
        assert isinstance(pattern, URLPattern)
        operations = _ninja_operations(route, pattern.callback)
        if operations is not None:
            yield from operations
            continue
        capability = getattr(pattern.callback, "required_capability", None)
        yield Endpoint(route, (), capability, _view_name(pattern.callback))


def endpoints() -> list[Endpoint]:
    seen: dict[tuple[str, tuple[str, ...]], Endpoint] = {}
    for endpoint in _walk(get_resolver().url_patterns):
        seen.setdefault((endpoint.route, endpoint.methods), endpoint)  # the first pattern answers
    return list(seen.values())


# -- the world's objects, to fill the path parameters -------------------------------------------------------


@pytest.fixture
def objects(world: World, settings: Any, tmp_path: Any) -> dict[str, str]:
    """A case (Đào of Ba Đình, whose record says man while her ID says woman), one of her doses, a
    complaint at her facility and an import batch of that facility: the values of every path parameter."""
    settings.MEDIA_ROOT = tmp_path
    dao = world.persons["dao_hn"]
    Person.objects.filter(pk=dao.pk).update(gender=Gender.MALE)
    quality_check_persons(person_ids=[dao.pk])
    cases_sync(person_ids=[dao.pk])
    case = VerificationCase.objects.get(person=dao)
    dose = Dose.objects.filter(person=dao).order_by("pk").first()
    assert dose is not None
    complaint = complaint_submit(
        intake=Intake(
            category=3,
            full_name=dao.full_name,
            phone="0912345601",
            id_number=dao.id_number,
            facility_code="HN001",
        )
    )
    batch = ImportBatch.objects.create(
        file_name="lieu-tiem.csv",
        uploaded_by=world.users["facility_hn1"],
        facility=world.facilities["HN001"],
        province=world.provinces["01"],
        status=ImportBatch.Status.DONE,
        created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    return {
        "person_id": str(dao.pk),
        "case_id": str(case.pk),
        "dose_id": str(dose.pk),
        "complaint_id": str(complaint.pk),
        "batch_id": str(batch.pk),
        "position": "1",
        "change_id": "1",
        "merge_id": "1",
        "pair_id": "1",
        "fmt": "csv",
        "resource_id": str(dao.pk),
        "reference": "no-such-certificate",
        "token": "no-such-report",
        "tracking_code": complaint.tracking_code,
        "rest": "no-such-path",
        "key": "facility-HN001",  # a dashboard: the facility every role above it may read too
        "unit": "facility-HN001",
        "campaign_id": "1",
    }


_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def concrete(route: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        assert name in values, f"/{route}: no value for the path parameter {name!r}; add one to `objects`"
        return values[name]

    return "/" + _PARAMETER.sub(fill, route)


# -- asking -------------------------------------------------------------------------------------------------


def _ask(client: Client, endpoint: Endpoint, url: str) -> Any:
    if endpoint.methods:
        method = endpoint.methods[0]
        if method == "GET":
            return client.get(url)
        return client.generic(method, url, b"{}", content_type="application/json")
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


def _turned_away(response: Any, capability: Capability) -> bool:
    if response.status_code in REFUSED:
        return True
    if capability is Capability.PUBLIC:
        return False  # a public page may send a visitor to the login page as a step of its own (login/code/)
    login = resolve_url(settings.LOGIN_URL)
    return response.status_code == 302 and response["Location"].startswith(login)


def _allowed(world: World, actor: str, capability: Capability) -> bool:
    return user_can(None if actor == ANONYMOUS else world.users[actor], capability)


def test_every_url_declares_a_capability():
    undeclared = [e.label() for e in endpoints() if e.capability is None]
    assert not undeclared, "URLs whose view declares no capability:\n" + "\n".join(undeclared)


def new_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("a page someone added without saying who may open it")


urlpatterns = [path("", include(ROOT_URLCONF)), path("new-page/", new_page)]


def test_a_new_url_without_a_capability_is_named():
    with override_settings(ROOT_URLCONF=__name__):
        undeclared = [e for e in endpoints() if e.capability is None]
    assert [(e.route, e.view) for e in undeclared] == [("new-page/", f"{__name__}.new_page")]


def test_every_role_gets_what_the_policy_says_at_every_url(world, objects, capsys):
    found = endpoints()
    actors = [ANONYMOUS, *world.users]
    clients = {actor: Client() for actor in actors}
    for actor, client in clients.items():
        if actor != ANONYMOUS:
            client.force_login(world.users[actor])
    wrong: list[str] = []
    pairs = 0
    for endpoint in found:
        if endpoint.capability is None:
            continue
        url = concrete(endpoint.route, objects)
        for actor in actors:
            client = clients[actor]
            if endpoint.route in LOGOUTS:
                client = Client()
                if actor != ANONYMOUS:
                    client.force_login(world.users[actor])
            response = _ask(client, endpoint, url)
            pairs += 1
            allowed = _allowed(world, actor, endpoint.capability)
            refused = _turned_away(response, endpoint.capability)
            denied_ok = refused or response.status_code == 404
            if (allowed and refused) or (not allowed and not denied_ok):
                wrong.append(
                    f"{actor}: {endpoint.label()} -> {response.status_code} "
                    f"(policy {endpoint.capability.value}: {'allowed' if allowed else 'denied'})"
                )
    # FHIR_CLIENT belongs to no role: a facility's software holds it with its bearer token.
    _, secret = api_token_create(facility_code="HN001", name="Phần mềm HN001", actor_id=None)
    machine = Client(headers={"Authorization": f"Bearer {secret}"})
    for endpoint in (e for e in found if e.capability is Capability.FHIR_CLIENT):
        response = _ask(machine, endpoint, concrete(endpoint.route, objects))
        pairs += 1
        if _turned_away(response, Capability.FHIR_CLIENT):
            wrong.append(f"a facility's FHIR token: {endpoint.label()} -> {response.status_code}")
    with capsys.disabled():
        print(
            f"\nrole x URL policy: {pairs} (actor, URL) pairs over {len(found)} URLs, "
            f"{len(actors)} actors and a FHIR token"
        )
    assert not wrong, "answers against the policy:\n" + "\n".join(wrong)
    assert pairs >= 70 * len(actors)
