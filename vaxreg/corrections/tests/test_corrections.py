import datetime as dt

import pytest

from vaxreg.core.models import ChangeRecord
from vaxreg.corrections.services import CorrectionRefused, StaleRecord, dose_add, dose_correct, person_correct
from vaxreg.people.models import Person
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons
from vaxreg.vaccinations.models import Dose


def test_a_correction_writes_history_and_rechecks_the_person_at_once(world):
    person = world.persons["dao_hn"]  # CCCD 001190012345: a woman born 1990
    Person.objects.filter(pk=person.pk).update(gender="M")
    quality_check_persons(person_ids=[person.pk])
    assert Finding.objects.filter(person=person, code="ID_GENDER_MISMATCH", is_open=True).exists()

    result = person_correct(
        person_id=person.pk, expected_version=1, changes={"gender": "F"}, reason="Đã gọi điện xác nhận",
        actor_id=world.users["commune_badinh"].pk,
    )  # fmt: skip
    assert result.changed == {"gender": ("M", "F")}
    assert result.version == 2
    finding = Finding.objects.get(person=person, code="ID_GENDER_MISMATCH")
    assert not finding.is_open and finding.closed_at is not None
    change = ChangeRecord.objects.filter(entity="person", entity_id=person.pk, field="gender").get()
    assert (change.old_value, change.new_value, change.reason) == ("M", "F", "Đã gọi điện xác nhận")
    assert change.actor == world.users["commune_badinh"]
    assert change.source_type == "correction"


def test_the_second_of_two_concurrent_corrections_is_refused_and_sees_the_first(world):
    person = world.persons["binh_hn"]
    person_correct(
        person_id=person.pk,
        expected_version=1,
        changes={"phone": "0987654321"},
        reason="số mới",
        actor_id=None,
    )
    with pytest.raises(StaleRecord) as stale:
        person_correct(
            person_id=person.pk,
            expected_version=1,
            changes={"address": "5 Hàng Bạc"},
            reason="địa chỉ",
            actor_id=None,
        )
    assert stale.value.current["phone"] == "0987654321"
    assert stale.value.current["version"] == 2
    assert "người khác" in stale.value.message_vi and "Someone else" in stale.value.message_en
    assert Person.objects.get(pk=person.pk).address == ""


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_day": 31, "birth_month": 2}, "birth_day"),
        ({"gender": "X"}, "gender"),
        ({"commune_id": "99999"}, "commune_id"),
        ({"birth_year": 2999}, "birth_year"),
    ],
)
def test_bad_values_are_refused_with_the_field_and_nothing_is_written(world, changes, field):
    person = world.persons["dao_hn"]
    with pytest.raises(CorrectionRefused) as refused:
        person_correct(person_id=person.pk, expected_version=1, changes=changes, reason="sửa", actor_id=None)
    assert refused.value.field == field
    assert Person.objects.get(pk=person.pk).version == 1


def test_a_correction_needs_a_reason_and_a_correctable_field(world):
    person = world.persons["dao_hn"]
    with pytest.raises(CorrectionRefused, match="reason"):
        person_correct(
            person_id=person.pk, expected_version=1, changes={"gender": "M"}, reason=" ", actor_id=None
        )
    with pytest.raises(CorrectionRefused, match="cannot be corrected"):
        person_correct(
            person_id=person.pk, expected_version=1, changes={"created_at": "x"}, reason="why", actor_id=None
        )


def test_a_new_id_number_is_read_like_an_imported_one(world):
    person = world.persons["binh_hn"]
    person_correct(
        person_id=person.pk,
        expected_version=1,
        changes={"id_number": " 001 090 054 322 "},
        reason="CCCD đúng",
        actor_id=None,
    )
    person.refresh_from_db()
    assert (person.id_type, person.id_number) == ("CCCD", "001090054322")
    person_correct(
        person_id=person.pk,
        expected_version=2,
        changes={"id_number": ""},
        reason="không có giấy tờ",
        actor_id=None,
    )
    person.refresh_from_db()
    assert (person.id_type, person.id_number) == ("", "")


def test_dose_corrections_and_additions_keep_history_even_when_signed_off(world):
    person = world.persons["dao_hn"]
    dose = Dose.objects.filter(person=person).order_by("vaccination_date").first()
    Dose.objects.filter(pk=dose.pk).update(signed_off=True)
    dose_correct(
        dose_id=dose.pk,
        expected_version=1,
        changes={"lot_number": "AB123"},
        reason="sai số lô",
        actor_id=None,
    )
    assert Dose.objects.get(pk=dose.pk).lot_number == "AB123"
    with pytest.raises(CorrectionRefused):
        dose_correct(
            dose_id=dose.pk,
            expected_version=2,
            changes={"vaccination_date": "2999-01-01"},
            reason="x y z",
            actor_id=None,
        )
    added = dose_add(
        person_id=person.pk, facility_id=world.facilities["HN001"].pk, vaccine_id="AZ",
        vaccination_date=dt.date(2022, 1, 5), dose_number=3, reason="Phiếu tiêm giấy", actor_id=None,
    )  # fmt: skip
    assert Dose.objects.filter(person=person).count() == 3
    assert ChangeRecord.objects.filter(entity="dose", entity_id=added.pk, field="created").exists()
    assert (
        ChangeRecord.objects.filter(entity="dose", entity_id=dose.pk, field="lot_number").get().old_value
        == "LOT-dao_hn-0"
    )
