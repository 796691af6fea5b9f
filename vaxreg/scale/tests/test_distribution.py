"""The per-person tables distributed by home on a Citus coordinator (``VAXREG_CITUS_DISTRIBUTE=1``, or
``vaxreg citus distribute``): how the tables are laid out, which reads go to one shard and which fan out
(caught here from Citus' own plan), and what the importer leaves to the shards.

Run by CI's distributed pass on the local cluster; skipped on a database whose tables are not distributed.
"""

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from vaxreg.core.database import has_distributed_tables
from vaxreg.core.jurisdiction import Jurisdiction, Scope
from vaxreg.core.models import ChangeRecord
from vaxreg.corrections.services import person_correct
from vaxreg.imports import pipeline
from vaxreg.people.models import Person
from vaxreg.people.selectors import person_doses
from vaxreg.people.services import persons_lock
from vaxreg.quality.models import Finding
from vaxreg.quality.services import finding_external_set
from vaxreg.scale.citus import DISTRIBUTED_MODELS, citus_distribute, shards_read
from vaxreg.testing.world import World
from vaxreg.vaccinations.models import Dose


def _shard_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT shard_count FROM citus_tables WHERE table_name = 'people_person'::regclass")
        return int(cursor.fetchone()[0])


@pytest.fixture
def distributed(db: None) -> None:
    if not has_distributed_tables(connection):
        pytest.skip("a Citus coordinator with the per-person tables distributed (VAXREG_CITUS_DISTRIBUTE=1)")


pytestmark = pytest.mark.usefixtures("distributed")


def test_persons_doses_and_findings_are_distributed_by_home_in_one_co_location_group() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name::text, distribution_column, colocation_id FROM citus_tables "
            "WHERE citus_table_type = 'distributed' ORDER BY 1"
        )
        tables = cursor.fetchall()
    assert [(table, column) for table, column, _ in tables] == [
        ("people_person", "home"),
        ("quality_finding", "home"),
        ("vaccinations_dose", "home"),
    ]
    assert len({group for _, _, group in tables}) == 1
    assert len(DISTRIBUTED_MODELS) == 3
    # The primary keys are (home, id); rows found by id alone have an index of their own on every shard.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE indexname LIKE '%%_id_alone' ORDER BY 1"
        )
        assert [(table, definition.endswith("(id)")) for table, definition in cursor.fetchall()] == [
            ("people_person", True),
            ("quality_finding", True),
            ("vaccinations_dose", True),
        ]
    assert citus_distribute(connection) == []  # safe to run again: nothing left to do


def test_a_provinces_persons_and_a_persons_doses_are_read_from_one_shard(world: World) -> None:
    dao = world.persons["dao_hn"]
    assert shards_read(Person.objects.filter(home="01")) == 1
    assert shards_read(Person.objects.filter(home=dao.home, pk=dao.pk)) == 1
    # A person's doses and findings (the person page): the relations carry the home, so the reads are routed.
    assert shards_read(Dose.objects.filter(person=dao)) == 1
    assert shards_read(Finding.objects.filter(person=dao, is_open=True)) == 1
    assert [d.pk for d in person_doses(dao)] == list(
        Dose.objects.filter(person_id=dao.pk)
        .order_by("vaccination_date", "dose_number", "pk")
        .values_list("pk", flat=True)
    )


def test_a_read_without_the_home_is_caught_fanning_out_to_every_shard(world: World) -> None:
    dao = world.persons["dao_hn"]
    assert shards_read(Person.objects.filter(pk=dao.pk)) == _shard_count()
    # A province's scope includes the persons vaccinated there who live elsewhere (hoa_traveller): their
    # rows are under other homes, so this read needs every shard.
    scope = Jurisdiction(scope=Scope.PROVINCE, province_code="01")
    assert shards_read(scope.persons_visible(Person.objects.all())) == _shard_count()
    names = set(scope.persons_visible(Person.objects.all()).values_list("full_name", flat=True))
    assert names == {world.persons[key].full_name for key in world.visible("province_hn")}


def test_a_dose_stored_under_another_home_than_its_persons_is_refused(world: World) -> None:
    dao = world.persons["dao_hn"]
    dose = Dose.objects.filter(person_id=dao.pk).first()
    assert dose is not None
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # Written by hand: the ORM's update of a dose's person moves it to that person's home.
        cursor.execute(
            "UPDATE vaccinations_dose SET person_id = %s WHERE home = %s AND id = %s",
            [world.persons["cuong_hcm"].pk, dao.home, dose.pk],
        )


def test_persons_of_two_homes_are_locked_one_home_at_a_time(world: World) -> None:
    dao, cuong = world.persons["dao_hn"], world.persons["cuong_hcm"]
    with transaction.atomic():
        locked = persons_lock(person_ids=[cuong.pk, dao.pk, 0])
    assert {pk: p.home for pk, p in locked.items()} == {dao.pk: "01", cuong.pk: "79"}


def test_the_importer_checks_the_keys_itself_on_the_shards_and_defers_their_indexes_on_a_first_load(
    world: World,
) -> None:
    dao = world.persons["dao_hn"]
    dose = Dose.objects.filter(person_id=dao.pk).first()
    assert dose is not None
    keys = pipeline.ParentKeys()
    with transaction.atomic():
        keys.switch_triggers_off()
        assert keys.active
        with connection.cursor() as cursor:
            # The setting reached the workers: a shard takes a dose whose person it does not hold ...
            cursor.execute(
                "UPDATE vaccinations_dose SET person_id = -5 WHERE home = %s AND id = %s", [dao.home, dose.pk]
            )
            assert cursor.rowcount == 1
        # ... and the importer's own check, made by home on the person's shard, finds the person or refuses.
        keys.require(pipeline.PERSON_TABLE, {(dao.home, dao.pk)})
        with pytest.raises(IntegrityError, match="people_person"):
            keys.require(pipeline.PERSON_TABLE, {(dao.home, -5)})
        transaction.set_rollback(True)
    assert Dose.objects.get(pk=dose.pk).person_id == dao.pk


def test_a_first_load_drops_the_indexes_on_every_shard_and_makes_them_again(places: Any) -> None:
    deferred = pipeline.DeferredIndexes()
    with transaction.atomic():
        assert deferred.defer()  # the tables are empty: dropped on every shard, made again at the end
        deferred.restore()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'vaccinations_dose'")
        assert cursor.fetchone()[0] > 1  # the primary key and the secondary indexes again


def test_a_person_corrected_into_another_province_is_stored_there_whole_once_with_its_ids(
    world: World,
) -> None:
    dao = world.persons["dao_hn"]
    finding_external_set(
        person_id=dao.pk,
        code="DUPLICATE_SUSPECT",
        severity="warning",
        fields=[],
        template_vi="Có thể trùng",
        template_en="Maybe the same person",
        detail={},
    )
    doses = sorted(Dose.objects.filter(person_id=dao.pk).values_list("pk", "source_record_id"))
    findings = sorted(Finding.objects.filter(person_id=dao.pk).values_list("pk", "code"))
    person_correct(
        person_id=dao.pk,
        expected_version=dao.version,
        changes={"commune_id": "26740"},
        reason="Đã chuyển vào Thành phố Hồ Chí Minh",
        actor_id=world.users["commune_badinh"].pk,
    )
    # One row for the person and each dose, under the new home only, with the same ids; the history of the
    # change and the person's other rows (which point at its id) are still found.
    assert list(Person.objects.filter(pk=dao.pk).values_list("home", "commune_id")) == [("79", "26740")]
    assert (
        sorted(Dose.objects.filter(home="79", person_id=dao.pk).values_list("pk", "source_record_id"))
        == doses
    )
    assert not Dose.objects.filter(home="01", person_id=dao.pk).exists()
    assert findings
    assert sorted(Finding.objects.filter(home="79", person_id=dao.pk).values_list("pk", "code")) == findings
    assert not Finding.objects.filter(home="01", person_id=dao.pk).exists()
    assert ChangeRecord.objects.filter(entity_id=dao.pk, field="commune_id").exists()
    assert shards_read(Person.objects.filter(home="79", pk=dao.pk)) == 1
