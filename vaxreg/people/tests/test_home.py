"""A person's home (the province its rows are stored under; on Citus, the servers it lives on) is its
province on every path that writes a person, and the database refuses a home that is not; a dose is stored
under its person's home on every path that writes a dose or moves a person, and so is a finding."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from vaxreg.corrections.services import dose_add, person_correct, person_create
from vaxreg.imports.tests.conftest import places, row, run_import, write_csv  # noqa: F401 (fixture)
from vaxreg.linkage.merging import person_merge, person_unmerge
from vaxreg.people.models import NO_PROVINCE, Person
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import dose_make, person_make
from vaxreg.vaccinations.models import Dose


def _home(person: Person) -> tuple[str | None, str]:
    """The person's province and home; the homes its doses and findings are stored under are its own."""
    person.refresh_from_db()
    assert _dose_homes(person) | _finding_homes(person) <= {person.home}
    return person.province_id, person.home


def _dose_homes(person: Person) -> set[str]:
    # By the person's id alone: a dose left under another home would not be found through the relation.
    return set(Dose.objects.filter(person_id=person.pk).values_list("home", flat=True))


def _finding_homes(person: Person) -> set[str]:
    return set(Finding.objects.filter(person_id=person.pk).values_list("home", flat=True))


def test_a_person_made_or_corrected_into_another_province_moves_home_with_it(world):
    station = world.users["commune_badinh"]
    dao = world.persons["dao_hn"]
    assert _home(dao) == ("01", "01")

    person_correct(
        person_id=dao.pk,
        expected_version=dao.version,
        changes={"commune_id": "26740"},
        reason="Đã chuyển vào Thành phố Hồ Chí Minh",
        actor_id=station.pk,
    )
    assert _home(dao) == ("79", "79")
    assert _dose_homes(dao) == {"79"}

    nowhere = person_make(full_name="Lê Thị Vô Định", commune=None)
    assert _home(nowhere) == (None, NO_PROVINCE)
    placed = person_create(
        values={"full_name": "Hồ Văn Tạo", "commune_id": "00070"}, reason="Bổ sung hồ sơ", actor_id=station.pk
    )
    assert _home(placed) == ("01", "01")


def test_a_merge_that_takes_the_other_records_commune_moves_the_survivor_and_its_undo_moves_it_back(world):
    ministry = world.users["national"]  # the two records lie in two provinces
    survivor = world.persons["dao_hn"]
    merged = person_make(full_name="Nguyễn Thị Đào", commune=world.communes["26740"], id_number="")
    dose_make(
        person=merged,
        facility=world.facilities["HCM01"],
        source_record_id="twin-0",
        date=dt.date(2021, 12, 1),
        number=3,
        vaccine=world.vaccine,
    )
    quality_check_persons(person_ids=[merged.pk])  # the merged record has no ID number: a finding
    assert _finding_homes(merged) == {"79"}

    result = person_merge(
        survivor=survivor, merged=merged, field_choices={"commune": "merged"}, actor=ministry, reason="Trùng"
    )
    assert _home(survivor) == ("79", "79")
    assert _dose_homes(survivor) == {"79"}  # its own two and the merged record's one
    assert _finding_homes(survivor) == {"79"}  # the merged record's (no ID number), moved and closed

    person_unmerge(merge=result.merge, actor=ministry, reason="Nhầm người")
    assert _home(survivor) == ("01", "01")
    assert _home(merged) == ("79", "79")
    assert (_dose_homes(survivor), _dose_homes(merged)) == ({"01"}, {"79"})
    assert _finding_homes(merged) == {"79"}


def test_a_dose_added_by_a_correction_is_stored_with_its_person(world):
    hoa = world.persons["hoa_traveller"]  # lives in Hồ Chí Minh, vaccinated in Hà Nội too
    dose_add(
        person_id=hoa.pk,
        facility_id=world.facilities["HN001"].pk,
        vaccine_id="AZ",
        vaccination_date=dt.date(2022, 1, 10),
        dose_number=3,
        reason="Mũi 3 tiêm ở Hà Nội, thiếu trong tệp",
        actor_id=world.users["facility_hn1"].pk,
    )
    assert _dose_homes(hoa) == {"79"}


@pytest.mark.usefixtures("places")
def test_an_imported_person_is_at_home_in_the_province_of_its_commune_or_else_of_its_dose(tmp_path):
    rows = [
        row(source_record_id="HUE1"),  # a commune of Huế
        row(source_record_id="HN1", facility_code="TYT00004", id_number="001187000456", commune_code="00004"),
        # No commune: the province of the facility that gave the dose (Hà Nội).
        row(source_record_id="NONE1", facility_code="TYT00004", id_number="046190000777", commune_code=""),
    ]
    run_import(write_csv(tmp_path / "doses.csv", rows))

    homes = dict(Person.objects.values_list("id_number", "home"))
    assert homes == {"046187000123": "46", "001187000456": "01", "046190000777": "01"}
    assert not Person.objects.exclude(home=F("province")).exists()
    # A later file names the stored persons again (found through the database), with a new person.
    later = [
        row(source_record_id="HUE2", vaccination_date="01/10/2021", dose_number="2"),
        row(source_record_id="HN2", facility_code="TYT19753", id_number="001187000456", commune_code="00004",
            vaccination_date="01/10/2021", dose_number="2"),
        row(source_record_id="NEW1", id_number="046195000999", full_name="Trần Văn Mới"),
    ]  # fmt: skip
    run_import(write_csv(tmp_path / "later.csv", later))
    doses = dict(Dose.objects.values_list("source_record_id", "home"))
    assert doses == {"HUE1": "46", "HN1": "01", "NONE1": "01", "HUE2": "46", "HN2": "01", "NEW1": "46"}


@pytest.mark.usefixtures("places")
def test_a_re_imported_row_that_moves_its_person_to_another_provinces_commune_moves_its_province_and_home(
    tmp_path,
):
    run_import(write_csv(tmp_path / "doses.csv", [row(source_record_id="HUE1")]))
    person = Person.objects.get()
    assert _home(person) == ("46", "46")
    quality_check_persons(person_ids=[person.pk])
    # The facility sends the same record again, the person's commune now one of Hà Nội's.
    batch = run_import(
        write_csv(tmp_path / "again.csv", [row(source_record_id="HUE1", commune_code="00004")])
    )
    assert batch.persons_updated == 1
    assert Person.objects.get().commune_id == "00004"
    assert _home(person) == ("01", "01")
    assert _dose_homes(person) == {"01"}


def test_the_database_refuses_a_home_that_is_not_the_province(world):
    dao = world.persons["dao_hn"]
    with pytest.raises(IntegrityError, match="person_home_is_province"), transaction.atomic():
        Person.objects.filter(pk=dao.pk).update(province_id="79")
    with pytest.raises(IntegrityError, match="person_home_is_province"), transaction.atomic():
        Person.objects.filter(pk=dao.pk).update(province_id=None)
