"""A first load on PostgreSQL: the secondary indexes of the person and dose tables are built at its end."""

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from vaxreg.imports import pipeline
from vaxreg.imports.tests.conftest import row, run_import, write_csv
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="indexes are built at the end of a first load on PostgreSQL only",
    ),
]

TABLES = ["people_person", "vaccinations_dose"]


def indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1", [TABLES]
        )
        return cursor.fetchall()


def constraints() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1",
            [TABLES],
        )
        return cursor.fetchall()


def test_the_indexes_of_empty_tables_are_dropped_and_made_again_exactly_as_they_were(places: Any) -> None:
    indexes_before, constraints_before = indexes(), constraints()
    deferred = pipeline.DeferredIndexes()
    with transaction.atomic():
        assert deferred.defer()
        assert [name for name, _ in indexes()] == ["people_person_pkey", "vaccinations_dose_pkey"]
        assert "dose_source_record_unique" not in dict(constraints())
        deferred.restore()
        assert (indexes(), constraints()) == (indexes_before, constraints_before)


@pytest.mark.parametrize(
    "remembered_keys", [1, 1_000], ids=["indexes-back-after-the-first-chunk", "indexes-back-at-the-repeat"]
)
def test_a_first_load_stores_what_a_load_with_its_indexes_stores_and_ends_with_every_index(
    places: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any, remembered_keys: int
) -> None:
    """Chunks of two rows. With room for one remembered person, the indexes come back after the first chunk,
    and persons and repeated rows are found in the database from there on. With room for all, a person met
    again two chunks later (B2) is found by its key's hash and read by its id (the indexes still off), until
    the repeated row A1 brings them back."""
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", 2)
    monkeypatch.setattr(pipeline, "CREATED_PERSON_KEYS_MAX", remembered_keys)
    indexes_before, constraints_before = indexes(), constraints()
    rows = [
        row(source_record_id="A1", id_number="046187000555", full_name="Võ Văn Hùng", gender="Nam"),
        row(source_record_id="B1", id_number="", full_name="Đặng Thị Mai", date_of_birth="02/02/1960"),
        row(source_record_id="C1", id_number="046190000003", full_name="Trần Thị Cúc"),
        row(
            source_record_id="A2",
            id_number="046187000555",
            full_name="Võ Văn Hùng",
            gender="Nam",
            dose_number="2",
        ),
        row(
            source_record_id="B2",
            id_number="",
            full_name="Đặng Thị Mai",
            date_of_birth="02/02/1960",
            dose_number="2",
        ),
        row(source_record_id="D1", id_number="046190000004", full_name="Phạm Văn Dũng"),
        row(source_record_id="A1", id_number="046187000555", full_name="Võ Văn Hùng", gender="Nam"),  # again
        row(
            source_record_id="C1", id_number="046190000003", full_name="Trần Thị Cúc", lot_number="OTHER"
        ),  # conflict
    ]
    path = write_csv(tmp_path / "first.csv", rows)

    results = {}
    for defer in (False, True):
        settings.VAXREG_IMPORT_DEFER_INDEXES = defer
        with transaction.atomic():
            batch = run_import(path)
            results[defer] = (
                (batch.rows_read, batch.rows_stored, batch.rows_rejected, batch.persons_created),
                sorted(Dose.objects.values_list("person__full_name", "source_record_id", "lot_number")),
            )
            assert (indexes(), constraints()) == (indexes_before, constraints_before)
            transaction.set_rollback(True)

    assert (
        results[True]
        == results[False]
        == (
            (8, 7, 1, 4),
            [
                ("Phạm Văn Dũng", "D1", "A1001"),
                ("Trần Thị Cúc", "C1", "A1001"),
                ("Võ Văn Hùng", "A1", "A1001"),
                ("Võ Văn Hùng", "A2", "A1001"),
                ("Đặng Thị Mai", "B1", "A1001"),
                ("Đặng Thị Mai", "B2", "A1001"),
            ],
        )
    )


def test_tables_that_hold_a_row_keep_their_indexes(places: Any, tmp_path: Path) -> None:
    run_import(write_csv(tmp_path / "one.csv", [row()]))
    assert Person.objects.exists()
    before = indexes()
    with transaction.atomic():
        assert not pipeline.DeferredIndexes().defer()
        assert indexes() == before


def test_tables_another_session_is_reading_keep_their_indexes(places: Any) -> None:
    """The first load waits a moment for the exclusive lock, then goes on with the indexes in place."""
    db = connection.settings_dict
    before = indexes()
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        host=db["HOST"],
        port=db["PORT"] or None,
        password=db["PASSWORD"] or None,
    ) as other:
        other.execute(
            "LOCK TABLE people_person IN ACCESS SHARE MODE"
        )  # held until this session's transaction ends
        started = time.monotonic()
        with transaction.atomic():
            assert not pipeline.DeferredIndexes().defer()
            assert time.monotonic() - started < 10
            assert indexes() == before
            with connection.cursor() as cursor:
                cursor.execute("SHOW lock_timeout")  # this session's own setting is as it was
                assert cursor.fetchone()[0] == "0"


def test_every_deferrable_constraint_starts_deferred(db: Any) -> None:
    """Building the indexes again sets every constraint back to deferred: right only while none starts immediate."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE condeferrable AND NOT condeferred")
        assert cursor.fetchall() == []
