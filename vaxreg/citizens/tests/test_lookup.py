"""The citizen's lookup with a one-time code, as a citizen (or someone trying other people's IDs) meets it."""

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from vaxreg.citizens.models import OtpChallenge
from vaxreg.citizens.services import (
    LookupClaim,
    OtpOutcome,
    _challenge_create,
    otp_challenges_prune,
    otp_request,
    otp_verify,
)
from vaxreg.core import clock
from vaxreg.core.messaging import Message
from vaxreg.core.models import AuditEvent
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World, dose_make
from vaxreg.verification.services import cases_sync

DAO_ID, DAO_PHONE = "001190012345", "0912345601"
NEUTRAL = "Nếu thông tin khớp, mã đã được gửi"


def _ask(client: Client, **fields: str) -> Any:
    return client.post(reverse("citizens:start"), {"phone": DAO_PHONE, **fields})


def _code_of(message: Message) -> str:
    match = re.search(r"\b(\d{6})\b", message.text)
    assert match, message.text
    return match.group(1)


def _enter(client: Client, code: str) -> Any:
    return client.post(reverse("citizens:code"), {"code": code})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_right_code_opens_the_citizens_own_record(world: World, outbox: list[Message]) -> None:
    client = Client()
    response = _ask(client, id_number=DAO_ID)
    assert response.status_code == 302 and response["Location"] == reverse("citizens:code")
    assert [m.to for m in outbox] == [DAO_PHONE]
    assert "5 phút" in outbox[0].text

    page = client.get(reverse("citizens:code"))
    assert NEUTRAL in page.content.decode()
    response = _enter(client, _code_of(outbox[0]))
    assert response.status_code == 302 and response["Location"] == reverse("citizens:record")

    record = client.get(reverse("citizens:record")).content.decode()
    assert "Nguyễn Thị Đào" in record
    assert "Bệnh viện Bạch Mai" in record and record.count('class="dose"') == 2
    assert "•••••••••345" in record and DAO_ID not in record
    dao = world.persons["dao_hn"]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CITIZEN_OTP_SENT, object_id=str(dao.pk)
    ).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CITIZEN_LOOKUP, object_id=str(dao.pk)).exists()


def test_name_birth_date_and_gender_work_instead_of_the_id(world: World, outbox: list[Message]) -> None:
    client = Client()
    _ask(client, full_name="nguyen thi dao", birth_date="15/01/1990", gender="F")
    assert [m.to for m in outbox] == [DAO_PHONE]
    _enter(client, _code_of(outbox[0]))
    assert "Nguyễn Thị Đào" in client.get(reverse("citizens:record")).content.decode()


def _page_text(response: Any) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_an_unknown_id_or_another_phone_gets_the_same_answer_and_nothing_is_sent(
    world: World, outbox: list[Message]
) -> None:
    answers = []
    for fields in (
        {"id_number": DAO_ID},
        {"id_number": "001190099999"},  # nobody has it
        {"id_number": DAO_ID, "phone": "0987654321"},  # her ID, somebody else's phone
    ):
        client = Client()
        response = _ask(client, **fields)
        answers.append(
            (response.status_code, response["Location"], _page_text(client.get(response["Location"])))
        )
    assert answers[0] == answers[1] == answers[2]
    assert [m.to for m in outbox] == [DAO_PHONE]  # only the real record, only its phone
    assert OtpChallenge.objects.count() == 3  # every request left the same trace
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CITIZEN_OTP_SENT).count() == 1


def test_a_code_for_unmatched_details_never_opens_anything(world: World, outbox: list[Message]) -> None:
    client = Client()
    _ask(client, id_number="001190099999")
    for guess in ("000000", "123456"):
        assert "Mã không đúng" in _enter(client, guess).content.decode()
    assert client.get(reverse("citizens:record"))["Location"] == reverse("citizens:start")


def test_five_wrong_codes_lock_the_challenge_even_for_the_right_code(
    world: World, outbox: list[Message]
) -> None:
    client = Client()
    _ask(client, id_number=DAO_ID)
    code = _code_of(outbox[0])
    for left in (4, 3, 2, 1):
        assert f"Còn {left} lần thử" in _enter(client, _wrong(code)).content.decode()
    assert "sai quá nhiều lần" in _enter(client, _wrong(code)).content.decode()
    response = _enter(client, code)
    assert response.status_code == 400 and "sai quá nhiều lần" in response.content.decode()

    # A new code does not give five more guesses within the hour.
    outbox.clear()
    _ask(client, id_number=DAO_ID)
    assert "sai quá nhiều lần" in _enter(client, _code_of(outbox[0])).content.decode()


def test_a_code_expires_after_five_minutes(
    world: World, outbox: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client()
    _ask(client, id_number=DAO_ID)
    later = clock.now() + dt.timedelta(minutes=5, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    response = _enter(client, _code_of(outbox[0]))
    assert response.status_code == 400 and "hết hạn" in response.content.decode()


def test_a_code_works_once(world: World, outbox: list[Message]) -> None:
    challenge = otp_request(claim=LookupClaim(phone=DAO_PHONE, id_number=DAO_ID), address="10.3.0.1")
    code = _code_of(outbox[0])
    assert otp_verify(token=challenge.token, code=code).outcome == OtpOutcome.OK
    assert otp_verify(token=challenge.token, code=code).outcome == OtpOutcome.EXPIRED
    challenge.refresh_from_db()
    assert challenge.code_hash != code and code not in challenge.code_hash  # kept hashed


def test_the_sixth_code_in_an_hour_is_refused_known_id_or_not(world: World, outbox: list[Message]) -> None:
    for id_number in (DAO_ID, "001190099999"):
        statuses = []
        for i in range(6):
            client = Client(REMOTE_ADDR=f"10.0.{len(id_number)}.{i}")  # the limit holds across addresses
            statuses.append(_ask(client, id_number=id_number).status_code)
        assert statuses == [302] * 5 + [429]
    assert len(outbox) == 5
    refused = _ask(Client(REMOTE_ADDR="10.9.9.9"), id_number=DAO_ID).content.decode()
    assert "quá nhiều mã" in refused


def test_the_person_limit_holds_whatever_way_they_are_named(world: World, outbox: list[Message]) -> None:
    for i in range(5):
        _ask(Client(REMOTE_ADDR=f"10.1.0.{i}"), id_number=DAO_ID)
    response = _ask(
        Client(REMOTE_ADDR="10.1.1.1"), full_name="Nguyễn Thị Đào", birth_date="15/01/1990", gender="F"
    )
    assert response.status_code == 302  # the same answer as ever...
    assert len(outbox) == 5  # ...but no sixth code to her phone


def test_one_address_asks_at_most_five_codes_an_hour(world: World, outbox: list[Message]) -> None:
    client = Client(REMOTE_ADDR="10.2.0.1")
    statuses = [_ask(client, id_number=f"00119001234{i}").status_code for i in range(6)]
    assert statuses == [302] * 5 + [429]


def test_the_record_says_in_plain_words_what_is_being_verified(world: World, outbox: list[Message]) -> None:
    dao = world.persons["dao_hn"]
    type(dao).objects.filter(pk=dao.pk).update(gender="M")  # her CCCD says female
    quality_check_persons(person_ids=[dao.pk])
    cases_sync(person_ids=[dao.pk])
    client = Client()
    _ask(client, id_number=DAO_ID)
    _enter(client, _code_of(outbox[0]))
    record = client.get(reverse("citizens:record")).content.decode()
    assert "CCCD lệch giới tính" in record
    assert "Trạm y tế xã/phường sẽ liên hệ" in record
    assert "Chưa cấp được chứng nhận" in record


def test_the_lookup_ends_on_request(world: World, outbox: list[Message]) -> None:
    client = Client()
    _ask(client, id_number=DAO_ID)
    _enter(client, _code_of(outbox[0]))
    client.post(reverse("citizens:end"))
    assert client.get(reverse("citizens:record"))["Location"] == reverse("citizens:start")


def test_old_challenges_are_pruned(
    world: World, outbox: list[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    otp_request(claim=LookupClaim(phone=DAO_PHONE, id_number=DAO_ID), address="10.4.0.1")
    assert otp_challenges_prune() == 0
    later = clock.now() + dt.timedelta(days=8)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert otp_challenges_prune() == 1 and not OtpChallenge.objects.exists()


def test_the_form_asks_for_an_id_or_the_full_identity(world: World, outbox: list[Message]) -> None:
    response = _ask(Client(), full_name="Nguyễn Thị Đào")
    assert response.status_code == 400
    assert "Nhập số giấy tờ, hoặc đủ họ tên, ngày sinh và giới tính" in response.content.decode()
    assert outbox == [] and not OtpChallenge.objects.exists()


def test_the_record_page_costs_the_same_queries_however_many_doses(
    world: World, outbox: list[Message]
) -> None:
    client = Client()
    _ask(client, id_number=DAO_ID)
    _enter(client, _code_of(outbox[0]))
    url = reverse("citizens:record")
    with CaptureQueriesContext(connection) as two_doses:
        client.get(url)
    dao = world.persons["dao_hn"]
    for i, facility in enumerate(("HN002", "HCM01")):
        dose_make(
            person=dao,
            facility=world.facilities[facility],
            source_record_id=f"extra-{i}",
            date=dt.date(2022, 3, 1) + dt.timedelta(days=i),
            number=3 + i,
            vaccine=world.vaccine,
        )
    with CaptureQueriesContext(connection) as four_doses:
        page = client.get(url)
    assert page.content.decode().count('class="dose"') == 4
    assert len(four_doses) == len(two_doses)


def test_a_request_does_the_same_database_work_whether_or_not_it_matches(world: World) -> None:
    """What the request itself does (the message goes out from the worker) must not time a record's
    existence: the same statements for a match, an unknown ID and a known ID with another phone."""
    statements = []
    for id_number, phone in ((DAO_ID, DAO_PHONE), ("001190099999", DAO_PHONE), (DAO_ID, "0987654321")):
        with CaptureQueriesContext(connection) as queries:
            _challenge_create(claim=LookupClaim(phone=phone, id_number=id_number), address="10.5.0.1")
        statements.append([re.sub(r"'[^']*'|\d+|NULL", "?", q["sql"]) for q in queries.captured_queries])
    assert statements[0] == statements[1] == statements[2]  # the values differ, never the statements
