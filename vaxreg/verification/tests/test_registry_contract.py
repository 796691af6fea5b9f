"""The population-registry adapter against a small local server that speaks the documented contract."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from vaxreg.core.models import ChangeRecord, SourceType
from vaxreg.people.models import Gender
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World, person_make, world  # noqa: F401
from vaxreg.vaccinations.models import CatalogueParameter
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.registry import (
    HttpRegistryClient,
    RegistryAnswer,
    RegistryUnavailable,
    case_registry_check,
)
from vaxreg.verification.services import CaseActionRefused, case_escalate, cases_sync

# What the register knows, by ID number.
REGISTER = {
    "001090012399": {
        "full_name": "Nguyễn Văn An",
        "birth_year": 1990,
        "birth_month": 3,
        "birth_day": 4,
        "gender": "M",
        "id_number": "001090012399",
    },
}
BROKEN_ID = "001090000500"  # the server fails on it
SLOW_ID = "001090000999"  # the server answers too late
GARBLED_ID = "001090000777"  # the server answers something else than the contract
SLOW_SECONDS = 2.0


class RegisterHandler(BaseHTTPRequestHandler):
    """MATCH when ID, folded name and birth year agree; MISMATCH with the register's identity when only the
    ID is known; NOT_FOUND otherwise."""

    requests: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    def do_POST(self) -> None:
        if self.path != "/lookup":
            self._send(404, {"error": "not found"})
            return
        asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        RegisterHandler.requests.append(asked)
        number = asked.get("id_number")
        if number == BROKEN_ID:
            self._send(500, {"error": "database down"})
            return
        if number == SLOW_ID:
            time.sleep(SLOW_SECONDS)
            with contextlib.suppress(ConnectionError):  # the client has given up by now
                self._send(200, {"result": "NOT_FOUND"})
            return
        if number == GARBLED_ID:
            body = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        known = REGISTER.get(number)
        if known is None:
            self._send(200, {"result": "NOT_FOUND"})
        elif known["full_name"] == asked.get("full_name") and known["birth_year"] == asked.get("birth_year"):
            self._send(200, {"result": "MATCH", "person": known})
        else:
            self._send(200, {"result": "MISMATCH", "person": known})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def register_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RegisterHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- the client alone --------------------------------------------------------------------------------------


def test_match_returns_the_register_identity(register_url):
    answer = HttpRegistryClient(register_url, timeout=5).lookup("001090012399", "Nguyễn Văn An", 1990)
    assert answer == RegistryAnswer(
        result="MATCH", full_name="Nguyễn Văn An", birth_year=1990, birth_month=3, birth_day=4, gender="M",
        id_number="001090012399",
    )  # fmt: skip
    assert RegisterHandler.requests[-1] == {
        "id_number": "001090012399",
        "full_name": "Nguyễn Văn An",
        "birth_year": 1990,
    }


def test_mismatch_returns_what_the_register_holds(register_url):
    answer = HttpRegistryClient(register_url, timeout=5).lookup("001090012399", "Nguyễn Văn Ân", 1991)
    assert answer.result == "MISMATCH"
    assert answer.verified() == REGISTER["001090012399"]


def test_not_found_carries_no_identity(register_url):
    answer = HttpRegistryClient(register_url, timeout=5).lookup("079190000001", "Không Có Ai", None)
    assert answer.result == "NOT_FOUND" and answer.verified() == {}
    assert RegisterHandler.requests[-1]["birth_year"] is None


def test_a_server_error_is_an_error_not_a_result(register_url):
    with pytest.raises(RegistryUnavailable) as raised:
        HttpRegistryClient(register_url, timeout=5).lookup(BROKEN_ID, "Ai Đó", 1990)
    assert "HTTP 500" in raised.value.message_en and "HTTP 500" in raised.value.message_vi


def test_an_answer_outside_the_contract_is_an_error(register_url):
    with pytest.raises(RegistryUnavailable, match="cannot be understood"):
        HttpRegistryClient(register_url, timeout=5).lookup(GARBLED_ID, "Ai Đó", 1990)


def test_a_slow_register_times_out(register_url):
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as raised:
        HttpRegistryClient(register_url, timeout=0.3).lookup(SLOW_ID, "Ai Đó", 1990)
    assert time.monotonic() - started < SLOW_SECONDS
    assert "no answer within 0.3 s" in raised.value.message_en
    assert "không trả lời sau 0.3 giây" in raised.value.message_vi


def test_an_unreachable_or_unset_register_says_so():
    with ThreadingHTTPServer(("127.0.0.1", 0), RegisterHandler) as closed:
        port = closed.server_address[1]  # bound, then closed: nobody listens there any more
    with pytest.raises(RegistryUnavailable, match="cannot be reached") as raised:
        HttpRegistryClient(f"http://127.0.0.1:{port}", timeout=2).lookup(
            "001090012399", "Nguyễn Văn An", 1990
        )
    assert f"127.0.0.1:{port}" in raised.value.message_vi
    with (
        override_settings(VAXREG_REGISTRY_URL=""),
        pytest.raises(RegistryUnavailable, match="not configured"),
    ):
        HttpRegistryClient().lookup("001090012399", "Nguyễn Văn An", 1990)


def test_the_address_comes_from_the_settings(register_url):
    with override_settings(VAXREG_REGISTRY_URL=register_url + "/"):
        assert HttpRegistryClient().base_url == register_url


# -- the service: the answer becomes the police's result ------------------------------------------------


@pytest.fixture
def escalated(world: World) -> VerificationCase:  # noqa: F811
    CatalogueParameter.objects.get_or_create(key="campaign_start", defaults={"value": "2021-03-08"})
    CatalogueParameter.objects.get_or_create(key="min_birth_year", defaults={"value": 1900})
    person = person_make(
        full_name="Nguyễn Văn An",
        commune=world.communes["00004"],
        id_number="001090012399",
        gender=Gender.FEMALE,
        birth=(1990, 3, 4),
    )
    quality_check_persons(person_ids=[person.pk])
    cases_sync(person_ids=[person.pk])
    case = VerificationCase.objects.get(person=person)
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Cần đối chiếu CSDL dân cư")
    return case


@pytest.mark.django_db
def test_registry_check_records_the_answer_as_the_police_result(world, escalated, register_url):  # noqa: F811
    case = case_registry_check(
        actor=world.users["police_badinh"],
        case_id=escalated.pk,
        client=HttpRegistryClient(register_url, timeout=5),
    )
    assert case.police_result == "MATCH" and case.state == CaseState.RESOLVED
    change = ChangeRecord.objects.get(entity="person", entity_id=escalated.person_id, field="gender")
    assert (change.old_value, change.new_value) == ("F", "M")
    assert change.source_type == SourceType.POLICE and change.source_id == "registry"
    assert change.actor_id == world.users["police_badinh"].pk


@pytest.mark.django_db
def test_registry_check_is_for_the_police_and_an_outage_changes_nothing(world, escalated, register_url):  # noqa: F811
    client = HttpRegistryClient(register_url, timeout=5)
    before = len(RegisterHandler.requests)
    with pytest.raises(CaseActionRefused):
        case_registry_check(actor=world.users["commune_badinh"], case_id=escalated.pk, client=client)
    assert len(RegisterHandler.requests) == before  # the register was not even asked
    with pytest.raises(RegistryUnavailable):
        case_registry_check(
            actor=world.users["police_badinh"],
            case_id=escalated.pk,
            client=HttpRegistryClient(register_url + "/down"),
        )
    assert VerificationCase.objects.get(pk=escalated.pk).state == CaseState.ESCALATED


@pytest.mark.django_db
def test_the_police_page_asks_the_register(world, escalated, register_url):  # noqa: F811
    browser = Client()
    browser.force_login(world.users["police_badinh"])
    url = reverse("verification:police_case", args=[escalated.pk])
    with override_settings(VAXREG_REGISTRY_URL=register_url):
        assert 'value="registry"' in browser.get(url).content.decode()
        response = browser.post(url, {"action": "registry"})
    assert response.status_code == 302
    assert VerificationCase.objects.get(pk=escalated.pk).state == CaseState.RESOLVED
    with override_settings(VAXREG_REGISTRY_URL=""):
        assert 'value="registry"' not in browser.get(url).content.decode()
