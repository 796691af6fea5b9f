"""Record linkage: the stored model on a small labelled set, runs that open and close DUPLICATE_SUSPECT
warnings, "not the same" remembered, linking after an import, and the audit export of clusters."""

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent
from vaxreg.core.text import fold
from vaxreg.corrections.services import person_correct
from vaxreg.imports.headers import TEMPLATE_HEADERS_VI
from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.linkage.engine import (
    REVIEW_THRESHOLD,
    Engine,
    ScoredPair,
    competing_dropped,
    evidence_words,
    model_load,
    records_table,
)
from vaxreg.linkage.models import PairState, SuspectedPair
from vaxreg.linkage.services import linkage_run, pair_decide
from vaxreg.people.models import Person
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons, quality_scan
from vaxreg.testing.world import World, person_make

pytestmark = pytest.mark.django_db

# (id, full name, birth year, month, day, gender, id type, id number, phone, commune, province, true person)
LABELLED = [
    (1, "Nguyễn Thị Đào", 1990, 3, 15, "F", "CCCD", "046190012345", "0912345601", "19753", "46", "dao"),
    (2, "Nguyen Thi Dao", 1990, 3, 15, "F", "", "", "", "19774", "46", "dao"),  # no diacritics, moved
    (3, "Trần Văn Bình", 1985, 4, 7, "M", "CCCD", "046085054321", "0912345602", "19753", "46", "binh"),
    (4, "Trần Bình", 1985, 7, 4, "M", "CMND", "191234567", "", "19753", "46", "binh"),  # middle dropped, swap
    (5, "Lê Văn Cường", 1950, 6, 1, "M", "CCCD", "046050077777", "0912345604", "19780", "46", "cuong"),
    (6, "Lê Văn Cưòng", 1950, None, None, "M", "", "", "0912345604", "19780", "46", "cuong"),  # year only
    # Twins: one surname, birth date, phone and commune; two given names and two CCCDs.
    (7, "Phạm Minh Khôi", 2001, 9, 9, "M", "CCCD", "046201011111", "0912345607", "19801", "46", "khoi"),
    (8, "Phạm Minh Khang", 2001, 9, 9, "M", "CCCD", "046201022222", "0912345607", "19801", "46", "khang"),
    # A parent and child sharing surname, phone and commune.
    (9, "Hoàng Văn Long", 1960, 2, 2, "M", "CCCD", "046060033333", "0912345609", "19807", "46", "long"),
    (10, "Hoàng Văn Lâm", 1988, 5, 5, "M", "CCCD", "046088044444", "0912345609", "19807", "46", "lam"),
    # Namesakes: a common name and birth year, other dates, IDs and communes.
    (11, "Nguyễn Văn Hùng", 1980, 1, 20, "M", "CCCD", "046080055555", "0912345611", "19753", "46", "hung1"),
    (12, "Nguyễn Văn Hùng", 1980, 11, 2, "M", "CCCD", "046080066666", "0912345612", "19774", "46", "hung2"),
]


D1, D2 = date(2021, 8, 2), date(2021, 9, 30)  # a first dose, and the second eight weeks later
AZ = "ASTRAZENECA"
# Each person's numbered doses (id, lowest number, highest, first date, last, their vaccines): a person
# recorded twice has dose 1 in one record and dose 2 in the other; relatives and namesakes each have both.
SPANS = [(pid, 1, 2, D1, D2, AZ, AZ) for pid in (7, 8, 9, 10, 11, 12)] + [
    (1, 1, 1, D1, D1, AZ, AZ),
    (2, 2, 2, D2, D2, AZ, AZ),
    (3, 1, 1, D1, D1, AZ, AZ),
    (4, 2, 2, D2, D2, AZ, AZ),
    (5, 1, 1, D1, D1, AZ, AZ),
    (6, 2, 2, D2, D2, AZ, AZ),
]


def _rows(labelled: list[tuple]) -> list[tuple]:
    return [(r[0], r[1], fold(r[1]), *r[2:11]) for r in labelled]


def test_the_stored_model_finds_the_duplicates_and_not_the_relatives() -> None:
    scored = Engine(records_table(_rows(LABELLED), spans=SPANS), model=model_load()).predict(threshold=0.01)
    suspected = {(p.a, p.b) for p in scored if p.probability >= REVIEW_THRESHOLD}
    assert suspected == {(1, 2), (3, 4), (5, 6)}
    assert {p.levels["doses"] for p in scored if (p.a, p.b) in suspected} == {"follow_on_same_vaccine"}
    levels = {(p.a, p.b): p.levels for p in scored}
    assert levels[(1, 2)]["given_names"] == "diacritics"
    assert levels[(3, 4)]["birth_date"] == "swapped"
    assert levels[(3, 4)]["given_names"] == "middle_dropped"
    assert levels[(5, 6)]["birth_date"] == "year_only"
    words = dict((c, en) for c, en, _ in evidence_words(levels[(1, 2)]))
    assert words["given_names"] == "names differ only in diacritics"
    assert (
        words["doses"]
        == "one record's doses continue the other's with the same vaccine at the usual interval"
    )


def test_doses_held_by_both_records_speak_against_one_person() -> None:
    """The same pair of records is less likely one person when each holds a dose 1 than when one record's
    dose follows the other's: two people, not one recorded twice."""
    rows = _rows(LABELLED[2:4])  # Trần Văn Bình and Trần Bình
    split = Engine(records_table(rows, spans=SPANS[8:10]), model=model_load()).predict(threshold=0.0)
    both = [(3, 1, 2, D1, D2, AZ, AZ), (4, 1, 2, D1, D2, AZ, AZ)]
    overlapping = Engine(records_table(rows, spans=both), model=model_load()).predict(threshold=0.0)
    assert split[0].probability >= REVIEW_THRESHOLD > overlapping[0].probability
    assert overlapping[0].levels["doses"] == "else"


def _pair(a: int, b: int, probability: float) -> ScoredPair:
    return ScoredPair(a, b, probability, 0.0, {})


def test_a_likelier_pair_rules_out_a_record_that_cannot_be_both() -> None:
    """A half-record (dose 2 only) suspected with two full-looking records that each hold dose 1 is at most
    one of them: the likelier pair stays. A record in three pieces (doses 1, 2, 3) keeps both its pairs,
    and two equally likely pairs both stay for the reviewer."""
    spans = {1: (2, 2), 2: (1, 1), 3: (1, 1), 4: (3, 3)}
    kept = competing_dropped([_pair(1, 2, 0.99), _pair(1, 3, 0.95)], spans)
    assert [(p.a, p.b) for p in kept] == [(1, 2)]
    three = competing_dropped([_pair(1, 2, 0.99), _pair(1, 4, 0.95)], spans)
    assert len(three) == 2
    tied = competing_dropped([_pair(1, 2, 0.97), _pair(1, 3, 0.97)], spans)
    assert len(tied) == 2
    # A pair a reviewer decided takes no part: it neither rules out nor is ruled out.
    decided = competing_dropped([_pair(1, 2, 0.99), _pair(1, 3, 0.95)], spans, decided={(1, 2)})
    assert len(decided) == 2


def _dao_twice(world: World) -> Person:
    """A second record of Nguyễn Thị Đào of Ba Đình, typed without diacritics, her CCCD's last digit mistyped.

    (The other Nguyễn Thị Đào of the world, in Hồ Chí Minh, shares her birth date: without an ID number
    the second record would rightly be suspected to be either of them.)"""
    dao = world.persons["dao_hn"]
    return person_make(
        full_name="Nguyen Thi Dao",
        commune=dao.commune,
        id_number="001190012346",
        phone="0987654001",
        birth=(1990, 1, 15),
    )


def _open(code: str = "DUPLICATE_SUSPECT") -> set[int]:
    return set(Finding.objects.filter(code=code, is_open=True).values_list("person_id", flat=True))


def test_a_run_opens_warnings_that_the_rules_leave_alone_and_a_decision_closes(world: World) -> None:
    dao, copy = world.persons["dao_hn"], _dao_twice(world)
    result = linkage_run()
    assert result.opened == 1
    pair = SuspectedPair.objects.get()
    assert (pair.person_a_id, pair.person_b_id) == (dao.pk, copy.pk)
    assert pair.state == PairState.OPEN and pair.probability >= REVIEW_THRESHOLD
    assert pair.evidence["levels"]["given_names"] == "diacritics"
    assert pair.evidence["levels"]["id_number"] == "one_digit"
    assert _open() == {dao.pk, copy.pk}
    finding = Finding.objects.get(person=copy, code="DUPLICATE_SUSPECT")
    assert finding.severity == "warning" and "1 other record" in finding.message_en
    percent = int(pair.probability * 100)
    assert f"(xác suất cao nhất {percent} %)" in finding.message_vi and "1.000" not in finding.message_vi

    quality_check_persons(person_ids=[dao.pk, copy.pk])  # the rules do not close what linkage opened
    quality_scan()
    assert _open() == {dao.pk, copy.pk}

    pair_decide(
        pair_id=pair.pk, state=PairState.NOT_SAME, actor=world.users["commune_badinh"], reason="Hai người"
    )
    assert _open() == set()
    assert Finding.objects.get(person=copy, code="DUPLICATE_SUSPECT").closed_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.DUPLICATE_PAIR_DECIDED)
    assert event.actor_id == world.users["commune_badinh"].pk and event.detail["state"] == "not_same"

    # Remembered: a new run suggests nothing while neither person changes.
    again = linkage_run()
    assert again.opened == 0 and again.reopened == 0
    assert SuspectedPair.objects.get().state == PairState.NOT_SAME
    assert _open() == set()

    # One of them changes: the pair is asked again.
    Person.objects.filter(pk=copy.pk).update(phone="0987654002", updated_at=clock.now())
    third = linkage_run()
    assert third.reopened == 1
    assert SuspectedPair.objects.get().state == PairState.OPEN
    assert _open() == {dao.pk, copy.pk}


def test_a_correction_that_makes_them_differ_closes_the_warning(world: World) -> None:
    dao, copy = world.persons["dao_hn"], _dao_twice(world)
    linkage_run()
    assert _open() == {dao.pk, copy.pk}
    # The station finds the second record is someone else's and corrects it: the pair no longer holds.
    person_correct(
        person_id=copy.pk,
        expected_version=copy.version,
        changes={
            "full_name": "Nguyễn Văn Tâm",
            "gender": "M",
            "birth_year": 1950,
            "birth_month": 3,
            "birth_day": 3,
        },
        reason="Hồ sơ của người khác",
        actor_id=world.users["commune_badinh"].pk,
    )
    assert not SuspectedPair.objects.exists()
    assert _open() == set()
    closed = Finding.objects.filter(code="DUPLICATE_SUSPECT", is_open=False)
    assert {f.person_id for f in closed} == {dao.pk, copy.pk} and all(f.closed_at for f in closed)


def _csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADERS_VI)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8-sig")


def test_an_import_links_the_persons_it_creates(world: World, tmp_path: Path) -> None:
    path = tmp_path / "second-site.csv"
    Person.objects.filter(pk=world.persons["cuong_hcm"].pk).update(gender="M")
    # Cường got his second dose at another site, typed without his middle name and without his CCCD.
    row = [
        "Lê Cường",
        "15/01/1990",
        "Nam",
        "",
        "",
        "",
        "26740",
        "HCM01",
        "HCM-77",
        "01/10/2021",
        "2",
        "AstraZeneca",
        "",
    ]
    path.write_bytes(_csv([row]))
    batch = import_batch_run(batch_id=import_batch_create(file_name=path.name, path=path).pk)
    assert batch.persons_created == 1
    created = Person.objects.get(full_name="Lê Cường")
    cuong = world.persons["cuong_hcm"]
    pair = SuspectedPair.objects.get()
    assert {pair.person_a_id, pair.person_b_id} == {cuong.pk, created.pk}
    assert _open() == {cuong.pk, created.pk}


def test_the_export_gives_one_cluster_per_citizen_within_the_users_reach(
    world: World, tmp_path: Path
) -> None:
    dao, copy = world.persons["dao_hn"], _dao_twice(world)
    copy.doses.create(
        facility=world.facilities["HN002"],
        source_record_id="dao-copy-1",
        vaccination_date=clock.today(),
        dose_number=2,
        vaccine=world.vaccine,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    linkage_run()
    out = tmp_path / "clusters.csv"
    call_command("linkage", "export", "--user", "national", "--out", str(out), stdout=io.StringIO())
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["facility_code", "source_record_id", "person_id", "cluster_id"]
    by_record = {r["source_record_id"]: r for r in rows}
    assert by_record["dao-copy-1"]["cluster_id"] == by_record["dao_hn-0"]["cluster_id"] == str(dao.pk)
    assert by_record["dao-copy-1"]["person_id"] == str(copy.pk)
    assert by_record["binh_hn-0"]["cluster_id"] == str(world.persons["binh_hn"].pk)
    assert len(rows) == 9  # the world's eight dose records and the copy's one

    own = tmp_path / "own.csv"
    call_command("linkage", "export", "--user", "facility_hcm", "--out", str(own), stdout=io.StringIO())
    with own.open(encoding="utf-8-sig", newline="") as handle:
        assert {r["facility_code"] for r in csv.DictReader(handle)} == {"HCM01"}
    event = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="linkage_clusters").latest(
        "pk"
    )
    assert event.actor_id == world.users["facility_hcm"].pk and event.detail["rows"] == 4


def test_the_run_verb_prints_its_figures_and_refuses_spark_without_java(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dao_twice(world)
    out = io.StringIO()
    call_command("linkage", "run", "--json", stdout=out)
    figures = json.loads(out.getvalue())
    assert figures["persons"] == 6 and figures["opened"] == 1 and figures["pairs_suspected"] == 1
    monkeypatch.setenv("PATH", "")  # no java to be found (nor pyspark, where it is not installed)
    with pytest.raises(CommandError, match="The Spark engine cannot run here: (no Java|pyspark)"):
        call_command("linkage", "run", "--engine", "spark", stdout=io.StringIO())
