"""Reads of the kept figures, always inside the reader's unit (SPEC §2): a user reads its own unit's
dashboard and those of the units below it, never one beside or above it.

A unit is named by one key, the same in the page's address and the API's: ``VN`` for the nation, a 2-digit
province code, a 5-digit commune code, ``facility-<code>`` for a facility.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404

from vaxreg.core import clock
from vaxreg.core.jurisdiction import Scope, jurisdiction_of
from vaxreg.dashboards.figures import HEADLINE
from vaxreg.dashboards.models import Level, UnitFigure, UnitFigureDay
from vaxreg.places.models import Commune, Province
from vaxreg.places.selectors import (
    commune_get,
    communes_named,
    facilities_named,
    facility_code_of,
    facility_get_by_code,
    province_get,
    provinces_named,
)

NATION_KEY = "VN"
FACILITY_PREFIX = "facility-"


@dataclass(frozen=True)
class Unit:
    """A unit a dashboard is about: its level, its code (a facility's is its code, its ``unit`` its id),
    its name and the units above it (for the breadcrumb)."""

    level: str  # nation, province, commune, facility
    code: str
    name: str
    stored: str  # the ``unit`` of its kept rows: "" for the nation, a code, a facility's id
    province: str = ""
    commune: str = ""
    parents: tuple["Unit", ...] = ()

    @property
    def key(self) -> str:
        if self.level == Level.NATION:
            return NATION_KEY
        if self.level == Level.FACILITY:
            return f"{FACILITY_PREFIX}{self.code}"
        return self.code

    @property
    def child_level(self) -> str | None:
        below: dict[str, str] = {
            Level.NATION: Level.PROVINCE,
            Level.PROVINCE: Level.COMMUNE,
            Level.COMMUNE: Level.FACILITY,
        }
        return below.get(self.level)


class UnitNotVisible(Http404):
    """The unit does not exist or lies outside the reader's: both look the same."""


def _nation() -> Unit:
    return Unit(level=Level.NATION, code=NATION_KEY, name="Việt Nam", stored="")


def _unit_of_key(key: str) -> Unit:
    """The unit a key names, with its parents; ``UnitNotVisible`` when there is none."""
    nation = _nation()
    if key == NATION_KEY:
        return nation
    if key.startswith(FACILITY_PREFIX):
        facility = facility_get_by_code(key.removeprefix(FACILITY_PREFIX))
        if facility is None:
            raise UnitNotVisible
        province = _province_unit(facility.province, nation)
        commune = _commune_unit(facility.commune, province)
        return Unit(
            level=Level.FACILITY,
            code=facility.code,
            name=facility.name,
            stored=str(facility.pk),
            province=facility.province_id,
            commune=facility.commune_id,
            parents=(*commune.parents, commune),
        )
    if len(key) == 2 and key.isdigit():
        found = province_get(key)
        if found is None:
            raise UnitNotVisible
        return _province_unit(found, nation)
    if len(key) == 5 and key.isdigit():
        found_commune = commune_get(key)
        if found_commune is None:
            raise UnitNotVisible
        return _commune_unit(found_commune, _province_unit(found_commune.province, nation))
    raise UnitNotVisible


def _province_unit(province: Province, nation: Unit) -> Unit:
    return Unit(
        level=Level.PROVINCE,
        code=province.pk,
        name=province.name,
        stored=province.pk,
        province=province.pk,
        parents=(nation,),
    )


def _commune_unit(commune: Commune, province: Unit) -> Unit:
    return Unit(
        level=Level.COMMUNE,
        code=commune.pk,
        name=commune.name,
        stored=commune.pk,
        province=commune.province_id,
        commune=commune.pk,
        parents=(*province.parents, province),
    )


def unit_within(user: Any, unit: Unit) -> bool:
    """Whether the unit is the user's own or lies below it."""
    j = jurisdiction_of(user)
    if j.scope is Scope.ALL:
        return True
    if j.scope is Scope.PROVINCE:
        return unit.level != Level.NATION and unit.province == j.province_code
    if j.scope is Scope.COMMUNE:
        return unit.level in (Level.COMMUNE, Level.FACILITY) and unit.commune == j.commune_code
    if j.scope is Scope.FACILITY:
        return unit.level == Level.FACILITY and unit.stored == str(j.facility_id)
    return False


def home_unit_key(user: Any) -> str | None:
    """The key of the unit the user answers for (where ``/dashboards/`` takes it)."""
    j = jurisdiction_of(user)
    if j.scope is Scope.ALL:
        return NATION_KEY
    if j.scope is Scope.PROVINCE:
        return j.province_code
    if j.scope is Scope.COMMUNE:
        return j.commune_code
    if j.scope is Scope.FACILITY:
        code = facility_code_of(j.facility_id)
        return f"{FACILITY_PREFIX}{code}" if code else None
    return None


def access_unit_by_key(*, user: Any, key: str) -> Unit:
    """The unit, if the user may read it; otherwise ``UnitNotVisible`` (a 404, as for a unit that does not
    exist: a user learns nothing about units outside its own)."""
    unit = _unit_of_key(key)
    if not unit_within(user, unit):
        raise UnitNotVisible
    return unit


# -- the figures -----------------------------------------------------------------------------------------


@dataclass
class Figures:
    """A unit's kept figures: ``value(figure)`` for a keyless one, ``by_key(figure)`` for the others."""

    values: dict[str, dict[str, int]] = field(default_factory=dict)

    def value(self, figure: str) -> int:
        return self.values.get(figure, {}).get("", 0)

    def by_key(self, figure: str) -> dict[str, int]:
        return dict(sorted(self.values.get(figure, {}).items()))

    def share(self, part: str, whole: str = "persons") -> float | None:
        total = self.value(whole)
        return self.value(part) / total if total else None


def unit_figures(unit: Unit) -> Figures:
    """Every figure kept for the unit (its total: what lies below it included)."""
    figures = Figures()
    rows = UnitFigure.objects.filter(level=unit.level, unit=unit.stored).values_list("figure", "key", "value")
    for figure, key, value in rows:
        figures.values.setdefault(figure, {})[key] = value
    return figures


@dataclass(frozen=True)
class ChildRow:
    """One unit below: its headline figures, and the key of its own dashboard (None: the records placed in
    no unit below, which have no dashboard of their own)."""

    key: str | None
    code: str
    name: str
    figures: Figures


def unit_children(unit: Unit) -> list[ChildRow]:
    """The units right below this one with their headline figures, and the records placed in none of them
    (persons with no commune of residence, what a health department handles itself) as a row of its own."""
    level = unit.child_level
    if level is None:
        return []
    wanted = [*HEADLINE, "dose_days", "signed_days"]
    if level == Level.FACILITY:
        rows = UnitFigure.objects.filter(level=level, commune=unit.commune, figure__in=wanted, key="")
    elif level == Level.COMMUNE:
        rows = UnitFigure.objects.filter(level=level, province=unit.province, figure__in=wanted, key="")
    else:
        rows = UnitFigure.objects.filter(level=level, figure__in=wanted, key="")
    values: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for child, figure, value in rows.values_list("unit", "figure", "value"):
        values[child][figure] = {"": value}
    own_levels: dict[str, str] = {Level.PROVINCE: Level.NATION_OWN, Level.COMMUNE: Level.PROVINCE_OWN}
    own_level = own_levels.get(level)
    own = {}
    if own_level:
        own_rows = UnitFigure.objects.filter(level=own_level, unit=unit.stored, figure__in=wanted, key="")
        own = {figure: {"": value} for figure, value in own_rows.values_list("figure", "value")}
    children: list[ChildRow] = []
    if level == Level.PROVINCE:
        for code, name in provinces_named():
            children.append(ChildRow(code, code, name, Figures(values.get(code, {}))))
    elif level == Level.COMMUNE:
        for code, name in communes_named(unit.province):
            children.append(ChildRow(code, code, name, Figures(values.get(code, {}))))
    else:
        for pk, code, name in facilities_named(unit.commune):
            children.append(
                ChildRow(f"{FACILITY_PREFIX}{code}", code, name, Figures(values.get(str(pk), {})))
            )
    if own:
        children.append(ChildRow(None, "", "", Figures(own)))
    return children


def unit_trend(unit: Unit, *, days: int = 90) -> list[tuple[dt.date, dict[str, int]]]:
    """The headline figures at the end of each of the last ``days`` days that have a row (oldest first)."""
    since = clock.today() - dt.timedelta(days=days)
    rows = UnitFigureDay.objects.filter(level=unit.level, unit=unit.stored, day__gte=since)
    by_day: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for day, figure, value in rows.values_list("day", "figure", "value"):
        by_day[day][figure] = value
    return sorted(by_day.items())
