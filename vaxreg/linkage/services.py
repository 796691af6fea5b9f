"""Linkage runs and decisions: score persons with the stored model, keep the suspected pairs, follow them with
DUPLICATE_SUSPECT warnings, and remember "not the same person" until one of the two changes."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.core.touched import Rows, figures_touched
from vaxreg.linkage.engine import (
    MODEL_VERSION,
    PERSON_COLUMNS,
    REVIEW_THRESHOLD,
    Engine,
    ScoredPair,
    connected_clusters,
    model_load,
    name_keys,
    name_query_keys,
    records_table,
    swap_key,
)
from vaxreg.linkage.models import PairState, SuspectedPair
from vaxreg.people.models import Person
from vaxreg.quality.models import Severity
from vaxreg.quality.services import finding_external_close, finding_external_set
from vaxreg.vaccinations.models import Dose, DoseStatus

if TYPE_CHECKING:
    import pyarrow as pa

    from vaxreg.accounts.models import User

DUPLICATE_SUSPECT = "DUPLICATE_SUSPECT"
TEMPLATE_VI = "Có thể là cùng một người với {others} hồ sơ khác (xác suất cao nhất {probability} %)"
TEMPLATE_EN = "Probably the same person as {others} other record(s) (highest probability {probability}%)"
_STORE_CHUNK = 2_000

Progress = Callable[[str, float], None]  # (phase, share done 0–1)


class PairRefusal(Refusal):
    """A decision on a pair that cannot be taken."""


@dataclass
class RunResult:
    persons: int = 0
    pairs_scored: int = 0
    opened: int = 0
    updated: int = 0
    reopened: int = 0
    dropped: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _quiet(phase: str, share: float) -> None:
    return None


def fingerprint(row: Sequence[Any]) -> str:
    """A short hash of one person's compared fields (``PERSON_COLUMNS`` without the id)."""
    text = "\x1f".join("" if v is None else str(v) for v in row[1:])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pair_fingerprint(row_a: Sequence[Any], row_b: Sequence[Any]) -> str:
    return f"{fingerprint(row_a)}{fingerprint(row_b)}"[:64]


def _rows(query: Any) -> list[tuple[Any, ...]]:
    return list(_stream(query))


def _stream(query: Any) -> Iterator[tuple[Any, ...]]:
    return query.values_list(*PERSON_COLUMNS).iterator(chunk_size=10_000)


def linkable_persons() -> Any:
    """The persons linkage compares: every record not merged into another (a merged record's doses and
    findings are its survivor's)."""
    return Person.objects.filter(merged_into__isnull=True)


def _span_query(doses: Any) -> Iterator[tuple[Any, ...]]:
    """The spans of the persons of ``doses`` (a Dose queryset's filter), one aggregate in raw SQL: a dose as
    "date|vaccine", the smallest of a person's is its first dose with that dose's vaccine, the largest its
    last (SQLite and PostgreSQL alike; at a million persons twice as quick as through Django)."""
    query = doses.filter(status=DoseStatus.VALID, dose_number__isnull=False).query
    where, params = query.where.as_sql(query.get_compiler(connection=connection), connection)
    dated = "CAST(vaccination_date AS TEXT) || '|' || COALESCE(vaccine_id, '')"
    sql = (
        f"SELECT person_id, MIN(dose_number), MAX(dose_number), MIN({dated}), MAX({dated}) "  # noqa: S608 — ours
        f"FROM {Dose._meta.db_table} WHERE {where} GROUP BY person_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(_SCAN_CHUNK):
            for pid, low, high, first, last in batch:
                first_day, _, first_vaccine = first.partition("|")
                last_day, _, last_vaccine = last.partition("|")
                yield (
                    pid,
                    low,
                    high,
                    date.fromisoformat(first_day),
                    date.fromisoformat(last_day),
                    first_vaccine,
                    last_vaccine,
                )


def dose_spans(person_ids: Iterable[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """Each person's numbered valid doses as the model compares them (``DOSE_SPAN_COLUMNS``): every
    person's (streamed), or those of ``person_ids``."""
    if person_ids is None:
        yield from _span_query(Dose.objects.all())
        return
    ordered = sorted(set(person_ids))
    if len(ordered) > _SPANS_BY_ID_UP_TO:
        wanted = set(ordered)
        yield from (span for span in _span_query(Dose.objects.all()) if span[0] in wanted)
        return
    for start in range(0, len(ordered), _IN_CHUNK):
        yield from _span_query(Dose.objects.filter(person_id__in=ordered[start : start + _IN_CHUNK]))


def linkage_records(rows: Sequence[Sequence[Any]] | None = None) -> pa.Table:
    """The model's input for ``rows`` (``PERSON_COLUMNS``), or for every linkable person, streamed from the
    database, with their dose spans."""
    if rows is None:
        return records_table(_stream(linkable_persons().order_by("id")), spans=dose_spans())
    return records_table(rows, spans=dose_spans(r[0] for r in rows))


def _engine_name(engine: str | None) -> str:
    return engine or settings.VAXREG_LINKAGE_ENGINE


def linkage_run(
    *, province_code: str | None = None, engine: str | None = None, progress: Progress = _quiet
) -> RunResult:
    """Link every person against everyone (national: people move between provinces).

    With ``province_code`` only pairs with at least one person of that province are kept and reconciled.
    """
    result = RunResult()
    started = time.perf_counter()
    progress("read", 0.0)
    # Streamed from the database into Arrow batches: the persons are never all held as Python rows.
    table = linkage_records()
    result.persons = table.num_rows
    result.seconds["read"] = time.perf_counter() - started
    progress("read", 1.0)
    if table.num_rows < 2:
        return result
    began = time.perf_counter()
    progress("predict", 0.0)
    scored = Engine(table, engine=_engine_name(engine), model=model_load()).suspected(
        threshold=REVIEW_THRESHOLD, decided=_decided_pairs()
    )
    del table
    result.seconds["predict"] = time.perf_counter() - began
    progress("predict", 1.0)
    by_id = {row[0]: row for row in _rows_where("id", {p.a for p in scored} | {p.b for p in scored})}
    if province_code:
        scored = [p for p in scored if province_code in (by_id[p.a][-1], by_id[p.b][-1])]
        scope = set(Person.objects.filter(province_id=province_code).values_list("id", flat=True))
    else:
        scope = None
    began = time.perf_counter()
    _pairs_store(scored, by_id, scope=scope, result=result, progress=progress)
    result.seconds["store"] = time.perf_counter() - began
    return result


_IN_CHUNK = 500


def _decided_pairs(person_ids: Collection[int] | None = None) -> set[tuple[int, int]]:
    """The pairs a reviewer decided (not the same, skipped, merged), of ``person_ids`` or everyone's."""
    decided = SuspectedPair.objects.exclude(state=PairState.OPEN)
    if person_ids is None:
        return set(decided.values_list("person_a_id", "person_b_id").iterator(chunk_size=10_000))
    ordered = sorted(person_ids)
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        rows = decided.filter(Q(person_a_id__in=chunk) | Q(person_b_id__in=chunk))
        pairs.update(rows.values_list("person_a_id", "person_b_id"))
    return pairs


def _rows_where(field: str, values: set[Any]) -> list[tuple[Any, ...]]:
    ordered = sorted(values)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ordered), _IN_CHUNK):
        rows += _rows(linkable_persons().filter(**{f"{field}__in": ordered[start : start + _IN_CHUNK]}))
    return rows


_SCAN_CHUNK = 20_000
# Up to this many changed persons their candidates are asked of the database by name and birth date (a
# correction, a small import); beyond it one pass over the persons is quicker than that many conditions.
_ASK_UP_TO = 100
# Beyond this many persons, their dose spans are read for everyone and kept for them (one aggregate instead
# of hundreds of queries by id). At a million persons the 138,511 candidates of a 10,000-row import took 4.6 s
# by id and 8.4 s through the whole aggregate.
_SPANS_BY_ID_UP_TO = 200_000


def _key_conditions(keys: set[tuple[Any, ...]]) -> list[Q]:
    """Conditions every person found by one of the query ``keys`` meets (and a few more, filtered after)."""
    conditions: set[Q] = set()
    for kind, *parts in keys:
        if kind == "surname_given_year":
            surname, given, year = parts[:3]
            conditions.add(
                Q(birth_year=year, name_key__startswith=f"{surname} ", name_key__endswith=f" {given}")
            )
        elif kind == "given_middle_year":
            given, middle, year = parts[:3]
            conditions.add(
                Q(birth_year=year, name_key__contains=f" {middle} ", name_key__endswith=f" {given}")
            )
        elif kind == "surname_date":
            surname, year, month, day = parts
            conditions.add(
                Q(birth_year=year, birth_month=month, birth_day=day, name_key__startswith=f"{surname} ")
            )
        elif kind == "given_date":
            given, year, month, day = parts
            conditions.add(
                Q(birth_year=year, birth_month=month, birth_day=day, name_key__endswith=f" {given}")
            )
    return sorted(conditions, key=str)


# Conditions joined by OR in one query (SQLite refuses an expression tree deeper than 1,000).
_CONDITIONS_PER_QUERY = 100


def _shares_key(
    row: Sequence[Any], keys: set[tuple[Any, ...]], swaps: Mapping[tuple[str, str, int], set[str]]
) -> bool:
    """Whether a blocking rule may pair the person ``row`` with one whose query keys are ``keys`` or
    whose swap keys are ``swaps`` (key → the given names with it)."""
    if not keys.isdisjoint(name_keys(row[2] or "", row[3], row[4], row[5])):
        return True
    swap = swap_key(row[2] or "", row[3])
    return swap is not None and bool(swaps.get(swap[0], set()) - {swap[1]})


def _candidates(person_ids: Sequence[int], *, ask_up_to: int = _ASK_UP_TO) -> list[tuple[Any, ...]]:
    """The changed persons and everyone who shares a blocking key with them (ID, phone, or the parts of
    name and birth date ``engine.name_keys`` gives, anywhere in the country): the pairs the full run's
    blocking would give them. A few persons ask the database; many read the persons once (a raw cursor:
    at a million persons a few seconds, where Django rows would take several times that)."""
    changed = _rows_where("id", set(person_ids))
    keys: set[tuple[Any, ...]] = set()
    swaps: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for r in changed:
        keys |= name_query_keys(r[2] or "", r[3], r[4], r[5])
        if swap := swap_key(r[2] or "", r[3]):
            swaps[swap[0]].add(swap[1])
    ids = {r[0] for r in changed}
    id_numbers = {r[8] for r in changed if r[8]}
    phones = {r[9] for r in changed if r[9]}
    if len(changed) <= ask_up_to:
        rows = list(changed)
        rows += _rows_where("id_number", id_numbers)
        rows += _rows_where("phone", phones)
        conditions = _key_conditions(keys)
        conditions += [Q(birth_year=year, name_key__startswith=f"{surname} ") for surname, _, year in swaps]
        for start in range(0, len(conditions), _CONDITIONS_PER_QUERY):
            q = Q()
            for condition in conditions[start : start + _CONDITIONS_PER_QUERY]:
                q |= condition
            rows += [r for r in _rows(linkable_persons().filter(q)) if _shares_key(r, keys, swaps)]
    else:
        # A cheap first test per person (the equality parts of its keys, without the birth-date part the
        # names + year rules add) before the keys themselves.
        names_years = {k[1:4] for k in keys if k[0] in ("surname_given_year", "given_middle_year")}
        names_dates = {k[1:5] for k in keys if k[0] in ("surname_date", "given_date")}

        def may_share(row: Sequence[Any]) -> bool:
            words = (row[2] or "").split()
            if len(words) < 2:
                return False
            surname, given, year = words[0], words[-1], row[3]
            if not (
                (surname, given, year) in names_years
                or (given, " ".join(words[1:-1]), year) in names_years
                or (surname, year, row[4], row[5]) in names_dates
                or (given, year, row[4], row[5]) in names_dates
                or (surname, given[0] + "".join(sorted(given[1:])), year) in swaps
            ):
                return False
            return _shares_key(row, keys, swaps)

        rows = []
        columns = ", ".join(PERSON_COLUMNS)  # the attribute names are the columns
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {Person._meta.db_table} WHERE merged_into_id IS NULL"  # noqa: S608 — ours
            )
            while batch := cursor.fetchmany(_SCAN_CHUNK):
                rows += [
                    r for r in batch if r[0] in ids or r[8] in id_numbers or r[9] in phones or may_share(r)
                ]
    unique: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        unique.setdefault(row[0], row)
    return list(unique.values())


def linkage_link_persons(*, person_ids: Iterable[int], engine: str | None = None) -> RunResult:
    """Link the persons an import or a correction created or changed against everyone, at once."""
    ids = sorted(set(person_ids))
    result = RunResult(persons=len(ids))
    if not ids:
        return result
    rows = _candidates(ids)
    touched = set(ids)
    scored: list[ScoredPair] = []
    if len(rows) >= 2:
        # λ is the population's (everyone these persons are linked against), not the candidates' table's.
        scored = Engine(
            linkage_records(rows),
            engine=_engine_name(engine),
            model=model_load(),
            population=linkable_persons().count(),
        ).suspected(threshold=REVIEW_THRESHOLD, decided=_decided_pairs(touched))
        scored = [p for p in scored if p.a in touched or p.b in touched]
    _pairs_store(scored, {r[0]: r for r in rows}, scope=touched, result=result, progress=_quiet)
    return result


def _evidence(pair: ScoredPair) -> dict[str, Any]:
    return {"levels": pair.levels, "weights": {k: round(v, 3) for k, v in pair.weights.items()}}


@transaction.atomic
def _pairs_store(
    scored: list[ScoredPair],
    rows: Mapping[int, Sequence[Any]],
    *,
    scope: set[int] | None,
    result: RunResult,
    progress: Progress,
) -> None:
    """Bring the stored pairs in line with ``scored`` for the persons in ``scope`` (None: everyone)."""
    result.pairs_scored = len(scored)
    now = clock.now()
    existing = SuspectedPair.objects.all()
    if scope is not None:
        ids = sorted(scope)
        existing = (
            existing.filter(Q(person_a_id__in=ids) | Q(person_b_id__in=ids))
            if len(ids) < 50_000
            else existing
        )
    stored = {(p.person_a_id, p.person_b_id): p for p in existing.iterator(chunk_size=10_000)}
    affected: set[int] = set()
    to_create: list[SuspectedPair] = []
    to_update: list[SuspectedPair] = []
    for index, pair in enumerate(scored):
        if index % 50_000 == 0:
            progress("store", index / max(len(scored), 1))
        key = (pair.a, pair.b)
        fp = pair_fingerprint(rows[pair.a], rows[pair.b])
        old = stored.pop(key, None)
        if old is None:
            to_create.append(
                SuspectedPair(
                    person_a_id=pair.a,
                    person_b_id=pair.b,
                    probability=pair.probability,
                    match_weight=pair.weight,
                    evidence=_evidence(pair),
                    model_version=MODEL_VERSION,
                    fingerprint=fp,
                    created_at=now,
                    scored_at=now,
                )
            )
            affected.update(key)
            continue
        if old.state == PairState.MERGED:
            continue
        if old.state in (PairState.NOT_SAME, PairState.SKIPPED):
            if old.fingerprint == fp:
                continue  # decided, and neither person changed since: never suggested again
            old.state, old.decided_by_id, old.decided_at, old.decision_reason = PairState.OPEN, None, None, ""
            result.reopened += 1
        else:
            result.updated += 1
        old.probability, old.match_weight, old.evidence = pair.probability, pair.weight, _evidence(pair)
        old.model_version, old.fingerprint, old.scored_at = MODEL_VERSION, fp, now
        to_update.append(old)
        affected.update(key)
    # Open pairs no longer scored above the threshold (a correction made them differ): dropped, their
    # warnings closed. Decided pairs stay as the record of the decision.
    gone = [
        p.pk
        for k, p in stored.items()
        if p.state == PairState.OPEN and (scope is None or k[0] in scope or k[1] in scope)
    ]
    for k, p in stored.items():
        if p.state == PairState.OPEN and (scope is None or k[0] in scope or k[1] in scope):
            affected.update(k)
    for start in range(0, len(gone), _STORE_CHUNK):
        SuspectedPair.objects.filter(pk__in=gone[start : start + _STORE_CHUNK]).delete()
    result.dropped = len(gone)
    SuspectedPair.objects.bulk_create(to_create, batch_size=_STORE_CHUNK)
    result.opened = len(to_create)
    SuspectedPair.objects.bulk_update(
        to_update,
        [
            "state",
            "decided_by",
            "decided_at",
            "decision_reason",
            "probability",
            "match_weight",
            "evidence",
            "model_version",
            "fingerprint",
            "scored_at",
        ],
        batch_size=_STORE_CHUNK,
    )
    progress("findings", 0.0)
    findings_sync(person_ids=affected)
    progress("findings", 1.0)


def findings_sync(*, person_ids: Iterable[int]) -> None:
    """Each person with an open suspected pair carries one DUPLICATE_SUSPECT warning; the others none."""
    ids = sorted(set(person_ids))
    open_pairs: dict[int, list[float]] = defaultdict(list)
    for start in range(0, len(ids), _STORE_CHUNK):
        chunk = ids[start : start + _STORE_CHUNK]
        pairs = SuspectedPair.objects.filter(
            Q(person_a_id__in=chunk) | Q(person_b_id__in=chunk), state=PairState.OPEN
        )
        for a, b, probability in pairs.values_list("person_a_id", "person_b_id", "probability"):
            open_pairs[a].append(probability)
            open_pairs[b].append(probability)
    opened: set[int] = set()
    for pid in ids:
        probabilities = open_pairs.get(pid)
        if probabilities and finding_external_set(
            person_id=pid,
            code=DUPLICATE_SUSPECT,
            severity=Severity.WARNING,
            fields=["full_name", "date_of_birth", "id_number"],
            template_vi=TEMPLATE_VI,
            template_en=TEMPLATE_EN,
            # A whole percentage, rounded down: no decimal separator to read
            # the wrong way ("1.000" is a thousand to a Vietnamese reader), never 100 % short of certain.
            detail={"others": len(probabilities), "probability": str(int(max(probabilities) * 100))},
        ):
            opened.add(pid)
    closed = finding_external_close(
        person_ids=[pid for pid in ids if pid not in open_pairs], code=DUPLICATE_SUSPECT
    )
    # The open DUPLICATE_SUSPECT warnings per commune: only where one opened or closed (a refreshed
    # probability moves no figure).
    figures_touched(persons=opened | closed, rows=[Rows.FINDINGS])


@transaction.atomic
def pair_decide(*, pair_id: int, state: str, actor: User | None, reason: str = "") -> SuspectedPair:
    """Record a decision on an open pair: ``not_same``, ``skipped`` or ``merged`` (the merge itself is the
    merge service's); the warnings of both persons follow, and the decision is audited."""
    if state not in (PairState.NOT_SAME, PairState.SKIPPED, PairState.MERGED):
        raise PairRefusal(f"Quyết định không hợp lệ: {state}", f"Not a decision: {state}", field="state")
    pair = SuspectedPair.objects.select_for_update().get(pk=pair_id)
    if pair.state != PairState.OPEN:
        raise PairRefusal(
            "Cặp hồ sơ này đã được quyết định",
            "This pair has already been decided",
            field="state",
            status=409,
        )
    pair.state, pair.decided_by_id, pair.decided_at, pair.decision_reason = (
        state,
        getattr(actor, "pk", None),
        clock.now(),
        reason,
    )
    pair.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
    audit_event_record(
        action=AuditEvent.Action.DUPLICATE_PAIR_DECIDED,
        actor_id=getattr(actor, "pk", None),
        object_type="suspected_pair",
        object_id=str(pair.pk),
        detail={"state": state, "reason": reason, "persons": [pair.person_a_id, pair.person_b_id]},
    )
    findings_sync(person_ids=[pair.person_a_id, pair.person_b_id])
    return pair


def clusters(*, person_ids: Iterable[int] | None = None) -> dict[int, int]:
    """person id → cluster id (the smallest person id of its group): persons joined by an open pair above
    the threshold or by a merge share a cluster; a person alone is its own."""
    pairs = SuspectedPair.objects.filter(
        Q(state=PairState.MERGED) | Q(state=PairState.OPEN, probability__gte=REVIEW_THRESHOLD)
    ).values_list("person_a_id", "person_b_id")
    cluster_of = connected_clusters(pairs.iterator(chunk_size=10_000))
    if person_ids is None:
        return cluster_of
    return {pid: cluster_of.get(pid, pid) for pid in person_ids}
