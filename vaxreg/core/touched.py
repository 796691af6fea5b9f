"""Which units' figures a write changed: the one notice every room that writes sends, inside its
transaction, and the rooms that keep figures per unit (the dashboards' rollups) hear.

A writer names what it changed in the terms it knows (persons, facilities, communes, provinces); it does not
know who keeps figures, and core does not know the rooms above it, so the listeners register here in their
``AppConfig.ready``, as with the other hooks. Naming too much costs a recount of a unit; naming too little
leaves a figure stale until the nightly rebuild, so a writer names every unit whose counts it may have
moved, also the one a record left (a person's old commune, a complaint's old handler).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q


class Rows(StrEnum):
    """The kinds of rows a unit's figures are counted from. A writer that knows it changed only some (a
    re-check changes findings, a case sync cases) names them, and only those are counted again."""

    PERSONS = "persons"
    FINDINGS = "findings"
    CASES = "cases"
    DOSES = "doses"
    IMPORTS = "imports"
    COMPLAINTS = "complaints"


@dataclass(frozen=True)
class Touched:
    """What one write changed. ``everything``: so much (a national scan) that only a rebuild will do."""

    persons: frozenset[int] = frozenset()
    facilities: frozenset[int] = frozenset()
    communes: frozenset[str] = frozenset()
    provinces: frozenset[str] = frozenset()  # the province's own records (no commune, its own desk)
    provinces_whole: frozenset[str] = frozenset()  # every commune and facility of the province
    nation: bool = False  # the nation's own records (a file sent for the whole country)
    everything: bool = False
    rows: frozenset[Rows] = frozenset()  # in those units, only these kinds of rows changed; empty: any

    @property
    def empty(self) -> bool:
        return not (
            self.persons
            or self.facilities
            or self.communes
            or self.provinces
            or self.provinces_whole
            or self.nation
            or self.everything
        )


Listener = Callable[[Touched], None]

_listeners: list[tuple[str, Listener]] = []


def touched_listen(name: str, listener: Listener) -> None:
    """Register once per name (a second ``ready`` call changes nothing)."""
    if all(existing != name for existing, _ in _listeners):
        _listeners.append((name, listener))


def _ids(values: Iterable[int | None]) -> frozenset[int]:
    return frozenset(v for v in values if v is not None)


def _codes(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(v for v in values if v)


def figures_touched(
    *,
    persons: Iterable[int | None] = (),
    facilities: Iterable[int | None] = (),
    communes: Iterable[str | None] = (),
    provinces: Iterable[str | None] = (),
    provinces_whole: Iterable[str | None] = (),
    nation: bool = False,
    everything: bool = False,
    rows: Iterable[Rows] = (),
) -> None:
    """Tell the listeners what this write changed (``None`` and empty values are left out); ``rows``: the
    only kinds of rows it changed in those units, when it knows (else any)."""
    touched = Touched(
        persons=_ids(persons),
        facilities=_ids(facilities),
        communes=_codes(communes),
        provinces=_codes(provinces),
        provinces_whole=_codes(provinces_whole),
        nation=nation,
        everything=everything,
        rows=frozenset(rows),
    )
    if touched.empty:
        return
    for _, listener in _listeners:
        listener(touched)


@dataclass(frozen=True)
class BaseUnits:
    """The units whose own figures a recount reads, in the terms of the rows counted.

    Persons and their findings and cases are placed by their commune (else their province's own, else the
    nation's own); doses, files, sign-offs and complaints by the facility (else the province's own desk,
    else the nation's). ``everything``: every unit at once (a rebuild), with no filter at all.
    """

    communes: frozenset[str] = frozenset()
    facilities: frozenset[int] = frozenset()
    provinces: frozenset[str] = frozenset()  # the provinces' own records
    nation: bool = False  # the nation's own records
    everything: bool = False

    def placed_q(self, commune: str, province: str) -> Q:
        """Rows placed by ``commune`` (else ``province``, else nowhere) inside these units."""
        if self.everything:
            return Q()
        q = Q(pk__in=[])
        if self.communes:
            q |= Q(**{f"{commune}__in": sorted(self.communes)})
        if self.provinces:
            q |= Q(**{f"{commune}__isnull": True, f"{province}__in": sorted(self.provinces)})
        if self.nation:
            q |= Q(**{f"{commune}__isnull": True, f"{province}__isnull": True})
        return q

    def handled_q(self, facility: str, province: str) -> Q:
        """Rows of ``facility`` (else of ``province``'s own desk, else the nation's) inside these units."""
        if self.everything:
            return Q()
        q = Q(pk__in=[])
        if self.facilities:
            q |= Q(**{f"{facility}__in": sorted(self.facilities)})
        if self.provinces:
            q |= Q(**{f"{facility}__isnull": True, f"{province}__in": sorted(self.provinces)})
        if self.nation:
            q |= Q(**{f"{facility}__isnull": True, f"{province}__isnull": True})
        return q


# One figure of one base unit: (commune or facility id or None, province or None, figure, key, value). A row
# with neither commune nor facility belongs to the province's own records, with no province to the nation's.
UnitCount = tuple[str | int | None, str | None, str, str, int]
