"""A finding's message holds no full ID or phone number: stored as a template with the values apart, and shown
masked wherever it is read (here the model and `vaxreg quality export`; the pages and API in verification)."""

import csv
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from vaxreg.core import clock
from vaxreg.core.cccd import build_cccd
from vaxreg.core.database import is_distributed
from vaxreg.people.models import Person, mask_id_number
from vaxreg.places.models import Facility
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons, quality_scan
from vaxreg.quality.tests.conftest import NATIONAL
from vaxreg.quality.tests.test_rules import CLEAN_PERSON, make_person
from vaxreg.quality.tests.test_scan_shortcuts import _import_defects

LEADING_ZEROS_ID = build_cccd(province_code="001", gender="F", birth_year=1987, serial=4242)
INVALID_ID = "0461870001234567"
INVALID_PHONE = "09123456789"


def _quoting_persons(facility: Facility) -> dict[str, Person]:
    """One person per rule whose message names an ID or phone number."""
    persons = {
        "ID_SHARED": make_person(facility),
        "ID_FORMAT": make_person(facility, id_type="INVALID", id_number=INVALID_ID),
        "ID_LEADING_ZEROS": make_person(facility, id_number=LEADING_ZEROS_ID, id_repaired=True),
        "PHONE_INVALID": make_person(facility, phone=INVALID_PHONE),
    }
    make_person(facility, full_name="Trần Thị Khác", name_key="tran thi khac")  # holds the first one's CCCD
    quality_check_persons(person_ids=Person.objects.values_list("pk", flat=True))
    return persons


def _quoted(person: Person, code: str) -> str:
    return person.phone if code == "PHONE_INVALID" else person.id_number


def test_stored_messages_hold_no_id_or_phone_and_read_masked(facility: Facility) -> None:
    for code, person in _quoting_persons(facility).items():
        finding = Finding.objects.get(person=person, code=code, is_open=True)
        value = _quoted(person, code)
        for message in (finding.message_vi, finding.message_en):
            assert value not in message and mask_id_number(value) in message, (code, message)
        stored = Finding.objects.filter(pk=finding.pk).values_list("template_vi", "template_en").get()
        assert not any(value in text for text in stored), (code, stored)


def test_the_quality_export_masks_ids_and_phones(facility: Facility, tmp_path: Path) -> None:
    persons = _quoting_persons(facility)
    out = tmp_path / "findings.csv"
    call_command("quality_export", "--user", NATIONAL, "--out", str(out))
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))[1:]
    for code, person in persons.items():
        value = _quoted(person, code)
        assert value not in text, code
        messages = [row[4] + row[5] for row in rows if row[2] == code]
        assert messages and all(mask_id_number(value) in m for m in messages), code


@pytest.mark.django_db
def test_no_rule_stores_a_persons_id_or_phone_in_a_message(reference_data: Any, tmp_path: Path) -> None:
    _import_defects(tmp_path)  # every kind of defect, a few times over
    quality_scan(workers=1)
    rows = Finding.objects.values_list(
        "code", "template_vi", "template_en", "person__id_number", "person__phone"
    )
    assert len(rows) > 300
    for code, template_vi, template_en, id_number, phone in rows:
        for value in (id_number, phone):
            # A value of a few characters may be ordinary digits of the text ("CCCD 12 số").
            if len(value) >= 6:
                assert value not in template_vi and value not in template_en, (code, template_vi)


# -- the migration that turned stored messages into templates ----------------------------------------------

BEFORE = ("quality", "0001_initial")
AFTER = ("quality", "0002_finding_message_templates")
LATEST = ("quality", "0003_finding_home")  # the findings are read through today's model


def _migrate(target: tuple[str, str]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def _old_messages(persons: dict[str, Person]) -> list[tuple[Person, str, dict[str, Any], str, str, bool]]:
    """Findings as the rules wrote them before: (person, code, detail, message vi, message en, is_open)."""
    shared, short, repaired, phone = (persons[k] for k in ("shared", "short", "repaired", "phone"))
    named = persons["named"]
    return [
        (
            shared,
            "ID_SHARED",
            {"id_number": shared.id_number, "other_persons": 1},
            f"Số giấy tờ {shared.id_number} còn có ở 1 người khác có họ tên hoặc ngày sinh khác.",
            f"The ID {shared.id_number} is also on 1 other person(s) with another name or birth date.",
            True,
        ),
        (
            short,
            "ID_FORMAT",
            {"id_number": "12", "length": 2},
            "Số giấy tờ “12” không phải CCCD 12 số, CMND 9 số hay số hộ chiếu.",
            "The ID “12” is not a 12-digit CCCD, a 9-digit CMND or a passport number.",
            True,
        ),
        (
            repaired,
            "ID_LEADING_ZEROS",
            {"id_number": repaired.id_number, "as_typed": repaired.id_number.lstrip("0")},
            f"Số CCCD bị mất số 0 ở đầu và đã được bổ sung thành {repaired.id_number}.",
            f"The CCCD had lost its leading zeros; they were restored as {repaired.id_number}.",
            False,  # closed findings keep their message too
        ),
        (
            phone,
            "PHONE_INVALID",
            {"phone": phone.phone},
            f"Số điện thoại “{phone.phone}” không phải số Việt Nam hợp lệ.",
            f"The phone number “{phone.phone}” is not a valid Vietnamese number.",
            True,
        ),
        (
            named,
            "NAME_SUSPECT",
            {"full_name": named.full_name, "reason": "characters"},
            f"Họ và tên “{named.full_name}” có chữ số hoặc ký hiệu.",
            f"The name “{named.full_name}” contains digits or symbols.",
            True,
        ),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_ids_and_phones_out_of_stored_messages() -> None:
    if is_distributed(connection, Finding._meta.db_table):
        pytest.skip(
            "findings distributed by home on Citus cannot go back before their home: Citus refuses to drop it"
        )
    now = clock.now()

    def person(**values: Any) -> Person:
        return Person.objects.create(**{**CLEAN_PERSON, **values}, created_at=now, updated_at=now)

    persons = {
        "shared": person(),
        "short": person(id_type="INVALID", id_number="12"),
        "repaired": person(id_number=LEADING_ZEROS_ID, id_repaired=True),
        "phone": person(phone=INVALID_PHONE),
        "named": person(full_name="Nguyễn {Thị} Hoa 2"),
    }
    old = _old_messages(persons)
    try:
        OldFinding = _migrate(BEFORE).get_model("quality", "Finding")
        for p, code, detail, vi, en, is_open in old:
            OldFinding.objects.create(
                person_id=p.pk,
                code=code,
                severity="warning",
                fields=[],
                message_vi=vi,
                message_en=en,
                detail=detail,
                opened_at=now,
                is_open=is_open,
                closed_at=None if is_open else now,
            )
        _migrate(AFTER)
        _migrate(LATEST)
        stored = list(Finding.objects.order_by("pk"))
        numbers = {p.id_number for p in persons.values() if len(p.id_number) >= 6} | {INVALID_PHONE}
        for finding, (_, code, detail, vi, en, _) in zip(stored, old, strict=True):
            assert not any(n in finding.template_vi or n in finding.template_en for n in numbers), code
            quoted = str(detail.get("phone") or detail.get("id_number") or "")
            masked = mask_id_number(quoted) if code != "NAME_SUSPECT" else quoted
            assert finding.message_vi == vi.replace(quoted, masked, 1 if code == "ID_FORMAT" else -1), code
            assert finding.message_en == en.replace(quoted, masked, 1 if code == "ID_FORMAT" else -1), code

        # Going back fills the templates in again, exactly as they were.
        OldFinding = _migrate(BEFORE).get_model("quality", "Finding")
        back = list(OldFinding.objects.order_by("pk").values_list("message_vi", "message_en"))
        assert back == [(vi, en) for _, _, _, vi, en, _ in old]
    finally:
        _migrate(LATEST)
        Finding.objects.all().delete()
        Person.objects.all().delete()
