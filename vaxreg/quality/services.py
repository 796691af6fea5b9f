"""Running the rules: load persons and doses in bulk, evaluate in Python, reconcile the findings in bulk."""

import datetime as dt
import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction

from vaxreg.core import clock
from vaxreg.core.bulk import BulkWriter
from vaxreg.core.database import home_read, is_citus, statistics_refresh
from vaxreg.core.forking import WorkerLost, can_fork, forked_map
from vaxreg.core.touched import Rows, figures_touched
from vaxreg.people.models import Person
from vaxreg.quality.models import Finding
from vaxreg.quality.rules import (
    ID_SHARED,
    DoseSnapshot,
    FindingDraft,
    Parameters,
    PersonSnapshot,
    id_shared_draft,
    person_evaluate,
)
from vaxreg.vaccinations.models import Dose, DoseStatus
from vaxreg.vaccinations.selectors import catalogue_parameter, vaccine_catalogue

logger = logging.getLogger(__name__)

_PERSON_COLUMNS = (
    "id",
    "full_name",
    "birth_year",
    "birth_month",
    "birth_day",
    "birth_date_raw",
    "gender",
    "id_type",
    "id_number",
    "id_repaired",
    "phone",
    "home",
)
# In the order of DoseSnapshot's fields, so that a row becomes a snapshot as it is.
_DOSE_COLUMNS = ("id", "vaccine_id", "vaccine_raw", "vaccination_date", "dose_number", "person_id")
_FINDING_COLUMNS = ("id", "person_id", "dose_id", "code", "detail")
_OPEN_COLUMNS = (
    "home",
    "person_id",
    "dose_id",
    "code",
    "severity",
    "fields",
    "template_vi",
    "template_en",
    "detail",
    "is_open",
)
_USABLE_ID_TYPES = ("CCCD", "CMND", "PASSPORT")
_BULK_LOAD_MIN = 200  # new findings from which a bulk load (PostgreSQL COPY) beats the ORM's INSERT

FindingKey = tuple[int, int | None, str]  # (person id, dose id or None, code)
StoredFinding = tuple[int, int, int | None, str, Any]  # the values of _FINDING_COLUMNS, detail decoded
Holder = tuple[int, str, int | None, int | None, int | None]  # person id, name key, birth year, month, day


@dataclass
class CheckResult:
    persons: int = 0
    opened: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    def add(self, other: "CheckResult") -> None:
        self.persons += other.persons
        self.opened.update(other.opened)
        self.closed.update(other.closed)
        self.unchanged.update(other.unchanged)

    def open_by_code(self) -> Counter[str]:
        """Open findings per code among the checked persons after the check."""
        return self.opened + self.unchanged


def parameters_load(*, today: dt.date | None = None) -> Parameters:
    return Parameters(
        campaign_start=dt.date.fromisoformat(catalogue_parameter("campaign_start")),
        min_birth_year=int(catalogue_parameter("min_birth_year")),
        today=today or clock.today(),
        vaccines=vaccine_catalogue(),
    )


# --- reading -------------------------------------------------------------------------------------------
# Millions of rows go through here on a full scan: plain SQL read straight into the snapshots, without the
# ORM's per-row work (the SQLite driver converts dates and booleans, as Django set it up to). Rows are
# taken by an id range, or by a list of values sent as one parameter (a PostgreSQL array, a JSON array on
# SQLite). On PostgreSQL a list is joined laterally (OFFSET 0 keeps the planner from flattening the join),
# one index lookup per value: a plan that does not hang on the table's statistics. Without them (autovacuum
# off, or a table just loaded) ``= ANY(...)`` or a plain join with a few hundred values is planned as a
# scan of the whole table.


@dataclass(frozen=True)
class _Rows:
    """Which rows of a table a read takes: ``where`` (with ``params``), or ``column`` among ``values``;
    on Citus, stored under one of ``homes`` when they are known (the read goes to their shards only)."""

    where: str = ""
    params: tuple[Any, ...] = ()
    column: str = ""
    values: tuple[Any, ...] = ()
    homes: tuple[str, ...] = ()

    @classmethod
    def among(cls, column: str, values: Iterable[Any], homes: Iterable[str] = ()) -> "_Rows":
        return cls(column=column, values=tuple(sorted(set(values))), homes=tuple(sorted(set(homes))))


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(model: Any, names: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    return ", ".join(quote(model._meta.get_field(name).column) for name in names)


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _select(
    model: Any,
    names: Sequence[str],
    rows: _Rows,
    extra: str = "",
    extra_params: Sequence[Any] = (),
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """``names`` of the ``rows`` of ``model``'s table that also meet ``extra`` (``" AND ..."``)."""
    columns, table = _columns(model, names), _table(model)
    if not rows.column:
        sql = f"SELECT {columns} FROM {table} WHERE {rows.where}{extra} {suffix}"
        return _fetch(sql, [*rows.params, *extra_params])
    if not rows.values:
        return []
    column = connection.ops.quote_name(rows.column)
    if is_citus(connection):
        # Citus cannot push a lateral join into the shards; a plain list is sent to the shards that hold it.
        kind = "bigint" if isinstance(rows.values[0], int) else "text"
        at_home, home_params = (
            ("", []) if not rows.homes else (" AND home = ANY(%s::text[])", [list(rows.homes)])
        )
        sql = f"SELECT {columns} FROM {table} WHERE {column} = ANY(%s::{kind}[]){at_home}{extra} {suffix}"
        return _fetch(sql, [list(rows.values), *home_params, *extra_params])
    if connection.vendor == "postgresql":
        kind = "bigint" if isinstance(rows.values[0], int) else "text"
        sql = (
            f"SELECT t.* FROM unnest(%s::{kind}[]) AS k(v) CROSS JOIN LATERAL "
            f"(SELECT {columns} FROM {table} WHERE {column} = k.v{extra} OFFSET 0) AS t {suffix}"
        )
        return _fetch(sql, [list(rows.values), *extra_params])
    sql = f"SELECT {columns} FROM {table} WHERE {column} IN (SELECT value FROM json_each(%s)){extra} {suffix}"
    return _fetch(sql, [json.dumps(rows.values), *extra_params])


# A record merged into another one (the same citizen recorded twice) is checked through its survivor only.
_NOT_MERGED = " AND merged_into_id IS NULL"


def _homes_read(persons: list[PersonSnapshot], person_ids: list[int]) -> list[str]:
    """On Citus, the homes of these persons, so that their doses and findings are read from their own shards
    only: those of the persons read, and of the others asked for (merged ones) read again; elsewhere nothing
    (every row is in one table)."""
    if not is_citus(connection):
        return []
    homes = {p.home for p in persons}
    missing = set(person_ids) - {p.id for p in persons}
    if missing:
        rows = _select(Person, ("home",), _Rows.among("id", missing), suffix="GROUP BY 1")
        homes.update(home for (home,) in rows)
    return sorted(homes)


def _persons_read(rows: _Rows, suffix: str = "") -> list[PersonSnapshot]:
    return list(map(PersonSnapshot._make, _select(Person, _PERSON_COLUMNS, rows, _NOT_MERGED, suffix=suffix)))


def _doses_read(rows: _Rows) -> dict[int, list[DoseSnapshot]]:
    doses: dict[int, list[DoseSnapshot]] = defaultdict(list)
    for dose in map(
        DoseSnapshot._make, _select(Dose, _DOSE_COLUMNS, rows, " AND status = %s", [DoseStatus.VALID])
    ):
        doses[dose.person_id].append(dose)
    return doses


# Codes that no rule here gives: another app (linkage: DUPLICATE_SUSPECT) opens and closes them through
# ``finding_external_set`` / ``finding_external_close``, so a re-check or a scan never closes them as gone.
EXTERNAL_CODES: tuple[str, ...] = ("DUPLICATE_SUSPECT",)


def _findings_read(rows: _Rows) -> list[StoredFinding]:
    placeholders = ", ".join(["%s"] * len(EXTERNAL_CODES))
    return [
        (f_id, person_id, dose_id, code, _json(detail))
        for f_id, person_id, dose_id, code, detail in _select(
            Finding,
            _FINDING_COLUMNS,
            rows,
            f" AND is_open = %s AND code NOT IN ({placeholders})",
            [True, *EXTERNAL_CODES],
        )
    ]


@transaction.atomic
def finding_external_set(
    *,
    person_id: int,
    code: str,
    severity: str,
    fields: list[str],
    template_vi: str,
    template_en: str,
    detail: dict,
) -> bool:
    """Open a finding another app decides on (``EXTERNAL_CODES``), or refresh its values; True when opened."""
    if code not in EXTERNAL_CODES:
        raise ValueError(f"{code} is a rule's code: the rules open and close it")
    home = home_read("people.Person", person_id)  # on Citus a lock names the shard it takes
    current = (
        Finding.objects.select_for_update()
        .filter(home=home, person_id=person_id, code=code, is_open=True)
        .first()
    )
    if current is not None:
        if current.detail != detail:
            current.detail, current.template_vi, current.template_en = detail, template_vi, template_en
            current.save(update_fields=["detail", "template_vi", "template_en"])
        return False
    Finding.objects.create(
        home=home,
        person_id=person_id,
        code=code,
        severity=severity,
        fields=fields,
        template_vi=template_vi,
        template_en=template_en,
        detail=detail,
        opened_at=clock.now(),
    )
    return True


def finding_external_close(*, person_ids: Iterable[int], code: str) -> set[int]:
    """Close the open ``code`` findings of these persons (kept, with the time); the persons who had one."""
    if code not in EXTERNAL_CODES:
        raise ValueError(f"{code} is a rule's code: the rules open and close it")
    ids = sorted(set(person_ids))
    closed: set[int] = set()
    for start in range(0, len(ids), 2_000):
        open_ = Finding.objects.filter(person_id__in=ids[start : start + 2_000], code=code, is_open=True)
        had = set(open_.values_list("person_id", flat=True))
        if had:
            open_.update(is_open=False, closed_at=clock.now())
            closed |= had
    return closed


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _holders_read(numbers: Iterable[str]) -> dict[str, list[Holder]]:
    """Every person holding one of these ID numbers, by number: the other side of ID_SHARED."""
    holders: dict[str, list[Holder]] = defaultdict(list)
    columns = ("id_number", "id", "name_key", "birth_year", "birth_month", "birth_day")
    for number, *rest in _select(Person, columns, _Rows.among("id_number", numbers), _NOT_MERGED):
        holders[number].append(tuple(rest))  # type: ignore[arg-type]
    return holders


def _numbers_held_twice(province_code: str | None) -> set[str]:
    """Every ID number that more than one person holds (of those that persons of the province hold)."""
    column = connection.ops.quote_name("id_number")
    table = _table(Person)
    where, params = f"{column} <> ''", list[Any]()
    if province_code:
        where = f"{column} IN (SELECT {column} FROM {table} WHERE province_id = %s AND {column} <> '')"
        params = [province_code]
    rows = _fetch(f"SELECT {column} FROM {table} WHERE {where} GROUP BY {column} HAVING COUNT(*) > 1", params)
    return {number for (number,) in rows}


def _usable_numbers(persons: Iterable[PersonSnapshot]) -> set[str]:
    return {p.id_number for p in persons if p.id_type in _USABLE_ID_TYPES and p.id_number}


# --- evaluating and reconciling ------------------------------------------------------------------------


def _id_shared(persons: list[PersonSnapshot], holders: dict[str, list[Holder]]) -> dict[int, int]:
    """person id → how many other persons carry its ID number with another name or birth date."""
    result: dict[int, int] = {}
    for p in persons:
        if p.id_type not in _USABLE_ID_TYPES or not p.id_number:
            continue
        group = holders.get(p.id_number, [])
        if len(group) < 2:
            continue
        mine = next((h for h in group if h[0] == p.id), None)
        if mine is None:
            continue
        others = sum(1 for h in group if h[0] != p.id and h[1:] != mine[1:])
        if others:
            result[p.id] = others
    return result


def _evaluate(
    persons: list[PersonSnapshot],
    doses: dict[int, list[DoseSnapshot]],
    holders: dict[str, list[Holder]],
    params: Parameters,
) -> dict[FindingKey, FindingDraft]:
    drafts: dict[FindingKey, FindingDraft] = {}
    shared = _id_shared(persons, holders)
    no_doses: list[DoseSnapshot] = []
    for p in persons:
        found = person_evaluate(p, doses.get(p.id, no_doses), params)
        if p.id in shared:
            found.append(id_shared_draft(p, shared[p.id]))
        for draft in found:
            drafts.setdefault((p.id, draft.dose_id, draft.code), draft)
    return drafts


def _by_home(findings: list[Finding], owners: dict[int, str | None]) -> dict[str | None, list[Finding]]:
    """Stored findings to write, by the home they are stored under (None: not known here)."""
    grouped: dict[str | None, list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[owners.get(finding.pk)].append(finding)
    return grouped


def _findings_at(home: str | None) -> Any:
    """The findings stored under ``home``: on Citus an update naming the home goes to its shard only, where
    one by id alone would visit every shard, one after the other."""
    return Finding.objects.all() if home is None else Finding.objects.filter(home=home)


def _reconcile(
    drafts: dict[FindingKey, FindingDraft],
    stored_rows: list[StoredFinding],
    persons: list[PersonSnapshot],
    checked: int,
) -> tuple[CheckResult, set[int]]:
    """Open the drafts (of these persons) that are not stored yet, close the stored findings that no draft
    matches; ``checked`` persons were asked for. Also the persons with a finding opened or closed: the only
    ones whose units' figures moved (a refreshed message moves none)."""
    result = CheckResult(persons=checked)
    homes = {p.id: p.home for p in persons}  # a new finding is stored with its person
    stored: dict[FindingKey, StoredFinding] = {}
    for row in stored_rows:
        stored[(row[1], row[2], row[3])] = row
    now = clock.now()
    to_close: list[Finding] = []
    to_refresh: list[Finding] = []
    changed: set[int] = set()
    for key, (finding_id, person_id, _, code, detail) in stored.items():
        draft = drafts.get(key)
        if draft is None:
            to_close.append(Finding(id=finding_id, code=code, is_open=False, closed_at=now))
            changed.add(person_id)
            continue
        result.unchanged[code] += 1
        if draft.detail != detail:  # the same finding, other values: its message says them
            to_refresh.append(
                Finding(
                    id=finding_id,
                    detail=draft.detail,
                    template_vi=draft.template_vi,
                    template_en=draft.template_en,
                )
            )
    to_open = [
        (
            homes[person_id],
            person_id,
            dose_id,
            code,
            d.severity,
            list(d.fields),
            d.template_vi,
            d.template_en,
            d.detail,
            True,
        )
        for (person_id, dose_id, code), d in drafts.items()
        if (person_id, dose_id, code) not in stored
    ]
    owners = {row[0]: homes.get(row[1]) for row in stored_rows}
    for home, rows in _by_home(to_close, owners).items():
        _findings_at(home).bulk_update(rows, ["is_open", "closed_at"], batch_size=500)
    for home, rows in _by_home(to_refresh, owners).items():
        _findings_at(home).bulk_update(rows, ["detail", "template_vi", "template_en"], batch_size=500)
    if len(to_open) >= _BULK_LOAD_MIN:  # the first scan of a large file opens them by the hundred thousand
        stamp = connection.ops.adapt_datetimefield_value(now)
        BulkWriter().insert(
            Finding._meta.db_table,
            (*_OPEN_COLUMNS, "opened_at"),
            [(*row, stamp) for row in to_open],
            json_columns=("fields", "detail"),
        )
    elif to_open:
        Finding.objects.bulk_create(
            [Finding(**dict(zip(_OPEN_COLUMNS, row, strict=True)), opened_at=now) for row in to_open]
        )
    result.opened.update(row[3] for row in to_open)
    result.closed.update(f.code for f in to_close)
    changed.update(row[1] for row in to_open)
    return result, changed


@transaction.atomic
def quality_check_persons(
    *, person_ids: Iterable[int], params: Parameters | None = None, with_id_holders: bool = True
) -> CheckResult:
    """Re-run every rule for these persons and bring their stored findings in line.

    New findings are opened, findings whose cause is gone are closed (kept, with ``closed_at``), and
    findings still present are left as they are (their message is refreshed when the values changed).
    A few queries whatever the number of persons and doses.

    ID_SHARED concerns more than one person: with ``with_id_holders`` the other holders of these persons'
    ID numbers, now or at their last check, are checked too, so that changing one person's ID opens or
    closes the finding on both sides. A full scan, which reaches everyone anyway, turns it off.
    """
    ids = sorted(set(person_ids))
    if not ids:
        return CheckResult()
    persons = _persons_read(_Rows.among("id", ids))
    homes = _homes_read(persons, ids)
    stored = _findings_read(_Rows.among("person_id", ids, homes))
    numbers = _usable_numbers(persons)
    if with_id_holders:
        # The numbers these persons hold, and those their open ID_SHARED findings were about; every other
        # holder of one of them is checked too. (Each of those holds one of the numbers: its holders are
        # all read already.)
        numbers.update(row[4].get("id_number", "") for row in stored if row[3] == ID_SHARED)
        numbers.discard("")
        holders = _holders_read(numbers)
        others = sorted({h[0] for group in holders.values() for h in group} - set(ids))
        if others:
            ids = sorted([*ids, *others])
            more = _persons_read(_Rows.among("id", others))
            persons += more
            homes += _homes_read(more, others)
            stored += _findings_read(_Rows.among("person_id", others, homes))
    else:
        holders = _holders_read(numbers)
    params = params or parameters_load()
    doses = _doses_read(_Rows.among("person_id", ids, homes))
    result, changed = _reconcile(_evaluate(persons, doses, holders, params), stored, persons, len(ids))
    # Findings per commune: the dashboards recount the communes of the persons whose findings opened or
    # closed, not of every holder of a shared number that was only read (another province's, often).
    figures_touched(persons=changed, rows=[Rows.FINDINGS])
    return result


@dataclass(frozen=True)
class ScanProgress:
    persons_done: int
    persons_total: int
    last_id: int


@dataclass
class _Batch:
    persons: list[PersonSnapshot]
    doses: dict[int, list[DoseSnapshot]]
    stored: list[StoredFinding]
    holders: dict[str, list[Holder]]

    def drafts(self, params: Parameters) -> dict[FindingKey, FindingDraft]:
        return _evaluate(self.persons, self.doses, self.holders, params)


def _batch_read(
    *, after_id: int, upto: int | None, limit: int | None, province_code: str | None, held_twice: set[str]
) -> _Batch:
    """The persons after ``after_id`` (up to ``upto``, at most ``limit``; of the province) in id order.

    Their doses and findings are read by the id range the persons span when they fill most of it (the
    whole table does): one index range each instead of a list of ids.
    """
    where, values = "id > %s", list[Any]([after_id])
    if upto is not None:
        where, values = f"{where} AND id <= %s", [*values, upto]
    if province_code:
        where, values = f"{where} AND province_id = %s", [*values, province_code]
    persons = _persons_read(
        _Rows(where, tuple(values)), "ORDER BY id" + (f" LIMIT {int(limit)}" if limit else "")
    )
    if not persons:
        return _Batch([], {}, [], {})
    last_id = persons[-1].id
    if len(persons) * 2 >= last_id - after_id:
        rows = _Rows("person_id > %s AND person_id <= %s", (after_id, last_id))
    else:
        rows = _Rows.among("person_id", [p.id for p in persons], {p.home for p in persons})
    doses = _doses_read(rows)
    stored = _findings_read(rows)
    if len(persons) < last_id - after_id:  # persons of other provinces lie in the range
        mine = {p.id for p in persons}
        doses = {pid: d for pid, d in doses.items() if pid in mine}
        stored = [row for row in stored if row[1] in mine]
    # Holders are read, as they are now, for the few numbers that were held twice when the scan started, and
    # for those of the persons with an open ID_SHARED finding (opened since, maybe), which is closed only
    # when it no longer holds. A number shared only since the scan started waits for its own re-check.
    numbers = _usable_numbers(persons) & held_twice
    holding = {row[1] for row in stored if row[3] == ID_SHARED}
    numbers.update(p.id_number for p in persons if p.id in holding and p.id_number)
    return _Batch(persons, doses, stored, _holders_read(numbers))


@transaction.atomic
def _scan_batch(
    *, after_id: int, batch_size: int, province_code: str | None, params: Parameters, held_twice: set[str]
) -> tuple[CheckResult, int]:
    """Check the next ``batch_size`` persons after ``after_id`` (of the province); returns their last id."""
    batch = _batch_read(
        after_id=after_id, upto=None, limit=batch_size, province_code=province_code, held_twice=held_twice
    )
    if not batch.persons:
        return CheckResult(), after_id
    checked, _ = _reconcile(batch.drafts(params), batch.stored, batch.persons, len(batch.persons))
    return checked, batch.persons[-1].id


def _to_change(
    drafts: dict[FindingKey, FindingDraft], stored_rows: list[StoredFinding]
) -> tuple[list[int], Counter[str]]:
    """The persons whose stored findings differ from the drafts, and the findings of the others by code."""
    changed: set[int] = set()
    stored: set[FindingKey] = set()
    for _, person_id, dose_id, code, detail in stored_rows:
        key = (person_id, dose_id, code)
        stored.add(key)
        draft = drafts.get(key)
        if draft is None or draft.detail != detail:
            changed.add(person_id)
    changed.update(key[0] for key in drafts if key not in stored)
    return sorted(changed), Counter(key[2] for key in stored if key[0] not in changed)


# --- the scan on several processes ----------------------------------------------------------------------
# The rules are pure Python, so one process uses one core. Forked workers each read and evaluate whole
# batches on their own connection and send back only the ids of the persons whose findings must change
# (a small share, none on a second scan); the parent checks those again, exactly as a single-process scan
# would, one transaction per batch and in id order, so the progress it reports stays a safe point to
# resume from. A person changed between the two reads is then judged on what the parent reads.

SCAN_PARALLEL_MIN_PERSONS = 50_000  # below, forking costs more than it saves
_scan_job: tuple[Parameters, set[str], str | None] | None = None  # set before the fork


def _scan_workers_default() -> int:
    return min(2, os.cpu_count() or 1)


def _scan_can_fork() -> bool:
    if not can_fork() or connection.in_atomic_block:
        return False  # the workers could not see the caller's uncommitted rows
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())  # type: ignore[attr-defined]


def _scan_ranges(*, after_id: int, batch_size: int, province_code: str | None) -> list[tuple[int, int, int]]:
    """(after id, last id, persons) of each batch, read from the primary key in id order."""
    where, values = "id > %s", list[Any]([after_id])
    if province_code:
        where, values = f"{where} AND province_id = %s", [*values, province_code]
    ranges = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {_table(Person)} WHERE {where} ORDER BY id", values)
        while rows := cursor.fetchmany(batch_size):
            ranges.append((after_id, rows[-1][0], len(rows)))
            after_id = rows[-1][0]
    return ranges


def _scan_filter(task: tuple[int, int, int]) -> tuple[list[int], Counter[str]]:
    """In a worker: the persons of one batch whose findings must change, and the others' findings by code."""
    assert _scan_job is not None
    params, held_twice, province_code = _scan_job
    after_id, last_id, _ = task
    batch = _batch_read(
        after_id=after_id, upto=last_id, limit=None, province_code=province_code, held_twice=held_twice
    )
    return _to_change(batch.drafts(params), batch.stored)


def _connections_forget() -> None:
    """In a forked worker: drop every database connection object inherited from the parent unused.

    Using one would share the parent's socket with the other workers and mix up their answers; closing
    one would end the parent's session. The worker opens its own on its first query.
    """
    for conn in connections.all(initialized_only=True):
        conn.connection = None


def _scan_parallel(
    *,
    ranges: list[tuple[int, int, int]],
    workers: int,
    province_code: str | None,
    params: Parameters,
    held_twice: set[str],
    progress: Callable[[ScanProgress], None] | None,
) -> tuple[CheckResult, int | None]:
    """The scan of ``ranges`` on forked workers; with the last id checked when a worker was lost (the
    caller checks the rest itself), None when every range was checked."""
    global _scan_job
    _scan_job = (params, held_twice, province_code)
    total = sum(count for _, _, count in ranges)
    result = CheckResult()
    last_done = ranges[0][0] if ranges else 0
    connection.close()  # the workers open their own; a connection must never cross a fork
    try:
        answers = forked_map(_scan_filter, ranges, workers=workers, initializer=_connections_forget)
        for (_, last_id, count), (changed, unchanged) in zip(ranges, answers, strict=True):
            if changed:
                result.add(quality_check_persons(person_ids=changed, params=params, with_id_holders=False))
            result.persons += count - len(changed)
            result.unchanged.update(unchanged)
            last_done = last_id
            if progress is not None:
                progress(ScanProgress(persons_done=result.persons, persons_total=total, last_id=last_id))
    except WorkerLost:
        logger.warning(
            "quality scan: a worker process was lost after id %s; this process checks the rest", last_done
        )
        return result, last_done
    finally:
        _scan_job = None
    return result, None


def quality_scan(
    *,
    province_code: str | None = None,
    batch_size: int = 5000,
    start_after_id: int = 0,
    progress: Callable[[ScanProgress], None] | None = None,
    workers: int | None = None,
) -> CheckResult:
    """Check every person (of a province) in id order, one transaction per batch.

    Each batch commits on its own, so a stopped scan resumes with ``start_after_id`` set to the last id
    that the progress callback reported. A large scan runs its rules on ``workers`` forked processes
    (default: one per core, at most two); ``workers=1`` keeps it in this process.
    """
    result = _quality_scan(
        province_code=province_code,
        batch_size=batch_size,
        start_after_id=start_after_id,
        progress=progress,
        workers=workers,
    )
    # A scan may have opened or closed findings by the hundred thousand; the cases that follow it read them.
    statistics_refresh(Finding)
    # The findings of a whole province (or country) may have moved: its figures are recounted whole.
    if province_code:
        figures_touched(provinces_whole=[province_code], rows=[Rows.FINDINGS])
    else:
        figures_touched(everything=True)
    return result


def _quality_scan(
    *,
    province_code: str | None,
    batch_size: int,
    start_after_id: int,
    progress: Callable[[ScanProgress], None] | None,
    workers: int | None,
) -> CheckResult:
    params = parameters_load()
    held_twice = _numbers_held_twice(province_code)
    workers = _scan_workers_default() if workers is None else max(1, workers)
    result = CheckResult()
    if workers > 1 and _scan_can_fork():
        ranges = _scan_ranges(after_id=start_after_id, batch_size=batch_size, province_code=province_code)
        if sum(count for _, _, count in ranges) >= SCAN_PARALLEL_MIN_PERSONS:
            parallel, lost_after = _scan_parallel(
                ranges=ranges,
                workers=workers,
                province_code=province_code,
                params=params,
                held_twice=held_twice,
                progress=progress,
            )
            if lost_after is None:
                return parallel
            result, start_after_id = parallel, lost_after  # this process checks the rest
    persons = Person.objects.all()
    if province_code:
        persons = persons.filter(province_id=province_code)
    total = result.persons + persons.filter(id__gt=start_after_id).count()
    last_id = start_after_id
    while True:
        batch, last_id = _scan_batch(
            after_id=last_id,
            batch_size=batch_size,
            province_code=province_code,
            params=params,
            held_twice=held_twice,
        )
        if not batch.persons:
            break
        result.add(batch)
        if progress is not None:
            progress(ScanProgress(persons_done=result.persons, persons_total=total, last_id=last_id))
    return result
