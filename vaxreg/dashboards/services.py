"""Keeping the figures of every unit current (SPEC §9): marks written by the writes, recounts that follow.

A write tells ``core.touched`` what it changed; ``units_mark_stale`` (its listener) writes a mark per block
of persons and per unit in the writer's transaction, and once that commits one recount is queued for the
worker (``rollups_refresh``; the periodic job every minute takes whatever is left).

What is counted where persons live (persons, findings, cases) is counted per block of persons
(``PersonBlock``, ``core.touched.PERSON_BLOCK_SIZE`` consecutive ids) and place: a recount reads only
the marked blocks, takes their old figures from their communes' own figures and adds the new ones, so a
write costs what it changed, however large the communes of its persons. What is counted where it is
handled (doses, files, complaints) is recounted per marked facility or desk. Then the totals of the
communes, provinces and the nation touched are added up from the figures already kept, so a page never
counts persons or doses. ``rollups_rebuild`` counts everything again (a repair; the worker runs it nightly).
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, Sum

from vaxreg.core import clock
from vaxreg.core.locks import process_lock
from vaxreg.core.task_results import task_waiting
from vaxreg.core.touched import BaseUnits, PersonBlocks, Touched, UnitCount
from vaxreg.dashboards.figures import DERIVED, HEADLINE, PERSON_SOURCES, UNIT_SOURCES, derived
from vaxreg.dashboards.models import Level, PersonBlock, StaleUnit, UnitFigure, UnitFigureDay
from vaxreg.people.selectors import person_blocks_of_province
from vaxreg.places.selectors import commune_provinces, facility_ids_of_province, facility_refs

logger = logging.getLogger(__name__)

REFRESH_LOCK = "dashboards_refresh"
MARKS_PER_ROUND = 20_000
UNITS_PER_QUERY = 500  # units in one IN list: well inside every database's limit on query parameters
BLOCKS_PER_QUERY = 200  # id ranges OR-ed in one query: well inside SQLite's limit on expression depth
WRITE_BATCH = 2_000
REBUILD_WAIT_SECONDS = 120.0


# -- marking ---------------------------------------------------------------------------------------------


def units_mark_stale(touched: Touched) -> None:
    """The listener of ``core.touched``: one mark per block of persons and per unit the write moved, in the
    writer's transaction, and a recount queued for when it commits."""
    marks: set[tuple[str, str]] = set()
    if touched.everything:
        marks.add((StaleUnit.Kind.EVERYTHING, ""))
    marks.update((StaleUnit.Kind.BLOCK, str(b)) for b in PersonBlocks.of_persons(touched.persons))
    marks.update((StaleUnit.Kind.FACILITY, str(f)) for f in touched.facilities)
    marks.update((StaleUnit.Kind.PROVINCE, p) for p in touched.provinces)
    marks.update((StaleUnit.Kind.PROVINCE_WHOLE, p) for p in touched.provinces_whole)
    if touched.nation:
        marks.add((StaleUnit.Kind.NATION, ""))
    if not marks:
        return
    now = clock.now()
    StaleUnit.objects.bulk_create(
        [StaleUnit(kind=kind, unit=unit, at=now) for kind, unit in sorted(marks)], batch_size=WRITE_BATCH
    )
    transaction.on_commit(_refresh_after_commit)


def _refresh_after_commit() -> None:
    """Queue one recount for the worker, unless one waits already (it will take these marks too).

    Never inline: a write's own process would pay for every recount, again for each batch of a bulk job (a
    scan syncs its cases 5,000 persons at a time). The worker takes the task within its poll interval;
    whatever is left, its minute job takes."""
    from vaxreg.dashboards.tasks import rollups_refresh_task

    if not StaleUnit.objects.exists() or task_waiting(rollups_refresh_task.module_path):
        return
    rollups_refresh_task.enqueue()


# -- recounting ------------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    rounds: int = 0
    marks: int = 0
    blocks: int = 0
    facilities: int = 0
    communes: int = 0
    provinces: int = 0
    rebuilt: bool = False
    seconds: float = 0.0


@dataclass
class _Stale:
    """What one round recounts."""

    blocks: set[int] = field(default_factory=set)
    facilities: set[int] = field(default_factory=set)
    provinces: set[str] = field(default_factory=set)  # their own desks
    nation: bool = False  # its own desk
    everything: bool = False

    @classmethod
    def of(cls, marks: Iterable[tuple[str, str]]) -> "_Stale":
        stale = cls()
        for kind, unit in marks:
            if kind == StaleUnit.Kind.EVERYTHING:
                stale.everything = True
            elif kind == StaleUnit.Kind.BLOCK:
                stale.blocks.add(int(unit))
            elif kind == StaleUnit.Kind.FACILITY:
                stale.facilities.add(int(unit))
            elif kind == StaleUnit.Kind.PROVINCE:
                stale.provinces.add(unit)
            elif kind == StaleUnit.Kind.PROVINCE_WHOLE:
                stale.provinces.add(unit)
                stale.facilities.update(facility_ids_of_province(unit))
                # Its persons' blocks (one who moved away was named by the write that moved them).
                stale.blocks.update(person_blocks_of_province(unit))
            elif kind == StaleUnit.Kind.NATION:
                stale.nation = True
        return stale


def rollups_refresh() -> RefreshResult | None:
    """Recount the marked units until no mark is left; None when another process is recounting (it goes
    round again for any mark committed meanwhile)."""
    started = time.monotonic()
    with process_lock(REFRESH_LOCK) as held:
        if not held:
            return None
        result = RefreshResult()
        while True:
            marks = list(StaleUnit.objects.order_by("pk").values_list("pk", "kind", "unit")[:MARKS_PER_ROUND])
            if not marks:
                break
            stale = _Stale.of((kind, unit) for _, kind, unit in marks)
            with transaction.atomic():
                if stale.everything:
                    _rebuild()
                    result.rebuilt = True
                else:
                    _recount(stale, result)
                ids = [pk for pk, _, _ in marks]
                for start in range(0, len(ids), UNITS_PER_QUERY):
                    StaleUnit.objects.filter(pk__in=ids[start : start + UNITS_PER_QUERY]).delete()
            result.rounds += 1
            result.marks += len(marks)
    result.seconds = time.monotonic() - started
    return result


def rollups_rebuild(*, wait: float = REBUILD_WAIT_SECONDS) -> RefreshResult | None:
    """Count every unit's figures again from the records (a repair; also the nightly safety net). It takes
    the recount's lock, waiting up to ``wait`` seconds for a running recount to end; None if it did not."""
    started = time.monotonic()
    while True:
        with process_lock(REFRESH_LOCK) as held:
            if held:
                with transaction.atomic():
                    # Marks written before the rebuild started are satisfied by it.
                    ids = list(StaleUnit.objects.values_list("pk", flat=True))
                    _rebuild()
                    for start in range(0, len(ids), UNITS_PER_QUERY):
                        StaleUnit.objects.filter(pk__in=ids[start : start + UNITS_PER_QUERY]).delete()
                return RefreshResult(
                    rounds=1, marks=len(ids), rebuilt=True, seconds=time.monotonic() - started
                )
        if time.monotonic() - started > wait:
            logger.warning("dashboards rebuild: a recount held the lock for %.0f s; not rebuilt", wait)
            return None
        time.sleep(0.5)


def _chunks(values: Iterable[object], size: int = UNITS_PER_QUERY) -> Iterator[list]:  # type: ignore[type-arg]
    items = sorted(values)  # type: ignore[type-var]
    for start in range(0, len(items), size):
        yield items[start : start + size]


# (level, unit) → {(figure, key): value}
_Counted = dict[tuple[str, str], dict[tuple[str, str], int]]
# block → (province, commune) → (figure, key) → value: what ``PersonBlock`` keeps
_PlaceFigures = dict[tuple[str, str], dict[tuple[str, str], int]]
_Blocks = dict[int, _PlaceFigures]

_OWN_LEVELS = (Level.COMMUNE_OWN, Level.PROVINCE_OWN, Level.NATION_OWN)


class _Places:
    """Where a base unit lies: its province and commune, for the rows kept about it."""

    def __init__(self) -> None:
        self.facilities: dict[int, tuple[str, str]] = {}
        self.communes: dict[str, str] = {}

    def learn(self, facilities: Iterable[int], communes: Iterable[str]) -> None:
        wanted = set(facilities) - set(self.facilities)
        for ref in facility_refs(wanted).values():
            self.facilities[ref.id] = (ref.province_code, ref.commune_code)
        missing = set(communes) - set(self.communes)
        if missing:
            self.communes.update(commune_provinces(missing))


def _unit_counts(units: BaseUnits) -> _Counted:
    """The own figures of these facilities and desks, from every source counted where rows are handled."""
    counted: _Counted = defaultdict(dict)
    for source in UNIT_SOURCES:
        for row in source.rows(units):
            figures = counted[_handled_unit(row)]
            figure_key = (row[2], row[3])
            figures[figure_key] = figures.get(figure_key, 0) + int(row[4])
    return counted


def _handled_unit(row: UnitCount) -> tuple[str, str]:
    facility, province = row[0], row[1]
    if facility is not None:
        return Level.FACILITY, str(facility)
    if province:
        return Level.PROVINCE_DESK, province
    return Level.NATION_DESK, ""


def _block_counts(blocks: PersonBlocks) -> _Blocks:
    """The figures of these blocks of persons per place, from every source counted where persons live."""
    counted: _Blocks = defaultdict(lambda: defaultdict(dict))
    for source in PERSON_SOURCES:
        for block, commune, province, figure, key, value in source.rows(blocks):
            figures = counted[int(block)][(province or "", commune or "")]
            figures[(figure, key)] = figures.get((figure, key), 0) + int(value)
    return counted


def _block_encode(places: _PlaceFigures) -> dict[str, list[list[str | int]]]:
    return {
        f"{province}|{commune}": [
            [figure, key, value] for (figure, key), value in sorted(figures.items()) if value
        ]
        for (province, commune), figures in sorted(places.items())
    }


def _block_decode(stored: dict[str, list[list[str | int]]]) -> _PlaceFigures:
    places: _PlaceFigures = {}
    for place, rows in stored.items():
        province, _, commune = place.partition("|")
        places[(province, commune)] = {(str(f), str(k)): int(v) for f, k, v in rows}
    return places


def _own_unit(province: str, commune: str) -> tuple[str, str]:
    if commune:
        return Level.COMMUNE_OWN, commune
    if province:
        return Level.PROVINCE_OWN, province
    return Level.NATION_OWN, ""


def _base_rows(
    level: str, unit: str, figures: dict[tuple[str, str], int], places: _Places
) -> list[UnitFigure]:
    province, commune = "", ""
    if level == Level.FACILITY:
        province, commune = places.facilities.get(int(unit), ("", ""))
    elif level == Level.COMMUNE_OWN:
        province, commune = places.communes.get(unit, ""), unit
    elif level in (Level.PROVINCE_OWN, Level.PROVINCE_DESK):
        province = unit
    values = figures | derived(figures)
    return [
        UnitFigure(level=level, unit=unit, province=province, commune=commune, figure=f, key=k, value=v)
        for (f, k), v in sorted(values.items())
        if v
    ]


def _replace(level: str, units: Iterable[str], rows: list[UnitFigure]) -> None:
    for chunk in _chunks(units):
        UnitFigure.objects.filter(level=level, unit__in=chunk).delete()
    UnitFigure.objects.bulk_create(rows, batch_size=WRITE_BATCH)


def _recount(stale: _Stale, result: RefreshResult) -> None:
    places = _Places()
    places.learn(stale.facilities, ())
    handled_levels: dict[str, set[str]] = {
        Level.FACILITY: {str(f) for f in stale.facilities},
        Level.PROVINCE_DESK: set(stale.provinces),
        Level.NATION_DESK: {""} if stale.nation else set(),
    }
    counted: _Counted = defaultdict(dict)
    # Facilities in chunks, each chunk one query per source; the desks with the first chunk.
    facilities = sorted(stale.facilities)
    for i in range(max(1, -(-len(facilities) // UNITS_PER_QUERY))):
        units = BaseUnits(
            facilities=frozenset(facilities[i * UNITS_PER_QUERY : (i + 1) * UNITS_PER_QUERY]),
            provinces=frozenset(stale.provinces) if i == 0 else frozenset(),
            nation=stale.nation and i == 0,
        )
        for key, figures in _unit_counts(units).items():
            counted[key].update(figures)
    for level, units_of_level in handled_levels.items():
        rows = [
            row
            for unit in sorted(units_of_level)
            for row in _base_rows(level, unit, counted.get((level, unit), {}), places)
        ]
        _replace(level, units_of_level, rows)
    own_moved = _blocks_recount(stale.blocks, places)
    # Then the totals above them: the communes (own + facilities), their provinces, the nation.
    total_communes = {unit for level, unit in own_moved if level == Level.COMMUNE_OWN} | {
        places.facilities[f][1] for f in stale.facilities if f in places.facilities
    }
    total_communes.discard("")
    places.learn((), total_communes)
    total_provinces = (
        set(stale.provinces)
        | {unit for level, unit in own_moved if level == Level.PROVINCE_OWN}
        | {places.communes[c] for c in total_communes if c in places.communes}
    )
    total_provinces.discard("")
    _totals_write(communes=total_communes, provinces=total_provinces)
    result.blocks += len(stale.blocks)
    result.facilities += len(stale.facilities)
    result.communes += len(total_communes)
    result.provinces += len(total_provinces)


def _blocks_recount(blocks: set[int], places: _Places) -> set[tuple[str, str]]:
    """Count these blocks of persons again and move the difference into their places' own figures; the
    (level, unit) of each own figure that moved."""
    moved: _Counted = defaultdict(dict)
    for chunk in _chunks(blocks, BLOCKS_PER_QUERY):
        new = _block_counts(PersonBlocks(blocks=frozenset(chunk)))
        stored = PersonBlock.objects.filter(block__in=chunk).values_list("block", "figures")
        kept = {block: _block_decode(figures) for block, figures in stored}
        for block in chunk:
            new_places, kept_places = new.get(block, {}), kept.get(block, {})
            for place in new_places.keys() | kept_places.keys():
                now, before = new_places.get(place, {}), kept_places.get(place, {})
                for figure_key in now.keys() | before.keys():
                    difference = now.get(figure_key, 0) - before.get(figure_key, 0)
                    if difference:
                        figures = moved[_own_unit(*place)]
                        figures[figure_key] = figures.get(figure_key, 0) + difference
        PersonBlock.objects.filter(block__in=chunk).delete()
        PersonBlock.objects.bulk_create(
            [PersonBlock(block=b, figures=_block_encode(new[b])) for b in sorted(new)], batch_size=WRITE_BATCH
        )
    changed = {unit for unit, difference in moved.items() if any(difference.values())}
    places.learn((), {unit for level, unit in changed if level == Level.COMMUNE_OWN})
    for level in _OWN_LEVELS:
        units = sorted(unit for lvl, unit in changed if lvl == level)
        counts = _kept_counts(level, units)
        rows: list[UnitFigure] = []
        for unit in units:
            figures = counts.get(unit, {})
            for figure_key, difference in moved[(level, unit)].items():
                figures[figure_key] = figures.get(figure_key, 0) + difference
            if any(v < 0 for v in figures.values()):
                logger.error("dashboards: %s %s counted below zero; a rebuild will repair it", level, unit)
            rows += _base_rows(level, unit, {k: v for k, v in figures.items() if v}, places)
        _replace(level, units, rows)
    return changed


def _kept_counts(level: str, units: list[str]) -> dict[str, dict[tuple[str, str], int]]:
    """The counted (not derived) figures kept for these units of a level."""
    kept: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for chunk in _chunks(units):
        rows = UnitFigure.objects.filter(level=level, unit__in=chunk).exclude(figure__in=DERIVED)
        for unit, figure, key, value in rows.values_list("unit", "figure", "key", "value"):
            kept[unit][(figure, key)] = value
    return kept


def _totals_write(*, communes: set[str] | None, provinces: set[str] | None) -> None:
    """Add up the totals of these communes and provinces (None: all of them) and of the nation."""
    today = clock.today()
    commune_filter = Q() if communes is None else Q(pk__in=[])
    if communes is not None:
        for chunk in _chunks(communes):
            commune_filter |= Q(commune__in=chunk)
    commune_rows = (
        UnitFigure.objects.filter(commune_filter, level__in=[Level.COMMUNE_OWN, Level.FACILITY])
        .values("province", "commune", "figure", "key")
        .annotate(total=Sum("value"))
        .order_by()
    )
    by_commune: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    province_of: dict[str, str] = {}
    for r in commune_rows:
        figures = by_commune[r["commune"]]
        figures[(r["figure"], r["key"])] = figures.get((r["figure"], r["key"]), 0) + int(r["total"])
        province_of[r["commune"]] = r["province"]
    _level_store(
        Level.COMMUNE, by_commune, units=communes, place=lambda c: (province_of.get(c, ""), c), day=today
    )

    province_filter = Q() if provinces is None else Q(province__in=sorted(provinces))
    province_rows = (
        UnitFigure.objects.filter(
            province_filter, level__in=[Level.COMMUNE, Level.PROVINCE_OWN, Level.PROVINCE_DESK]
        )
        .values("province", "figure", "key")
        .annotate(total=Sum("value"))
        .order_by()
    )
    by_province: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for pr in province_rows:
        by_province[pr["province"]][(pr["figure"], pr["key"])] = int(pr["total"])
    _level_store(Level.PROVINCE, by_province, units=provinces, place=lambda p: (p, ""), day=today)

    nation_rows = (
        UnitFigure.objects.filter(level__in=[Level.PROVINCE, Level.NATION_OWN, Level.NATION_DESK])
        .values("figure", "key")
        .annotate(total=Sum("value"))
        .order_by()
    )
    nation = {(r["figure"], r["key"]): int(r["total"]) for r in nation_rows}
    _level_store(Level.NATION, {"": nation}, units={""}, place=lambda _: ("", ""), day=today)


def _level_store(
    level: str,
    figures_of: dict[str, dict[tuple[str, str], int]],
    *,
    units: set[str] | None,
    place: Callable[[str], tuple[str, str]],
    day: dt.date,
) -> None:
    """Keep these units' totals (None: every unit of the level, and no other) and today's row of each."""
    targets = set(figures_of) if units is None else units
    rows = [
        UnitFigure(level=level, unit=u, province=place(u)[0], commune=place(u)[1], figure=f, key=k, value=v)
        for u in sorted(targets)
        for (f, k), v in sorted(figures_of.get(u, {}).items())
        if v
    ]
    if units is None:
        UnitFigure.objects.filter(level=level).delete()
        UnitFigure.objects.bulk_create(rows, batch_size=WRITE_BATCH)
    else:
        _replace(level, targets, rows)
    _days_write(level, {u: figures_of.get(u, {}) for u in targets}, day)


def _days_write(level: str, figures_of: dict[str, dict[tuple[str, str], int]], day: dt.date) -> None:
    """Today's row of the headline figures of these units (the past days stay as they were)."""
    units = sorted(figures_of)
    for chunk in _chunks(units):
        UnitFigureDay.objects.filter(level=level, day=day, unit__in=chunk).delete()
    UnitFigureDay.objects.bulk_create(
        [
            UnitFigureDay(
                day=day, level=level, unit=unit, figure=figure, value=figures_of[unit].get((figure, ""), 0)
            )
            for unit in units
            for figure in HEADLINE
        ],
        batch_size=WRITE_BATCH,
    )


def _rebuild() -> None:
    handled = _unit_counts(BaseUnits(everything=True))
    blocks = _block_counts(PersonBlocks(everything=True))
    own: _Counted = defaultdict(dict)
    for block_places in blocks.values():
        for (province, commune), block_figures in block_places.items():
            figures = own[_own_unit(province, commune)]
            for figure_key, value in block_figures.items():
                figures[figure_key] = figures.get(figure_key, 0) + value
    places = _Places()
    places.learn(
        (int(unit) for level, unit in handled if level == Level.FACILITY),
        (unit for level, unit in own if level == Level.COMMUNE_OWN),
    )
    UnitFigure.objects.all().delete()
    PersonBlock.objects.all().delete()
    rows = [
        row
        for (level, unit), figures in sorted((handled | own).items())
        for row in _base_rows(level, unit, figures, places)
    ]
    UnitFigure.objects.bulk_create(rows, batch_size=WRITE_BATCH)
    PersonBlock.objects.bulk_create(
        [PersonBlock(block=b, figures=_block_encode(f)) for b, f in sorted(blocks.items())],
        batch_size=WRITE_BATCH,
    )
    _totals_write(communes=None, provinces=None)
