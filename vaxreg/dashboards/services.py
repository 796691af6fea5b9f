"""Keeping the figures of every unit current (SPEC §9): marks written by the writes, recounts that follow.

A write tells ``core.touched`` what it changed; ``units_mark_stale`` (its listener) writes a mark per unit in
the writer's transaction, and once that commits one recount is queued for the worker (``rollups_refresh``;
the periodic job every minute takes whatever is left).
A recount reads only the marked units' own rows through the owning apps' selectors, writes their figures,
then adds up their commune, province and the nation from the figures already kept, so a page never counts
persons or doses. ``rollups_rebuild`` counts everything again (a repair; the worker runs it nightly).
"""

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, Sum

from vaxreg.core import clock
from vaxreg.core.locks import process_lock
from vaxreg.core.task_results import task_waiting
from vaxreg.core.touched import BaseUnits, Touched, UnitCount
from vaxreg.dashboards.figures import DERIVED, HEADLINE, SOURCES, Source, derived
from vaxreg.dashboards.models import Level, StaleUnit, UnitFigure, UnitFigureDay
from vaxreg.people.selectors import person_places
from vaxreg.places.selectors import commune_provinces, facility_ids_of_province, facility_refs

logger = logging.getLogger(__name__)

REFRESH_LOCK = "dashboards_refresh"
MARKS_PER_ROUND = 5_000
UNITS_PER_QUERY = 500  # units in one IN list: well inside every database's limit on query parameters
WRITE_BATCH = 2_000
REBUILD_WAIT_SECONDS = 120.0


# -- marking ---------------------------------------------------------------------------------------------


def units_mark_stale(touched: Touched) -> None:
    """The listener of ``core.touched``: one mark per unit the write moved, in the writer's transaction,
    and a recount queued for when it commits (one per kind of rows when the write named them)."""
    marks: set[tuple[str, str]] = set()
    if touched.everything:
        marks.add((StaleUnit.Kind.EVERYTHING, ""))
    for commune, province in person_places(touched.persons):
        marks.add(_placed_mark(commune, province))
    marks.update((StaleUnit.Kind.FACILITY, str(f)) for f in touched.facilities)
    marks.update((StaleUnit.Kind.COMMUNE, c) for c in touched.communes)
    marks.update((StaleUnit.Kind.PROVINCE, p) for p in touched.provinces)
    marks.update((StaleUnit.Kind.PROVINCE_WHOLE, p) for p in touched.provinces_whole)
    if touched.nation:
        marks.add((StaleUnit.Kind.NATION, ""))
    if not marks:
        return
    now = clock.now()
    kinds: list[str] = sorted(touched.rows) or [""]
    StaleUnit.objects.bulk_create(
        [
            StaleUnit(kind=kind, unit=unit, rows=rows, at=now)
            for kind, unit in sorted(marks)
            for rows in kinds
        ],
        batch_size=WRITE_BATCH,
    )
    transaction.on_commit(_refresh_after_commit)


def _placed_mark(commune: str | None, province: str | None) -> tuple[str, str]:
    if commune:
        return StaleUnit.Kind.COMMUNE, commune
    if province:
        return StaleUnit.Kind.PROVINCE, province
    return StaleUnit.Kind.NATION, ""


def _refresh_after_commit() -> None:
    """Queue one recount for the worker, unless one waits already (it will take these marks too).

    Never inline: a unit is recounted whole, so a write's own process would pay for the size of the units
    it touched, again for each batch of a bulk job (a scan syncs its cases 5,000 persons at a time). The
    worker takes the task within its poll interval; whatever is left, its minute job takes."""
    from vaxreg.dashboards.tasks import rollups_refresh_task

    if not StaleUnit.objects.exists() or task_waiting(rollups_refresh_task.module_path):
        return
    rollups_refresh_task.enqueue()


# -- recounting ------------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    rounds: int = 0
    marks: int = 0
    facilities: int = 0
    communes: int = 0
    provinces: int = 0
    in_part: int = 0  # base units counted again from some kinds of rows only
    rebuilt: bool = False
    seconds: float = 0.0


# (level, unit) of a base unit: a facility, a commune's, a province's, the nation's own
_BaseKey = tuple[str, str]


@dataclass
class _Stale:
    """The units one round recounts, each whole or from some kinds of rows only (``rows_of``)."""

    communes: set[str] = field(default_factory=set)
    facilities: set[int] = field(default_factory=set)
    provinces: set[str] = field(default_factory=set)  # their own records
    nation: bool = False
    everything: bool = False
    rows_of: dict[_BaseKey, set[str]] = field(default_factory=dict)  # a unit not here: whole
    _whole: set[_BaseKey] = field(default_factory=set)

    @classmethod
    def of(cls, marks: Iterable[tuple[str, str, str]]) -> "_Stale":
        stale = cls()
        for kind, unit, rows in marks:
            if kind == StaleUnit.Kind.EVERYTHING:
                stale.everything = True
            elif kind == StaleUnit.Kind.COMMUNE:
                stale.communes.add(unit)
                stale._note((Level.COMMUNE_OWN, unit), rows)
            elif kind == StaleUnit.Kind.FACILITY:
                stale.facilities.add(int(unit))
                stale._note((Level.FACILITY, str(int(unit))), rows)
            elif kind == StaleUnit.Kind.PROVINCE:
                stale.provinces.add(unit)
                stale._note((Level.PROVINCE_OWN, unit), rows)
            elif kind == StaleUnit.Kind.PROVINCE_WHOLE:
                stale.provinces.add(unit)
                stale._note((Level.PROVINCE_OWN, unit), rows)
                communes = [c for c, p in commune_provinces().items() if p == unit]
                facilities = facility_ids_of_province(unit)
                stale.communes.update(communes)
                stale.facilities.update(facilities)
                for commune in communes:
                    stale._note((Level.COMMUNE_OWN, commune), rows)
                for facility in facilities:
                    stale._note((Level.FACILITY, str(facility)), rows)
            elif kind == StaleUnit.Kind.NATION:
                stale.nation = True
                stale._note((Level.NATION_OWN, ""), rows)
        return stale

    def _note(self, key: _BaseKey, rows: str) -> None:
        """A mark naming no kind of rows makes its unit whole; one naming a kind adds it, unless whole."""
        if key in self._whole:
            return
        if not rows:
            self._whole.add(key)
            self.rows_of.pop(key, None)
        else:
            self.rows_of.setdefault(key, set()).add(rows)


def rollups_refresh() -> RefreshResult | None:
    """Recount the marked units until no mark is left; None when another process is recounting (it goes
    round again for any mark committed meanwhile)."""
    started = time.monotonic()
    with process_lock(REFRESH_LOCK) as held:
        if not held:
            return None
        result = RefreshResult()
        while True:
            marks = list(
                StaleUnit.objects.order_by("pk").values_list("pk", "kind", "unit", "rows")[:MARKS_PER_ROUND]
            )
            if not marks:
                break
            stale = _Stale.of((kind, unit, rows) for _, kind, unit, rows in marks)
            with transaction.atomic():
                if stale.everything:
                    _rebuild()
                    result.rebuilt = True
                else:
                    _recount(stale, result)
                ids = [pk for pk, *_ in marks]
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


def _chunks(values: Iterable[object]) -> Iterator[list]:  # type: ignore[type-arg]
    items = sorted(values)  # type: ignore[type-var]
    for start in range(0, len(items), UNITS_PER_QUERY):
        yield items[start : start + UNITS_PER_QUERY]


# (level, unit) → {(figure, key): value}
_Counted = dict[tuple[str, str], dict[tuple[str, str], int]]


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


def _base_counts(
    units: BaseUnits, sources: Iterable[Source] = SOURCES
) -> tuple[_Counted, set[int], set[str]]:
    """The own figures of these base units, from these sources (every one by default): (counts, facilities
    seen, communes seen)."""
    counted: _Counted = defaultdict(dict)
    facilities: set[int] = set()
    communes: set[str] = set()
    for source in sources:
        for row in source.rows(units):
            if row[2] not in source.figures:  # a recount of its rows alone would keep a stale one
                raise ValueError(f"{type(source).__name__} gives {row[2]!r}, not among its figures")
            level, unit = _base_unit(source.placed_by, row)
            if level == Level.FACILITY:
                facilities.add(int(unit))
            elif level == Level.COMMUNE_OWN:
                communes.add(unit)
            figures = counted[(level, unit)]
            figure_key = (row[2], row[3])
            figures[figure_key] = figures.get(figure_key, 0) + int(row[4])
    return counted, facilities, communes


def _base_unit(placed_by: str, row: UnitCount) -> tuple[str, str]:
    place, province = row[0], row[1]
    if place is not None:
        return (Level.FACILITY if placed_by == "facility" else Level.COMMUNE_OWN), str(place)
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
    elif level == Level.PROVINCE_OWN:
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
    places.learn(stale.facilities, stale.communes)
    base_levels: dict[str, set[str]] = {
        Level.FACILITY: {str(f) for f in stale.facilities},
        Level.COMMUNE_OWN: set(stale.communes),
        Level.PROVINCE_OWN: set(stale.provinces),
        Level.NATION_OWN: {""} if stale.nation else set(),
    }
    # The units counted whole, then those to count from the same kinds of rows only, each group in turn.
    groups: dict[frozenset[str] | None, set[_BaseKey]] = defaultdict(set)
    for level, units_of_level in base_levels.items():
        for unit in units_of_level:
            named = stale.rows_of.get((level, unit))
            groups[frozenset(named) if named else None].add((level, unit))
    counted: _Counted = defaultdict(dict)
    for kinds, keys in groups.items():
        sources = SOURCES if kinds is None else [s for s in SOURCES if s.rows_of in kinds]
        for key, figures in _group_counts(keys, sources).items():
            counted[key].update(figures)
        if kinds is not None:
            _kept_add(counted, keys, sources)
            result.in_part += len(keys)
    for level, units_of_level in base_levels.items():
        rows_of_level = [
            row
            for unit in sorted(units_of_level)
            for row in _base_rows(level, unit, counted.get((level, unit), {}), places)
        ]
        _replace(level, units_of_level, rows_of_level)
    # Then the totals above them: the communes (own + facilities), their provinces, the nation.
    total_communes = set(stale.communes) | {
        places.facilities[f][1] for f in stale.facilities if f in places.facilities
    }
    places.learn((), total_communes)
    total_provinces = set(stale.provinces) | {
        places.communes[c] for c in total_communes if c in places.communes
    }
    _totals_write(communes=total_communes, provinces=total_provinces)
    result.facilities += len(stale.facilities)
    result.communes += len(total_communes)
    result.provinces += len(total_provinces)


def _group_counts(keys: set[_BaseKey], sources: Sequence[Source]) -> _Counted:
    """The own figures of these base units from these sources: communes and facilities in chunks, each chunk
    one query per source; the provinces' and the nation's own records with the first chunk."""
    communes = sorted(unit for level, unit in keys if level == Level.COMMUNE_OWN)
    facilities = sorted(int(unit) for level, unit in keys if level == Level.FACILITY)
    provinces = frozenset(unit for level, unit in keys if level == Level.PROVINCE_OWN)
    nation = (Level.NATION_OWN, "") in keys
    counted: _Counted = defaultdict(dict)
    rounds = max(1, -(-max(len(communes), len(facilities)) // UNITS_PER_QUERY))
    for i in range(rounds):
        part = slice(i * UNITS_PER_QUERY, (i + 1) * UNITS_PER_QUERY)
        units = BaseUnits(
            communes=frozenset(communes[part]),
            facilities=frozenset(facilities[part]),
            provinces=provinces if i == 0 else frozenset(),
            nation=nation and i == 0,
        )
        more, _, _ = _base_counts(units, sources)
        for key, figures in more.items():
            counted[key].update(figures)
    return counted


def _kept_add(counted: _Counted, keys: set[_BaseKey], recounted: Sequence[Source]) -> None:
    """Beside the figures counted again from some sources, the units' kept figures of the others (what
    ``derived`` makes is made again)."""
    replaced = DERIVED.union(*(source.figures for source in recounted))
    by_level: dict[str, list[str]] = defaultdict(list)
    for level, unit in keys:
        by_level[level].append(unit)
    for level, units in by_level.items():
        for chunk in _chunks(units):
            kept = (
                UnitFigure.objects.filter(level=level, unit__in=chunk)
                .exclude(figure__in=sorted(replaced))
                .values_list("unit", "figure", "key", "value")
            )
            for unit, figure, key, value in kept:
                counted[(level, unit)][(figure, key)] = value


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
        UnitFigure.objects.filter(province_filter, level__in=[Level.COMMUNE, Level.PROVINCE_OWN])
        .values("province", "figure", "key")
        .annotate(total=Sum("value"))
        .order_by()
    )
    by_province: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for pr in province_rows:
        by_province[pr["province"]][(pr["figure"], pr["key"])] = int(pr["total"])
    _level_store(Level.PROVINCE, by_province, units=provinces, place=lambda p: (p, ""), day=today)

    nation_rows = (
        UnitFigure.objects.filter(level__in=[Level.PROVINCE, Level.NATION_OWN])
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
    counted, facilities, communes = _base_counts(BaseUnits(everything=True))
    places = _Places()
    places.learn(facilities, communes)
    UnitFigure.objects.all().delete()
    rows = [
        row
        for (level, unit), figures in sorted(counted.items())
        for row in _base_rows(level, unit, figures, places)
    ]
    UnitFigure.objects.bulk_create(rows, batch_size=WRITE_BATCH)
    _totals_write(communes=None, provinces=None)
