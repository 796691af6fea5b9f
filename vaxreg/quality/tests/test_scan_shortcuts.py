"""The scan's shortcuts find exactly what every rule finds, in one process or on forked workers."""

import os
from pathlib import Path
from typing import Any

import pytest

from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.people.models import Person
from vaxreg.places.services import facilities_generate
from vaxreg.quality import services
from vaxreg.quality.models import Finding
from vaxreg.quality.rules import person_evaluate, person_evaluate_every_rule
from vaxreg.quality.services import (
    ScanProgress,
    _doses_read,
    _persons_read,
    _Rows,
    parameters_load,
    quality_scan,
)
from vaxreg.synth.defects import DefectRates
from vaxreg.synth.services import synth_write


def _import_defects(tmp_path: Path) -> None:
    facilities_generate(province_code="46")
    out = tmp_path / "defects.csv"
    # Every defect a few times over, so that each rule's shortcut meets persons it must not skip.
    synth_write(
        out=out, persons=1500, province_code="46", seed=11, rates=DefectRates.uniform(0.04), parallel=False
    )
    import_batch_run(batch_id=import_batch_create(file_name=out.name, path=out).pk)


def _open_findings() -> set[tuple[Any, ...]]:
    return {(f.person_id, f.dose_id, f.code, f.message_en) for f in Finding.objects.filter(is_open=True)}


@pytest.mark.django_db
def test_the_scan_shortcuts_give_what_every_rule_gives(reference_data: Any, tmp_path: Path) -> None:
    _import_defects(tmp_path)
    params = parameters_load()
    persons = _persons_read(_Rows("id > %s", (0,)), "ORDER BY id")
    doses = _doses_read(_Rows("person_id > %s", (0,)))
    assert len(persons) >= 1500
    fired: set[str] = set()
    for p in persons:
        expected = person_evaluate_every_rule(p, doses.get(p.id, []), params)
        assert person_evaluate(p, doses.get(p.id, []), params) == expected, p
        fired.update(draft.code for draft in expected)
    assert len(fired) >= 20  # nearly every rule had something to find


@pytest.mark.django_db(transaction=True)
def test_a_scan_on_forked_workers_finds_what_one_process_finds(
    reference_data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not services._scan_can_fork():
        pytest.skip("the forked workers cannot reach an in-memory SQLite database")
    _import_defects(tmp_path)
    monkeypatch.setattr(services, "SCAN_PARALLEL_MIN_PERSONS", 0)
    Finding.objects.all().delete()  # the import checked its persons already: start from nothing
    seen: list[ScanProgress] = []
    parallel = quality_scan(workers=2, batch_size=200, progress=seen.append)
    found = _open_findings()
    assert len(found) > 300
    # Progress comes batch by batch in id order: each id reported is a safe point to resume after.
    assert [p.last_id for p in seen] == sorted(p.last_id for p in seen)
    assert seen[-1].last_id == Person.objects.order_by("-id").values_list("id", flat=True).first()
    assert seen[-1].persons_done == seen[-1].persons_total == Person.objects.count()

    Finding.objects.all().delete()
    serial = quality_scan(workers=1, batch_size=200)
    assert _open_findings() == found
    assert parallel == serial

    # A change since the last scan: the workers see it, and the parent writes it.
    changed = list(Person.objects.filter(gender="F", id_type="CCCD").values_list("id", flat=True)[:25])
    Person.objects.filter(id__in=changed).update(gender="M")
    again = quality_scan(workers=2, batch_size=200)
    assert again.opened["ID_GENDER_MISMATCH"] + again.closed["ID_GENDER_MISMATCH"] == len(changed) == 25
    assert sum(again.opened.values()) + sum(again.closed.values()) == len(changed)
    check = quality_scan(workers=1, batch_size=200)  # one process finds nothing left to do
    assert sum(check.opened.values()) + sum(check.closed.values()) == 0


def _filter_lost_on_fourth_batch(task: tuple[int, int, int]) -> Any:
    """A worker that dies, as a crash would, on the fourth batch of the scan."""
    if task[0] == _filter_lost_on_fourth_batch.after_id:  # type: ignore[attr-defined]
        os._exit(70)
    return _scan_filter_itself(task)


_scan_filter_itself = services._scan_filter


@pytest.mark.django_db(transaction=True)
def test_a_scan_whose_worker_is_lost_is_finished_by_the_parent(
    reference_data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not services._scan_can_fork():
        pytest.skip("the forked workers cannot reach an in-memory SQLite database")
    _import_defects(tmp_path)
    Finding.objects.all().delete()
    serial = quality_scan(workers=1, batch_size=200)
    found = _open_findings()

    Finding.objects.all().delete()
    monkeypatch.setattr(services, "SCAN_PARALLEL_MIN_PERSONS", 0)
    ranges = services._scan_ranges(after_id=0, batch_size=200, province_code=None)
    _filter_lost_on_fourth_batch.after_id = ranges[3][0]  # type: ignore[attr-defined]
    monkeypatch.setattr(services, "_scan_filter", _filter_lost_on_fourth_batch)
    seen: list[ScanProgress] = []
    lost = quality_scan(workers=2, batch_size=200, progress=seen.append)
    assert _open_findings() == found
    assert lost == serial
    assert [p.last_id for p in seen] == sorted(p.last_id for p in seen)
    assert seen[-1].persons_done == seen[-1].persons_total == Person.objects.count()
