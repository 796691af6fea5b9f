"""One hand-made person per rule code: the rule fires on it, and a clean person raises nothing."""

import datetime as dt
from typing import Any

import pytest

from vaxreg.core import clock
from vaxreg.core.cccd import build_cccd
from vaxreg.people.models import Person
from vaxreg.places.models import Facility
from vaxreg.quality.models import Finding, Severity
from vaxreg.quality.services import quality_check_persons
from vaxreg.vaccinations.models import Dose

D = dt.date
CLEAN_PERSON: dict[str, Any] = {
    "full_name": "Nguyễn Thị Hoa",
    "name_key": "nguyen thi hoa",
    "birth_year": 1987,
    "birth_month": 3,
    "birth_day": 15,
    "gender": "F",
    "id_type": "CCCD",
    "id_number": build_cccd(province_code="046", gender="F", birth_year=1987, serial=123),
    "phone": "0912345678",
}
# (vaccine, date, dose number, typed name)
CLEAN_DOSES: list[tuple[str | None, dt.date, int | None, str]] = [
    ("ASTRAZENECA", D(2021, 8, 1), 1, "AZ"),
    ("ASTRAZENECA", D(2021, 10, 1), 2, "AZ"),
    ("COMIRNATY", D(2022, 3, 1), 3, "Pfizer"),
]


def make_person(
    facility: Facility,
    doses: list[tuple[str | None, dt.date, int | None, str]] | None = None,
    **overrides: Any,
) -> Person:
    now = clock.now()
    person = Person.objects.create(**{**CLEAN_PERSON, **overrides}, created_at=now, updated_at=now)
    for i, (vaccine, day, number, typed) in enumerate(CLEAN_DOSES if doses is None else doses):
        Dose.objects.create(
            person=person,
            vaccine_id=vaccine,
            vaccine_raw=typed,
            vaccination_date=day,
            dose_number=number,
            facility=facility,
            source_record_id=f"{person.pk}-{i}",
            created_at=now,
            updated_at=now,
        )
    return person


def open_codes(person: Person) -> set[str]:
    quality_check_persons(person_ids=[person.pk])
    return set(Finding.objects.filter(person=person, is_open=True).values_list("code", flat=True))


AZ1, AZ2, PF3 = CLEAN_DOSES
CASES: dict[str, tuple[dict[str, Any], list[tuple[str | None, dt.date, int | None, str]] | None]] = {
    "NAME_MISSING": ({"full_name": "", "name_key": ""}, None),
    "DOB_MISSING": ({"birth_year": None, "birth_month": None, "birth_day": None}, None),
    "GENDER_MISSING": ({"gender": ""}, None),
    "ID_MISSING": ({"id_type": "", "id_number": ""}, None),
    "ID_FORMAT": ({"id_type": "INVALID", "id_number": "04618700012"}, None),
    "ID_LEADING_ZEROS": ({"id_repaired": True}, None),
    "ID_PROVINCE_CODE": (
        {"id_number": build_cccd(province_code="099", gender="F", birth_year=1987, serial=1)},
        None,
    ),
    "ID_GENDER_MISMATCH": ({"gender": "M"}, None),
    "ID_BIRTHYEAR_MISMATCH": ({"birth_year": 1978}, None),
    "DOB_INVALID": (
        {"birth_year": None, "birth_month": None, "birth_day": None, "birth_date_raw": "31/02/1987"},
        None,
    ),
    "NAME_SUSPECT": ({"full_name": "Không rõ", "name_key": "khong ro"}, None),
    "NAME_NO_DIACRITICS": ({"full_name": "Nguyen Thi Hoa"}, None),
    "PHONE_INVALID": ({"phone": "01234567"}, None),
    "DOSE_DATE_FUTURE": ({}, [AZ1, AZ2, ("COMIRNATY", D(2042, 3, 1), 3, "Pfizer")]),
    "DOSE_BEFORE_CAMPAIGN": ({}, [("ASTRAZENECA", D(2020, 8, 1), 1, "AZ"), AZ2, PF3]),
    "DOSE_BEFORE_BIRTH": (
        {"birth_year": 2021, "birth_month": 9, "birth_day": 1, "id_type": "CMND", "id_number": "191234567"},
        None,
    ),
    "DOSE_VACCINE_UNKNOWN": ({}, [AZ1, AZ2, (None, D(2022, 3, 1), 3, "Nanocovax")]),
    "DOSE_DUPLICATE": ({}, [AZ1, AZ1, AZ2, PF3]),
    "DOSE_NUMBER_CONFLICT": ({}, [AZ1, ("ASTRAZENECA", D(2021, 10, 1), 1, "AZ"), PF3]),
    "DOSE_INTERVAL_SHORT": ({}, [AZ1, ("ASTRAZENECA", D(2021, 8, 10), 2, "AZ"), PF3]),
    "DOSE_AGE_INELIGIBLE": (
        {
            "birth_year": 2006,
            "id_number": build_cccd(province_code="046", gender="F", birth_year=2006, serial=5),
        },
        None,
    ),
}


def test_a_clean_person_has_no_finding(facility: Facility) -> None:
    assert open_codes(make_person(facility)) == set()


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires(facility: Facility, code: str) -> None:
    overrides, doses = CASES[code]
    assert code in open_codes(make_person(facility, doses, **overrides))


def test_id_shared_needs_another_name_or_birth_date(facility: Facility) -> None:
    first = make_person(facility)
    same = make_person(facility, doses=[])  # the same person entered twice: a duplicate, not a shared ID
    other = make_person(facility, doses=[], full_name="Trần Văn Nam", name_key="tran van nam")
    quality_check_persons(person_ids=[first.pk, same.pk, other.pk])
    shared = set(Finding.objects.filter(code="ID_SHARED", is_open=True).values_list("person_id", flat=True))
    assert shared == {first.pk, same.pk, other.pk}  # every holder sees the conflict
    assert Finding.objects.get(person=other, code="ID_SHARED").detail["other_persons"] == 2
    assert Finding.objects.get(person=first, code="ID_SHARED").detail["other_persons"] == 1


def test_gender_mismatch_explains_both_sides(facility: Facility) -> None:
    person = make_person(facility, gender="M", birth_year=1978)
    quality_check_persons(person_ids=[person.pk])
    finding = Finding.objects.get(person=person, code="ID_GENDER_MISMATCH")
    assert finding.severity == Severity.BLOCKING
    assert finding.message_vi == "CCCD cho biết nữ, sinh năm 1987; hồ sơ ghi nam, sinh năm 1978."
    assert finding.message_en == "The CCCD says female, born 1987; the record says male, born 1978."
    assert finding.detail == {
        "cccd_gender": "F",
        "stated_gender": "M",
        "cccd_birth_year": 1987,
        "stated_birth_year": 1978,
    }


def test_fixing_the_cause_closes_the_finding_and_keeps_it(facility: Facility) -> None:
    person = make_person(facility, gender="M", phone="01234567")
    assert open_codes(person) == {"ID_GENDER_MISMATCH", "PHONE_INVALID"}
    Person.objects.filter(pk=person.pk).update(gender="F")
    result = quality_check_persons(person_ids=[person.pk])
    assert result.closed == {"ID_GENDER_MISMATCH": 1} and result.unchanged == {"PHONE_INVALID": 1}
    closed = Finding.objects.get(person=person, code="ID_GENDER_MISMATCH")
    assert not closed.is_open and closed.closed_at is not None
    # The same mistake made again opens a new finding; the old one stays in the history.
    Person.objects.filter(pk=person.pk).update(gender="M")
    assert open_codes(person) == {"ID_GENDER_MISMATCH", "PHONE_INVALID"}
    assert Finding.objects.filter(person=person, code="ID_GENDER_MISMATCH").count() == 2


def test_a_dose_finding_closes_when_the_dose_is_fixed(facility: Facility) -> None:
    person = make_person(facility, doses=[AZ1, AZ2, (None, D(2022, 3, 1), 3, "Nanocovax")])
    assert open_codes(person) == {"DOSE_VACCINE_UNKNOWN"}
    dose = Dose.objects.get(person=person, vaccine__isnull=True)
    Dose.objects.filter(pk=dose.pk).update(vaccine_id="COMIRNATY")
    assert open_codes(person) == set()
    assert Finding.objects.get(dose=dose).closed_at is not None


def test_checking_many_persons_takes_a_few_queries(
    facility: Facility, django_assert_max_num_queries: Any
) -> None:
    ids = [make_person(facility, gender="M").pk for _ in range(60)]
    with django_assert_max_num_queries(14):  # a fixed number, never one per person
        result = quality_check_persons(person_ids=ids)
    assert result.opened["ID_GENDER_MISMATCH"] == 60


def test_scan_command_prints_a_summary_per_code(facility: Facility) -> None:
    import io

    from django.core.management import call_command

    make_person(facility, gender="M", province_id="46")
    make_person(facility, phone="01234567", province_id="01")
    out = io.StringIO()
    call_command("quality_scan", "--province", "46", stdout=out)
    assert "checked 1 persons" in out.getvalue()
    call_command("quality_scan", stdout=out)
    text = out.getvalue()
    assert "checked 2 persons" in text
    assert any(line.split()[:2] == ["ID_GENDER_MISMATCH", "1"] for line in text.splitlines())
    assert any(line.split()[:2] == ["PHONE_INVALID", "1"] for line in text.splitlines())


def test_correcting_one_holder_of_a_shared_id_closes_the_finding_on_both(facility: Facility) -> None:
    first = make_person(facility)
    other = make_person(facility, doses=[], full_name="Trần Thị Mai", name_key="tran thi mai")
    quality_check_persons(person_ids=[other.pk])  # checking one holder also checks the other
    assert Finding.objects.filter(code="ID_SHARED", is_open=True).count() == 2
    new_id = build_cccd(province_code="046", gender="F", birth_year=1987, serial=999)
    Person.objects.filter(pk=other.pk).update(id_number=new_id)
    result = quality_check_persons(person_ids=[other.pk])
    assert result.closed == {"ID_SHARED": 2}
    assert not Finding.objects.filter(person__in=[first, other], is_open=True).exists()
