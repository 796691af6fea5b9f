"""Which units' figures a write changed: the one notice every room that writes sends, inside its
transaction, and the rooms that keep figures per unit (the dashboards' rollups) hear.

A writer names what it changed in the terms it knows (persons, facilities, provinces); it does not know who
keeps figures, and core does not know the rooms above it, so the listeners register here in their
``AppConfig.ready``, as with the other hooks. Naming too much costs a recount; naming too little leaves a
figure stale until the nightly rebuild, so a writer names every person and unit whose counts it may have
moved, also the one a record left (a complaint's old handler). A person named is enough for everything
counted by where persons live (their findings and cases too), wherever they lived before the write.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import ExpressionWrapper, F, IntegerField, Q

# Persons, findings and cases are counted by blocks of this many consecutive person ids: a write recounts
# the blocks of the persons it names, so its cost follows what it changed, not the size of their communes.
PERSON_BLOCK_SIZE = 256


@dataclass(frozen=True)
class Touched:
    """What one write changed. ``everything``: so much (a national scan) that only a rebuild will do."""

    persons: frozenset[int] = frozenset()
    facilities: frozenset[int] = frozenset()
    provinces: frozenset[str] = frozenset()  # the province's own desk (complaints it handles, files it sent)
    provinces_whole: frozenset[str] = frozenset()  # every person, commune and facility of the province
    nation: bool = False  # the nation's own records (a file sent for the whole country)
    everything: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.persons
            or self.facilities
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
    provinces: Iterable[str | None] = (),
    provinces_whole: Iterable[str | None] = (),
    nation: bool = False,
    everything: bool = False,
) -> None:
    """Tell the listeners what this write changed (``None`` and empty values are left out)."""
    touched = Touched(
        persons=_ids(persons),
        facilities=_ids(facilities),
        provinces=_codes(provinces),
        provinces_whole=_codes(provinces_whole),
        nation=nation,
        everything=everything,
    )
    if touched.empty:
        return
    for _, listener in _listeners:
        listener(touched)


@dataclass(frozen=True)
class PersonBlocks:
    """The blocks of persons a recount reads (``PERSON_BLOCK_SIZE`` consecutive ids each): their persons, and
    the findings and cases of those persons, counted per block and per place (``everything``: all)."""

    blocks: frozenset[int] = frozenset()
    everything: bool = False

    @staticmethod
    def of_persons(person_ids: Iterable[int]) -> frozenset[int]:
        return frozenset(pid // PERSON_BLOCK_SIZE for pid in person_ids)

    def q(self, person_id: str) -> Q:
        """Rows whose ``person_id`` field falls in these blocks: one id range per run of adjacent blocks, so
        an index on the field answers it."""
        if self.everything:
            return Q()
        q = Q(pk__in=[])
        for first, last in _runs(sorted(self.blocks)):
            q |= Q(
                **{
                    f"{person_id}__gte": first * PERSON_BLOCK_SIZE,
                    f"{person_id}__lt": (last + 1) * PERSON_BLOCK_SIZE,
                }
            )
        return q

    @staticmethod
    def block_of(person_id: str) -> ExpressionWrapper:
        """The block of a row, for grouping (integer division on every database)."""
        return ExpressionWrapper(F(person_id) / PERSON_BLOCK_SIZE, output_field=IntegerField())


def _runs(blocks: list[int]) -> Iterable[tuple[int, int]]:
    """Sorted block numbers as (first, last) runs of consecutive ones."""
    start = previous = None
    for block in blocks:
        if previous is not None and block == previous + 1:
            previous = block
            continue
        if start is not None and previous is not None:
            yield start, previous
        start = previous = block
    if start is not None and previous is not None:
        yield start, previous


@dataclass(frozen=True)
class BaseUnits:
    """The units whose own figures a recount reads, for the rows counted where they are handled: doses,
    files, sign-offs and complaints by the facility (else the province's own desk, else the nation's).
    ``everything``: every unit at once (a rebuild), with no filter at all.
    """

    facilities: frozenset[int] = frozenset()
    provinces: frozenset[str] = frozenset()  # the provinces' own desks
    nation: bool = False  # the nation's own desk
    everything: bool = False

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


# One figure of one base unit: (facility id or None, province or None, figure, key, value). A row with no
# facility belongs to the province's own desk, with no province to the nation's.
UnitCount = tuple[int | None, str | None, str, str, int]

# One figure of one block of persons in one place: (block, commune or None, province or None, figure, key,
# value). A row with no commune belongs to the province's own records, with no province to the nation's.
BlockCount = tuple[int, str | None, str | None, str, str, int]
