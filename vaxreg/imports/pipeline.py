"""The import of one dose file, in chunks: normalise, match persons, write in bulk.

Everything a file changes is written inside one transaction, so a crash leaves nothing half done and
the same file can simply be imported again. Memory stays bounded: only a few chunks of rows are held at a
time, and persons created by earlier chunks are found again in the database (during a first load on
PostgreSQL, in a bounded memory of their keys: see ``DeferredIndexes``).
"""

import contextlib
import datetime as dt
import gc
import json
import marshal
import multiprocessing
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils.translation import gettext_noop

from vaxreg.core import clock
from vaxreg.core.bulk import BulkWriter
from vaxreg.core.database import is_citus
from vaxreg.core.forking import can_fork, frozen_for_fork
from vaxreg.core.history import ChangeSource, change_records_build, record_changes_bulk
from vaxreg.core.i18n import both_languages
from vaxreg.core.models import SourceType
from vaxreg.core.tables import RejectedLine, RowReport
from vaxreg.imports.normalize import (
    D_VACCINE,
    DAY_DATES,
    FINGERPRINT_LENGTH,
    P_BIRTH_YEAR,
    P_COMMUNE,
    P_ID_NUMBER,
    P_ID_REPAIRED,
    P_MATCH_KEY,
    P_NAME_KEY,
    P_NAME_MATCH_KEY,
    P_PROVINCE,
    P_USABLE_ID,
    PERSON_STORED,
    CompactRow,
    DoseRow,
    Reason,
    RowNormalizer,
    day_date,
    match_key,
)
from vaxreg.imports.readers import FileRefused, SourceRow, raw_cells
from vaxreg.imports.remembered import CreatedRows, HashedKeys
from vaxreg.people.models import home_of
from vaxreg.people.services import rows_follow_person

REIMPORT_REASON = gettext_noop("re-import of changed row %(row)s")
CHUNK_ROWS = 20_000
CHUNKS_AHEAD = 4  # chunks read and waiting to be written
FRESH_KEYS_MAX = 32_000_000  # hashes of written keys kept to spare lookups (8 bytes each: 256 MB at most)
# While the secondary indexes are left off (a first load), the persons created so far are found again by their
# keys' hashes (one key, or two for a person with an ID; 16 bytes each: 384 MB at most); past this many keys,
# the indexes are built and the database finds them by their values.
CREATED_PERSON_KEYS_MAX = 24_000_000
LOCK_WAIT = "1s"  # how long a first load waits for the tables' exclusive lock before it keeps the indexes
READ_IN_CHILD_PROCESS = True
WRITER_NICENESS = 10  # the writer thread yields a core to the reading process (Linux: per thread)
IMPORT_LOCK_KEY = 0x7661787265670001  # "vaxreg" + 1: the advisory lock that serialises imports

PERSON_TABLE = "people_person"
DOSE_TABLE = "vaccinations_dose"
REJECTED_TABLE = "imports_rejectedrow"

# In the order of the fields a row carries (see ``CompactRow``), so that a row's values go in as they come.
PERSON_COLUMNS = (
    "id", "full_name", "name_key", "birth_year", "birth_month", "birth_day", "birth_date_raw", "gender", "id_type",
    "id_number", "id_repaired", "phone", "address", "commune_id", "legacy_commune_code", "commune_code_raw",
    "province_id", "unparsed", "verification_state", "created_batch_id", "created_at", "updated_at", "version",
    "home",
)  # fmt: skip
DOSE_COLUMNS = (  # no id: the database numbers doses itself; nothing needs their ids back
    "person_id", "dose_number", "vaccine_id", "vaccine_raw", "lot_number", "unparsed", "vaccination_date",
    "facility_id", "source_record_id", "source_row", "source_hash", "status", "signed_off", "created_batch_id",
    "created_at", "updated_at", "version", "home",
)  # fmt: skip
REJECTED_COLUMNS = ("batch_id", "row_number", "raw", "reasons")
Candidates = dict[str, list[tuple[tuple[Any, ...] | None, int]]]  # looked-up value → (match key, person id)
PRIMARY_KEYS = {"places_commune": "code", "places_province": "code", "vaccinations_vaccine": "code"}

# What a re-imported row may change, as (model field, DoseRow attribute) pairs.
PERSON_FIELDS = (
    ("full_name", "full_name"), ("name_key", "name_key"), ("birth_year", None), ("birth_month", None),
    ("birth_day", None), ("birth_date_raw", "birth_raw"), ("gender", "gender"), ("id_type", "id_kind"),
    ("id_number", "id_number"), ("id_repaired", "id_repaired"), ("phone", "phone"), ("address", "address"),
    ("commune_id", "commune_code"), ("legacy_commune_code", "legacy_commune_code"),
    ("commune_code_raw", "commune_code_raw"),
)  # fmt: skip
DOSE_FIELDS = (
    ("vaccine_id", "vaccine_code"), ("vaccine_raw", "vaccine_raw"), ("lot_number", "lot_number"),
    ("vaccination_date", "vaccination_date"), ("dose_number", "dose_number"),
)  # fmt: skip


# A rejected row as it crosses from the reading process (plain values, for ``marshal``): (row, raw, reasons).
RejectedTuple = tuple[int, dict[str, str], list[dict[str, str]]]


@dataclass
class ImportCounts(RowReport[RejectedLine]):
    """The row report of a dose import (rows read = stored + rejected, rejected rows by code), its rejected
    lines streamed to the batch's rejected-rows table (``RejectedRowsTable``), and what the stored rows did."""

    persons_created: int = 0
    persons_updated: int = 0
    doses_created: int = 0
    doses_updated: int = 0
    doses_unchanged: int = 0
    ids_repaired: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts the batch records (its fields of the same names)."""
        names = ("rows_read", "rows_stored", "rows_rejected", "rows_blank", "persons_created", "persons_updated",
                 "doses_created", "doses_updated", "doses_unchanged", "ids_repaired")  # fmt: skip
        return {name: getattr(self, name) for name in names}


class RejectedRowsTable:
    """The sink of a dose import's rejected lines: its rejected-rows table, written a chunk at a time with the
    chunk's persons and doses, so that no more than a chunk's rejected lines are ever held.

    ``put`` and ``take`` run on the importer's thread; ``write`` on the writer's (see ``_Writer``).
    """

    def __init__(self, *, batch_id: int, writer: BulkWriter) -> None:
        self.batch_id = batch_id
        self.writer = writer
        self._pending: list[RejectedLine] = []

    def put(self, lines: Sequence[RejectedLine]) -> None:
        self._pending.extend(lines)

    def take(self) -> list[RejectedLine]:
        """The lines put since the last take, for the writer."""
        lines, self._pending = self._pending, []
        return lines

    def write(self, lines: list[RejectedLine]) -> None:
        self.writer.insert(
            REJECTED_TABLE,
            REJECTED_COLUMNS,
            [(self.batch_id, line.row, line.raw, [r.as_dict() for r in line.reasons]) for line in lines],
            json_columns=("raw", "reasons"),
        )


def rejected_lines(rejected: list[RejectedTuple]) -> list[RejectedLine]:
    return [
        RejectedLine(row=number, reasons=[Reason(**reason) for reason in reasons], raw=raw)
        for number, raw, reasons in rejected
    ]


@dataclass
class _Chunk:
    rows_read: int = 0
    rows_blank: int = 0
    rows: list[CompactRow] = field(default_factory=list)
    rejected: list[RejectedTuple] = field(default_factory=list)


def _from_child_process(chunks: Iterator[_Chunk]) -> Generator[_Chunk, None, None]:  # noqa: C901 — fork, pipe, reader thread and their failure paths are one protocol, kept in one place
    """Run a chunk generator in a forked process and yield what it sends.

    Reading and normalising is pure Python; matching and writing wait on the database. In two processes
    they overlap on two cores. The child inherits the lookup maps through fork and never touches the
    database. Chunks cross as ``marshal`` data (plain values only: see ``CompactRow``), which costs both
    sides a fraction of what pickle does. A thread here takes chunks off the pipe as soon as they come, into a queue of
    ``CHUNKS_AHEAD``: neither side waits for the other when a chunk takes the one longer than the last
    took the other, and memory stays bounded.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def produce() -> None:
        receiver.close()
        try:
            for chunk in chunks:
                sender.send_bytes(
                    marshal.dumps((chunk.rows_read, chunk.rows_blank, chunk.rows, chunk.rejected), 4)
                )
            sender.send_bytes(marshal.dumps(None))
        except FileRefused as refused:  # found past the start of the file (a cell too long)
            sender.send_bytes(
                marshal.dumps({"refused": (refused.code, refused.message_vi, refused.message_en)})
            )
        except BaseException:
            sender.send_bytes(marshal.dumps(traceback.format_exc()))
        finally:
            sender.close()

    child = context.Process(target=produce, name="vaxreg-import-reader", daemon=True)
    with frozen_for_fork():
        child.start()
    sender.close()
    ahead: queue.Queue[_Chunk | FileRefused | str | None] = queue.Queue(maxsize=CHUNKS_AHEAD)
    stop = threading.Event()

    def handed_over(item: _Chunk | FileRefused | str | None) -> bool:
        """Queue the item, waiting for room; False when the writer stopped first."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def receive() -> None:
        while True:
            try:
                message = marshal.loads(receiver.recv_bytes())
                item: _Chunk | FileRefused | str | None
                if isinstance(message, tuple):
                    item = _Chunk(*message)
                elif isinstance(message, dict):
                    item = FileRefused(*message["refused"])
                else:
                    item = message
            except (EOFError, OSError, ValueError, TypeError) as exc:
                if stop.is_set():
                    return
                item = f"the reading process ended without finishing ({exc!r})"
            if not handed_over(item) or not isinstance(item, _Chunk):
                return  # the writer stopped, or the reader said its last word

    receiving = threading.Thread(target=receive, name="vaxreg-import-receiver", daemon=True)
    receiving.start()
    try:
        while True:
            item = ahead.get()
            if item is None:
                return
            if isinstance(item, str):
                raise ImportReaderFailed(item)
            if isinstance(item, FileRefused):
                raise item
            yield item
    finally:
        stop.set()
        if child.is_alive():
            child.kill()
        child.join()
        receiving.join()
        receiver.close()


@dataclass
class _ChunkWrites:
    """The rows a matched chunk adds, and how the next chunk finds them before they are in the tables."""

    persons: list[tuple[Any, ...]] = field(default_factory=list)
    doses: list[tuple[Any, ...]] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)
    parents: dict[str, set[Any]] = field(default_factory=dict)  # table → keys the rows point at
    person_keys: dict[tuple[Any, ...], int] = field(default_factory=dict)  # match key → new person id
    person_homes: dict[int, str] = field(default_factory=dict)  # new person id → its home (a dose's too)
    dose_keys: dict[tuple[int, str], str] = field(default_factory=dict)  # (facility, source id) → fingerprint


class _Writer:
    """Writes a chunk's rows while the next chunk is matched: on a thread for PostgreSQL, inline for SQLite.

    The database spends its time on a chunk's ``COPY`` (index upkeep, mostly) while Python matches the next
    chunk; one after the other, each waits for the other. The thread holds the connection from ``submit``
    until ``wait`` returns, and the importer touches the connection only in between. SQLite's connection
    belongs to its thread, and its inserts are Python-bound anyway: there the writes run at once.
    """

    def __init__(self, *, threaded: bool) -> None:
        self._pool = (
            ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="vaxreg-import-writer", initializer=_yield_to_the_reader
            )
            if threaded
            else None
        )
        self._running: Future[None] | None = None

    def submit(self, write: Callable[["_ChunkWrites"], None], writes: "_ChunkWrites") -> None:
        self.wait()
        if self._pool is None:
            write(writes)
        else:
            self._running = self._pool.submit(write, writes)

    def wait(self) -> None:
        """Block until the last submitted write is done; raise its error, if it failed."""
        running, self._running = self._running, None
        if running is not None:
            running.result()

    def close(self) -> None:
        """Wait for a running write, whatever happened (the transaction cannot roll back under it)."""
        self._running = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _yield_to_the_reader() -> None:
    """Lower the writer thread's priority: when the reading process (the slowest stage) and this thread want
    the same core, the reader gets it, and the thread catches up in the gaps. Linux schedules threads one by
    one and ends this one with the import; elsewhere the call would reach the whole process, so it is not made."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):  # not permitted here: the thread keeps its priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICENESS)


class ImportReaderFailed(RuntimeError):
    """The process reading the file stopped with an error (its traceback is the message)."""


def _fingerprints(rows: list[CompactRow]) -> dict[tuple[int, str], str]:
    """Each row's dose key (facility id, source record id) → the row's fingerprint."""
    return {
        (facility_id, source_id): fingerprint for _, facility_id, _, source_id, _, _, _, fingerprint in rows
    }


def _birth_parts(row: DoseRow) -> tuple[int | None, int | None, int | None]:
    return (row.birth_year, row.birth_month, row.birth_day)


def _pg_array(values: Iterable[Any], sql_type: str = "text") -> tuple[str, str]:
    """A PostgreSQL array parameter: its SQL and its one parameter, a JSON list.

    psycopg adapts a list parameter element by element in Python (about a microsecond each, thousands per
    chunk); ``json.dumps`` writes the same list at C speed and the server splits it.
    """
    return f"ARRAY(SELECT json_array_elements_text(%s::json))::{sql_type}[]", json.dumps(
        list(values), ensure_ascii=False
    )


def _in_clause(values: Sequence[Any], sql_type: str = "text") -> tuple[str, list[Any]]:
    """``IN (...)`` for SQLite, ``= ANY(array)`` for PostgreSQL (one parameter, any length)."""
    if connection.vendor == "postgresql":
        array, param = _pg_array(values, sql_type)
        return f"= ANY({array})", [param]
    return f"IN ({', '.join(['%s'] * len(values))})", list(values)


def _chunks_of(values: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    step = size if connection.vendor == "sqlite" else 100_000
    for start in range(0, len(values), step):
        yield values[start : start + step]


class ParentKeys:
    """The foreign-key checks of an import on PostgreSQL, made once per parent row instead of once per row.

    PostgreSQL checks each foreign key of each inserted row with its own query at commit (seven per dose and
    person: almost half the time of a large import). When the database lets the import switch those
    per-row triggers off for its transaction (``session_replication_role``: a superuser, or a role granted
    ``SET`` on it), the importer makes the same checks itself: every parent a chunk points at is read with
    the same ``FOR KEY SHARE`` lock the trigger takes (so nobody can delete it before the commit), once per
    import. A missing parent stops the import, as the trigger would. Without the grant the triggers stay on
    and this class does nothing.

    On a Citus cluster the triggers that check a row's keys run on the worker that stores its shard: the
    setting is carried to the workers' connections of the transaction (``citus.propagate_set_commands``),
    and a stored person is locked on its own shard, by its home.
    """

    def __init__(self) -> None:
        self.active = False
        self._checked: dict[str, set[Any]] = {}

    def switch_triggers_off(self) -> None:
        if connection.vendor != "postgresql" or settings.VAXREG_IMPORT_KEY_CHECKS != "importer":
            return
        with connection.cursor() as cursor:
            if is_citus(connection):
                # Not tried in a savepoint as below: Citus forgets a SET LOCAL made inside a savepoint when the
                # savepoint ends, and would not give it to the workers' connections opened after.
                cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
                if not cursor.fetchone()[0]:
                    return
                cursor.execute("SET LOCAL citus.propagate_set_commands = 'local'")
                cursor.execute("SET LOCAL session_replication_role = replica")
                self.active = True
                return
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:  # not granted: the database keeps checking, row by row
            return
        # A savepoint's SET LOCAL outlives the savepoint's release; it ends with the transaction, or earlier,
        # at ``switch_triggers_on``.
        self.active = True

    def switch_triggers_on(self) -> None:
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")
            self.active = False

    def require(self, table: str, ids: Iterable[Any]) -> None:
        """Lock the rows of ``table`` with these keys against deletion; fail if one does not exist. The keys
        of ``people_person`` are (home, id) pairs."""
        if not self.active:
            return
        checked = self._checked.setdefault(table, set())
        wanted = {i for i in ids if i is not None} - checked
        if not wanted:
            return
        if table == PERSON_TABLE:
            self._require_persons(wanted)
            checked |= wanted
            return
        with connection.cursor() as cursor:
            key = PRIMARY_KEYS.get(table, "id")
            clause, params = _in_clause(sorted(wanted), "text" if table in PRIMARY_KEYS else "bigint")
            cursor.execute(f"SELECT {key} FROM {table} WHERE {key} {clause} FOR KEY SHARE", params)
            found = {row[0] for row in cursor.fetchall()}
        _refuse_missing(table, wanted - found)
        checked |= wanted

    def _require_persons(self, wanted: set[tuple[str, int]]) -> None:
        found: set[int] = set()
        with connection.cursor() as cursor:
            for where, params in _persons_by_home(wanted):
                cursor.execute(f"SELECT id FROM {PERSON_TABLE} WHERE {where} FOR KEY SHARE", params)
                found.update(row[0] for row in cursor.fetchall())
        _refuse_missing(PERSON_TABLE, {person_id for _, person_id in wanted} - found)


def _persons_by_home(wanted: Iterable[tuple[str, int]]) -> list[tuple[str, list[Any]]]:
    """The conditions (and their parameters) that name these (home, id) persons: one per home on Citus, where
    a row lock, or a read that is to go to one shard, names the home; one for all of them elsewhere."""
    groups: dict[str, set[int]] = {}
    citus = is_citus(connection)
    for home, person_id in wanted:
        groups.setdefault(home if citus else "", set()).add(person_id)
    conditions = []
    for home, person_ids in sorted(groups.items()):
        clause, params = _in_clause(sorted(person_ids), "bigint")
        conditions.append(
            (f"id {clause} AND home = %s", [*params, home]) if home else (f"id {clause}", params)
        )
    return conditions


def _refuse_missing(table: str, missing: set[Any]) -> None:
    if missing:
        raise IntegrityError(
            f"{table}: no row with id {sorted(missing, key=str)[:5]} (referenced by the import)"
        )


class DeferredIndexes:
    """The secondary indexes of the person and dose tables, left off while an import loads them empty.

    PostgreSQL keeps every index up to date row by row, and on a large load that upkeep is most of the
    database's work; building an index once over the loaded rows costs a fraction of it (PostgreSQL's own
    advice for populating a database). So when an import finds both tables empty (the first load of a
    new installation), it takes their exclusive lock, drops their indexes other than the primary keys, and
    builds them again exactly as they were, in the same transaction: as soon as it needs one for a lookup,
    when the persons it must remember grow past ``CREATED_PERSON_KEYS_MAX`` keys, and at its end. A rollback or a
    crash brings the old indexes back with everything else. Other sessions reading these tables wait for
    the commit (there is nothing to read yet); when the lock is not free within ``LOCK_WAIT``, or a table
    holds any row, nothing is deferred.
    """

    TABLES = (PERSON_TABLE, DOSE_TABLE)

    def __init__(self) -> None:
        self.active = False
        self._rebuild: list[str] = []  # the statements that make the dropped indexes again

    def defer(self) -> bool:
        """Drop the indexes if the tables are empty and can be locked at once; True when they were."""
        if (
            connection.vendor != "postgresql"
            or not settings.VAXREG_IMPORT_DEFER_INDEXES
            or not self._tables_empty()
        ):
            return False
        tables = ", ".join(self.TABLES)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('lock_timeout')")
                lock_timeout = cursor.fetchone()[0]
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_WAIT])
                cursor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
                if not self._tables_empty():  # filled by a commit between the first look and the lock
                    raise _KeepIndexes
                drops, self._rebuild = self._definitions(cursor)
                for statement in drops:
                    cursor.execute(statement)
        except (
            _KeepIndexes,
            DatabaseError,
        ):  # the savepoint's rollback releases the lock and undoes the drops
            self._rebuild = []
            return False
        self.active = bool(self._rebuild)
        return self.active

    def restore(self) -> None:
        """Build the dropped indexes again, over the rows written so far (later rows go in as usual)."""
        if not self.active:
            return
        with connection.cursor() as cursor:
            # An index cannot be built over rows whose deferred key checks are pending (when the database checks
            # keys row by row): they run now instead of at the commit. Every deferrable constraint of the schema
            # is initially deferred, which ``ALL DEFERRED`` then restores.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for statement in self._rebuild:
                cursor.execute(statement)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        self.active = False
        self._rebuild = []

    def _tables_empty(self) -> bool:
        with connection.cursor() as cursor:
            conditions = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {table})" for table in self.TABLES)
            cursor.execute(f"SELECT {conditions}")
            return bool(cursor.fetchone()[0])

    def _definitions(self, cursor: Any) -> tuple[list[str], list[str]]:
        """The statements that drop the tables' secondary indexes (and the constraints behind some), and those
        that make them again, read from the catalogue."""
        cursor.execute(
            "SELECT x.indrelid::regclass::text, quote_ident(i.relname), pg_get_indexdef(x.indexrelid), "
            "quote_ident(con.conname), pg_get_constraintdef(con.oid) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid "
            "WHERE x.indrelid = ANY(%s::regclass[]) AND NOT x.indisprimary ORDER BY 1, 2",
            [list(self.TABLES)],
        )
        drops, creates = [], []
        for table, index, index_definition, constraint, constraint_definition in cursor.fetchall():
            if constraint:
                drops.append(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
                creates.append(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {constraint_definition}")
            else:
                drops.append(f"DROP INDEX {index}")
                creates.append(index_definition)
        return drops, creates


class _KeepIndexes(Exception):
    """A table filled up before the lock was taken: the indexes stay."""


class FreshFacilityKeys:
    """Which rows of a chunk may already be stored, without asking the database about most of them.

    Looking up a row's (facility, source record id) costs the database an index probe, a fifth of what it
    spends on a new row. A facility that had no dose when the import first met it (the usual first load of
    its records) can only hold the doses this import wrote since: the hashes of their keys are kept here,
    and only a row whose hash was seen before (a row repeated in the file, or a rare collision) is looked
    up. Past ``limit`` hashes every row is looked up again, so memory stays bounded whatever the file size.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = FRESH_KEYS_MAX if limit is None else limit
        self._known: set[int] = set()  # facilities asked about
        self._fresh: set[int] = set()  # of those, the ones that had no dose
        self._written = HashedKeys()
        self.started_empty = (
            False  # the dose table held no row when the import began: every facility is fresh
        )

    def learn(self, facility_ids: set[int]) -> None:
        """Ask once per facility, before the import writes any of its doses, whether it has any."""
        unknown = sorted(facility_ids - self._known)
        if not unknown or self.limit <= 0:
            return
        if self.started_empty:
            self._known.update(unknown)
            self._fresh.update(unknown)
            return
        with connection.cursor() as cursor:
            stocked: set[int] = set()
            if is_citus(connection):
                # Citus cannot correlate a sub-query with the reference table of facilities: one look each.
                for facility_id in unknown:
                    cursor.execute(
                        f"SELECT 1 FROM {DOSE_TABLE} WHERE facility_id = %s LIMIT 1", [facility_id]
                    )
                    if cursor.fetchone():
                        stocked.add(facility_id)
            else:
                for part in _chunks_of(unknown):
                    clause, params = _in_clause(part, "bigint")
                    cursor.execute(
                        f"SELECT f.id FROM places_facility f WHERE f.id {clause} "
                        f"AND EXISTS (SELECT 1 FROM {DOSE_TABLE} d WHERE d.facility_id = f.id)",
                        params,
                    )
                    stocked.update(row[0] for row in cursor.fetchall())
        self._known.update(unknown)
        self._fresh.update(set(unknown) - stocked)

    def hashes(self, keys: Iterable[tuple[int, str]]) -> set[int]:
        """The hashes of a chunk's distinct keys, made once for ``maybe_stored`` and ``remember``."""
        return set(map(hash, keys)) if self.limit > 0 else set()

    def maybe_stored(
        self, rows: list[CompactRow], facility_ids: set[int], key_hashes: set[int]
    ) -> list[CompactRow]:
        """The rows whose key may be in the database already (of learnt facilities); ``facility_ids`` and
        ``key_hashes`` are those of ``rows``."""
        if self.limit <= 0:
            return rows
        fresh, written = self._fresh, self._written
        if facility_ids <= fresh and not written.any_seen(key_hashes):
            return []  # the usual chunk of a first load, answered without a look at each row
        seen = written.seen([hash((r[1], r[3])) for r in rows])
        return [r for r, was_seen in zip(rows, seen, strict=True) if r[1] not in fresh or was_seen]

    def remember(
        self, rows: list[CompactRow], facility_ids: set[int], key_hashes: set[int] | None = None
    ) -> None:
        """Note the keys of doses just written; ``facility_ids`` and ``key_hashes`` (when known) are theirs."""
        if self.limit <= 0:
            return
        fresh = self._fresh
        if key_hashes is not None and facility_ids <= fresh:
            self._written.add(key_hashes)
        else:
            self._written.add([hash((r[1], r[3])) for r in rows if r[1] in fresh])
        if len(self._written) > self.limit:
            self.limit = 0  # from here on every row is looked up
            self._written = HashedKeys()


def _stored_id_key(number: str, name_key: str, year: int | None) -> tuple[Any, ...] | None:
    """The match key of a stored person as a row with this usable ID number finds it."""
    return match_key(
        usable_id=True,
        id_number=number,
        name_key=name_key,
        year=year,
        month=None,
        day=None,
        gender="",
        commune="",
    )


def _stored_name_key(
    name_key: str, year: int | None, month: int | None, day: int | None, gender: str, commune: str
) -> tuple[Any, ...] | None:
    """The match key of a stored person as a row without a usable ID finds it (by its description)."""
    return match_key(
        usable_id=False, id_number="", name_key=name_key, year=year, month=month, day=day, gender=gender,
        commune=commune,
    )  # fmt: skip


class BatchImporter:
    """Imports the rows of one batch. Call ``run`` inside a transaction."""

    def __init__(
        self,
        *,
        batch_id: int,
        normalizer: RowNormalizer,
        headers: list[str],
        progress: Callable[[ImportCounts], None] | None = None,
    ) -> None:
        self.batch_id = batch_id
        self.normalizer = normalizer
        self.headers = headers
        self.progress = progress
        self.writer = BulkWriter()
        self.rejected_rows = RejectedRowsTable(batch_id=batch_id, writer=self.writer)
        self.counts = ImportCounts(sink=self.rejected_rows)
        self.parents = ParentKeys()
        self.fresh = FreshFacilityKeys()
        self.indexes = DeferredIndexes()
        # While the indexes are off: match key → id of every person this import created (nobody else's exist).
        self._created = CreatedRows()  # the persons of a first load, by their keys (see ``_persons_created``)
        # Stored doses an earlier row of this file already named: a later row with other values for one of
        # them is refused, as it is inside a chunk (the earlier row is kept).
        self._doses_named: set[int] = set()
        self.touched_person_ids: set[int] = set()  # persons this import created or changed, or gave a dose
        self._created_provinces: set[str] = set()  # the provinces of the persons this import created
        # The facilities of the doses it created or changed, and the communes and provinces its changed persons
        # left: the units whose figures it moved beside the touched persons' own (``figures_touched``).
        self.touched_facility_ids: set[int] = set()
        self.left_communes: set[str | None] = set()
        self.left_provinces: set[str | None] = set()
        # Persons already in the table when a chunk met them (stored before, or by an earlier chunk) that the
        # import changed or gave a dose; none when the table was empty when the import began.
        self._stored_person_ids: set[int] = set()
        # The (commune, province) of each person it created, and the stored persons whose own values it changed
        # (and the units they left): the units whose person figures it moved, known without reading the persons
        # again. A dose given to a stored person moves its facility's figures, and its findings and cases are
        # named by the re-check and the case sync that follow, where they open or close.
        self.created_places: set[tuple[str | None, str | None]] = set()
        self.changed_person_ids: set[int] = set()
        self.writes = _Writer(threaded=connection.vendor == "postgresql")
        self._in_flight = _ChunkWrites()  # matched, not yet handed to the writer
        self._spare_person_ids: list[int] = []

    def run(self, rows: Iterable[SourceRow]) -> ImportCounts:
        # The import makes no reference cycles, and the cyclic collector, walking the large lookup maps
        # and caches again and again, would cost more time than everything else put together.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(rows)
        finally:
            self.writes.close()
            self.parents.switch_triggers_on()
            if gc_was_enabled:
                gc.enable()

    def _run(self, rows: Iterable[SourceRow]) -> ImportCounts:
        if connection.vendor == "postgresql":
            # Two imports matching persons at the same time could each create the same new person: imports
            # take turns, as they do on SQLite, whose single writer serialises them anyway.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])
            # The tables grow by millions of rows inside this one transaction, where the planner's
            # statistics cannot follow; the lookups here are all point lookups, so they are pinned to
            # index scans rather than left to estimates that go stale as the import runs.
            with connection.cursor() as cursor:
                for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                    cursor.execute(f"SET LOCAL {setting} = off")
                # Starting parallel workers costs more than the few milliseconds such a lookup takes.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            self.parents.switch_triggers_off()
            self.parents.require("imports_importbatch", [self.batch_id])
            self.fresh.started_empty = self.indexes.defer()
        for table, columns in (
            (PERSON_TABLE, PERSON_COLUMNS),
            (DOSE_TABLE, DOSE_COLUMNS),
            (REJECTED_TABLE, REJECTED_COLUMNS),
        ):
            self.writer.prepare(table, columns)
        chunks = self._read_chunks(rows)
        if READ_IN_CHILD_PROCESS and can_fork():
            chunks = _from_child_process(chunks)
        for chunk in chunks:
            self.counts.rows_read += chunk.rows_read
            self.counts.rows_blank += chunk.rows_blank
            self._write_chunk(chunk)
        self.writes.wait()
        self._hand_over()
        self.writes.wait()
        self._restore_indexes()
        return self.counts

    def _restore_indexes(self) -> None:
        self.indexes.restore()
        self._created = CreatedRows()

    def _read_chunks(self, rows: Iterable[SourceRow]) -> Iterator[_Chunk]:
        """Normalised rows, a chunk at a time (pure Python, no database). Every row read is stored or
        rejected, so a chunk's count of rows read is the sum of the two."""
        normalize = self.normalizer.normalize
        chunk = _Chunk()
        stored, rejected = chunk.rows, chunk.rejected
        for number, values, error in rows:
            if error:
                reason = Reason(
                    "LINE_UNREADABLE", "", f"Dòng không đọc được: {error}", f"The line cannot be read: {error}"
                )  # fmt: skip
                rejected.append((number, {}, [reason.as_dict()]))
            else:
                result = normalize(number, values)
                if result is None:
                    chunk.rows_blank += 1
                    continue
                if isinstance(result, tuple):
                    stored.append(result)
                else:
                    rejected.append((number, raw_cells(values, self.headers), [r.as_dict() for r in result]))
            if len(stored) + len(rejected) >= CHUNK_ROWS:
                chunk.rows_read = CHUNK_ROWS
                yield chunk
                chunk = _Chunk()
                stored, rejected = chunk.rows, chunk.rejected
        chunk.rows_read = len(stored) + len(rejected)
        yield chunk

    # -- one chunk -------------------------------------------------------------------------------------

    def _write_chunk(self, chunk: _Chunk) -> None:
        now = clock.now()
        db_now = connection.ops.adapt_datetimefield_value(now)
        rows = chunk.rows
        # Before the previous chunk's rows have landed: does any row name a dose twice (within the chunk, or
        # after the previous one)? Usually not, and then only the stored doses need a row-by-row look.
        fingerprints = _fingerprints(rows)
        facility_ids = {row[1] for row in rows}
        repeats = len(fingerprints) < len(rows) or not self._in_flight.dose_keys.keys().isdisjoint(
            fingerprints
        )
        key_hashes = self.fresh.hashes(fingerprints)
        self.writes.wait()  # the connection is this thread's again until the next hand-over
        self.fresh.learn(facility_ids)
        maybe_stored = self.fresh.maybe_stored(rows, facility_ids, key_hashes)
        if maybe_stored or len(self._created) > CREATED_PERSON_KEYS_MAX:
            self._restore_indexes()  # a lookup needs them, or the persons to remember are too many
        existing = self._existing_doses(maybe_stored)
        # The usual chunk of a first load: every row is a new dose.
        new_rows, changed = (
            self._classify(rows, existing, chunk.rejected) if repeats or existing else (rows, [])
        )
        # Every read of this chunk is done after the lookups: the previous chunk's rows go to the database while
        # this one is matched. Until they land, its new persons and doses are found in ``in_flight``.
        in_flight = self._in_flight
        persons = [row[6] for row in new_rows]
        homes = dict(in_flight.person_homes)  # with the stored persons' the lookups find
        known = in_flight.person_keys
        if self.indexes.active:
            # Nothing was stored before this import: the persons to find are its own.
            by_id, by_name = self._persons_created(persons, homes)
        else:
            by_id = self._persons_by_id_number([p[P_ID_NUMBER] for p in persons if p[P_USABLE_ID]], homes)
            by_name = self._persons_by_name_key(
                [p for p in persons if not p[P_USABLE_ID] and p[P_NAME_KEY]], homes
            )
        self._update(changed, now, db_now, chunk.rejected)
        self._reserve_person_ids(len(new_rows))
        self._hand_over()
        every_row_new = new_rows is rows
        new_fingerprints = fingerprints if every_row_new else _fingerprints(new_rows)
        self._in_flight = self._match(new_rows, by_id, by_name, db_now, known, homes, new_fingerprints)
        # Counted now, handed to the writer with this chunk's persons and doses (see ``_hand_over``).
        self.counts.reject(rejected_lines(chunk.rejected))
        if self.indexes.active:  # none of the chunk's keys is known yet (see ``_match``)
            self._created.add(self._in_flight.person_keys, self._in_flight.person_homes)
        self.fresh.remember(new_rows, facility_ids, key_hashes if every_row_new else None)
        if self.progress:
            self.progress(self.counts)

    def _classify(
        self,
        rows: list[CompactRow],
        existing: dict[tuple[int, str], tuple[int, int, str, int | None]],
        rejected: list[RejectedTuple],
    ) -> tuple[list[CompactRow], list[tuple[DoseRow, int, int]]]:
        """The rows that are new doses, and the stored doses a row gives other values (row, dose id, person
        id); the other rows are counted as unchanged, or added to ``rejected`` (a dose the file already named
        with other values)."""
        in_flight = self._in_flight
        new_rows: list[CompactRow] = []
        changed: list[tuple[DoseRow, int, int]] = []
        seen_in_chunk: dict[tuple[int, str], str] = {}
        for row in rows:
            key, fingerprint = (row[1], row[3]), row[7]
            if key in seen_in_chunk:
                if seen_in_chunk[key] == fingerprint:
                    self.counts.doses_unchanged += 1
                    self.counts.rows_stored += 1
                else:
                    rejected.append(self._conflict(row))
                continue
            seen_in_chunk[key] = fingerprint
            found = existing.get(key)
            if found is None:
                written = in_flight.dose_keys.get(key)  # a dose of the previous chunk, not in the table yet
                if written is None:
                    new_rows.append(row)
                elif written == fingerprint:
                    self.counts.doses_unchanged += 1
                    self.counts.rows_stored += 1
                else:
                    rejected.append(self._conflict(row))
                continue
            dose_id, person_id, source_hash, created_batch_id = found
            if source_hash == fingerprint:
                self._doses_named.add(dose_id)
                self.counts.doses_unchanged += 1
                self.counts.rows_stored += 1
            elif created_batch_id == self.batch_id or dose_id in self._doses_named:
                rejected.append(self._conflict(row))
            else:
                changed.append((DoseRow.of(row), dose_id, person_id))
        return new_rows, changed

    def _conflict(self, compact_row: CompactRow) -> RejectedTuple:
        row = DoseRow.of(compact_row)
        reason = Reason(
            "DUPLICATE_SOURCE_ID_CONFLICT",
            "Mã bản ghi",
            f"Mã bản ghi “{row.source_record_id}” của cơ sở {row.facility_code} đã xuất hiện ở một dòng trước trong tệp "
            "này với nội dung khác; dòng trước được giữ.",
            f"Source record id “{row.source_record_id}” of facility {row.facility_code} appears on an earlier row of "
            "this file with different values; the earlier row is kept.",
        )
        return (row.number, _row_as_raw(row), [reason.as_dict()])

    def _existing_doses(
        self, rows: list[CompactRow]
    ) -> dict[tuple[int, str], tuple[int, int, str, int | None]]:
        found: dict[tuple[int, str], tuple[int, int, str, int | None]] = {}
        if not rows:
            return found
        columns = "d.id, d.facility_id, d.source_record_id, d.person_id, d.source_hash, d.created_batch_id"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                facility_array, facility_list = _pg_array((r[1] for r in rows), "bigint")
                source_array, source_list = _pg_array(r[3] for r in rows)
                cursor.execute(
                    f"SELECT {columns} FROM {DOSE_TABLE} d JOIN unnest({facility_array}, {source_array}) AS k(f, s) "
                    "ON d.facility_id = k.f AND d.source_record_id = k.s",
                    [facility_list, source_list],
                )
                results = cursor.fetchall()
            else:
                by_facility: dict[int, list[str]] = {}
                for row in rows:
                    by_facility.setdefault(row[1], []).append(row[3])
                results = []
                for facility_id, source_ids in by_facility.items():
                    for part in _chunks_of(source_ids):
                        clause, params = _in_clause(part)
                        cursor.execute(
                            f"SELECT {columns} FROM {DOSE_TABLE} d WHERE d.facility_id = %s AND d.source_record_id {clause}",
                            [facility_id, *params],
                        )
                        results += cursor.fetchall()
        for dose_id, facility_id, source_id, person_id, source_hash, created_batch_id in results:
            found[(facility_id, source_id)] = (dose_id, person_id, source_hash, created_batch_id)
        return found

    # -- new doses: match or create their persons ------------------------------------------------------

    def _reserve_person_ids(self, at_most: int) -> None:
        """Enough ids for the new persons of a chunk (at most one per row), taken while the connection is
        free; what a chunk does not use is kept for the next."""
        if len(self._spare_person_ids) < at_most:
            self._spare_person_ids += self.writer.allocate_ids(
                PERSON_TABLE, at_most - len(self._spare_person_ids)
            )

    def _match(
        self,
        rows: list[CompactRow],
        by_id: Candidates,
        by_name: Candidates,
        db_now: Any,
        known: dict[tuple[Any, ...], int],
        homes: dict[int, str],
        fingerprints: dict[tuple[int, str], str],
    ) -> "_ChunkWrites":
        """The persons and doses of a chunk's new rows: each row's person found among the stored persons
        (``by_id``, ``by_name``), the persons not in the table yet (``known``: match key → id) or earlier rows
        of this chunk, or else created. The keys of the new persons that are not in ``known`` already are in
        the result's ``person_keys``. ``homes``: the home of each person ``by_id``, ``by_name`` and ``known``
        may give. ``fingerprints``: each row's dose key → fingerprint. No database access."""
        new_persons: list[tuple[Any, ...]] = []  # the person fields of each new person's first row
        person_of_row: list[int] = []  # a person id, or -(1 + position in new_persons)
        pending: dict[tuple[Any, ...], int] = {}  # match key → position in new_persons
        last_key: tuple[Any, ...] | None = None
        last_ref = 0
        for row in rows:
            person = row[6]
            key = person[P_MATCH_KEY]
            if key is last_key and key is not None:
                # The same person as the row before, as a file usually lists a person's doses: one key object
                # (the reading process makes it once per person), so the answer is the one just found.
                person_of_row.append(last_ref)
                continue
            person_id = None
            if key is not None:
                if person[P_USABLE_ID]:
                    candidates = by_id.get(person[P_ID_NUMBER], ())
                else:
                    candidates = by_name.get(person[P_NAME_KEY], ())
                if candidates:
                    person_id = next((pid for ckey, pid in candidates if ckey == key), None)
                person_id = person_id or known.get(key)
            if person_id is not None:
                ref = person_id
            elif key is not None and key in pending:
                ref = -1 - pending[key]
            else:
                if key is not None:
                    pending[key] = len(new_persons)
                    name_match_key = person[P_NAME_MATCH_KEY]
                    if person[P_USABLE_ID] and name_match_key is not None and name_match_key not in known:
                        # Rows without an ID find this person by name, birth date, gender and commune too (the
                        # first person so described, as in the table, where the lowest id comes first).
                        pending.setdefault(name_match_key, len(new_persons))
                new_persons.append(person)
                ref = -len(new_persons)
            person_of_row.append(ref)
            last_key, last_ref = key, ref

        person_ids = self._spare_person_ids[: len(new_persons)]
        del self._spare_person_ids[: len(new_persons)]
        person_tail = ("unverified", self.batch_id, db_now, db_now, 1)
        new_homes = [home_of(person[P_PROVINCE]) for person in new_persons]
        writes = _ChunkWrites(
            persons=[
                (pid, *person[:PERSON_STORED], *person_tail, home)
                for pid, person, home in zip(person_ids, new_persons, new_homes, strict=True)
            ],
            person_keys={key: person_ids[position] for key, position in pending.items()},
            person_homes=dict(zip(person_ids, new_homes, strict=True)),
            dose_keys=fingerprints,
        )
        writes.parents = {
            "places_commune": {person[P_COMMUNE] for person in new_persons},
            "places_province": {person[P_PROVINCE] for person in new_persons},
            "places_facility": {row[1] for row in rows},
            "vaccinations_vaccine": {row[5][D_VACCINE] for row in rows},
            # Stored persons only: nobody else can see, let alone delete, the persons this import creates (all
            # of them, when the table was empty when it began).
            PERSON_TABLE: set()
            if self.fresh.started_empty
            else {(homes[ref], ref) for ref in person_of_row if ref > 0},
        }
        self.created_places.update((person[P_COMMUNE], person[P_PROVINCE]) for person in new_persons)
        self._created_provinces |= writes.parents["places_province"]
        self.touched_facility_ids |= writes.parents["places_facility"]
        self._stored_person_ids.update(person_id for _, person_id in writes.parents[PERSON_TABLE])
        self.counts.ids_repaired += sum(1 for person in new_persons if person[P_ID_REPAIRED])
        self.counts.persons_created += len(person_ids)
        person_id_of_row = [ref if ref > 0 else person_ids[-ref - 1] for ref in person_of_row]
        home_of_row = [homes[ref] if ref > 0 else new_homes[-ref - 1] for ref in person_of_row]
        self.touched_person_ids.update(person_id_of_row)
        dose_tail = ("valid", False, self.batch_id, db_now, db_now, 1)
        dates = DAY_DATES
        writes.doses = [
            (
                person_id,
                *dose,
                dates.get(day) or day_date(day),
                facility_id,
                source_id,
                number,
                fingerprint,
                *dose_tail,
                home,
            )
            for (number, facility_id, _, source_id, day, dose, _, fingerprint), person_id, home in zip(
                rows, person_id_of_row, home_of_row, strict=True
            )
        ]
        self.counts.doses_created += len(writes.doses)
        self.counts.rows_stored += len(writes.doses)
        return writes

    def _hand_over(self) -> None:
        """Lock the parents the matched chunk points at, then give its rows to the writer."""
        writes = self._in_flight
        writes.rejected = self.rejected_rows.take()
        for table, keys in writes.parents.items():
            self.parents.require(table, keys)
        self._in_flight = _ChunkWrites()
        if writes.persons or writes.doses or writes.rejected:
            self.writes.submit(self._write_rows, writes)

    def _write_rows(self, writes: "_ChunkWrites") -> None:
        """Runs on the writer thread: only the writer's own connection handle, never Django's."""
        self.writer.insert(PERSON_TABLE, PERSON_COLUMNS, writes.persons, json_columns=("unparsed",))
        self.writer.insert(DOSE_TABLE, DOSE_COLUMNS, writes.doses, json_columns=("unparsed",))
        self.rejected_rows.write(writes.rejected)

    def _persons_created(
        self, persons: list[tuple[Any, ...]], homes: dict[int, str]
    ) -> tuple[Candidates, Candidates]:
        """The stored persons (all created by this import, on a first load) that may be those of ``persons``,
        as ``_persons_by_id_number`` and ``_persons_by_name_key`` give them: the hashes of the keys name the
        few candidates, read by their primary key, on their own shard on Citus, and ``_match`` compares the
        keys themselves. A person whose key's hash was never seen is new without a read. Keys ``known`` (to
        persons not written yet) are asked too: a stored person with the same key comes first."""
        keys = {p[P_MATCH_KEY] for p in persons} - {None}
        wanted = self._created.candidates(keys) if keys else {}
        by_id: Candidates = {}
        by_name: Candidates = {}
        if not wanted:
            return by_id, by_name
        results: list[tuple[Any, ...]] = []
        with connection.cursor() as cursor:
            for where, params in _persons_by_home(
                (home, person_id) for home, person_ids in wanted.items() for person_id in person_ids
            ):
                cursor.execute(
                    "SELECT id, id_number, name_key, birth_year, birth_month, birth_day, gender, commune_id, "
                    f"commune_code_raw, home FROM {PERSON_TABLE} WHERE {where} AND merged_into_id IS NULL",
                    params,
                )
                results += cursor.fetchall()
        for pid, number, name_key, year, month, day, gender, commune_id, commune_raw, home in sorted(results):
            homes[pid] = home
            if number:
                by_id.setdefault(number, []).append((_stored_id_key(number, name_key, year), pid))
            key = _stored_name_key(name_key, year, month, day, gender, commune_id or commune_raw)
            by_name.setdefault(name_key, []).append((key, pid))
        return by_id, by_name

    def _persons_by_id_number(self, numbers: list[str], homes: dict[int, str]) -> Candidates:
        """Stored persons with these ID numbers; their homes go into ``homes``."""
        found: Candidates = {}
        unique = sorted(set(numbers))
        with connection.cursor() as cursor:
            for part in _chunks_of(unique):
                clause, params = _in_clause(part)
                cursor.execute(
                    f"SELECT id, id_number, name_key, birth_year, home FROM {PERSON_TABLE} "
                    f"WHERE id_number {clause} AND merged_into_id IS NULL ORDER BY id",
                    params,
                )
                for pid, number, name_key, birth_year, home in cursor.fetchall():
                    homes[pid] = home
                    found.setdefault(number, []).append((_stored_id_key(number, name_key, birth_year), pid))
        return found

    def _persons_by_name_key(self, persons: list[tuple[Any, ...]], homes: dict[int, str]) -> Candidates:
        """Persons who could be the same as rows without a usable ID: same folded name and birth year (the
        index's two columns; common names have thousands of holders, so the year narrows at the index).
        Their homes go into ``homes``."""
        found: Candidates = {}
        columns = (
            "id, name_key, birth_year, birth_month, birth_day, gender, commune_id, commune_code_raw, home"
        )
        pairs = sorted({(p[P_NAME_KEY], p[P_BIRTH_YEAR]) for p in persons}, key=lambda p: (p[0], p[1] or 0))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                dated = [p for p in pairs if p[1] is not None]
                name_array, names = _pg_array(n for n, _ in dated)
                year_array, years = _pg_array((y for _, y in dated), "int")
                undated_array, undated = _pg_array(n for n, y in pairs if y is None)
                cursor.execute(
                    f"SELECT {columns} FROM {PERSON_TABLE} p JOIN unnest({name_array}, {year_array}) AS k(n, y) "
                    "ON p.name_key = k.n AND p.birth_year = k.y WHERE p.merged_into_id IS NULL "
                    f"UNION ALL SELECT {columns} FROM {PERSON_TABLE} WHERE name_key = ANY({undated_array}) "
                    "AND birth_year IS NULL AND merged_into_id IS NULL ORDER BY id",
                    [names, years, undated],
                )
                results = cursor.fetchall()
            else:
                results = []
                for part in _chunks_of(sorted({n for n, _ in pairs})):
                    clause, params = _in_clause(part)
                    cursor.execute(
                        f"SELECT {columns} FROM {PERSON_TABLE} WHERE name_key {clause} AND merged_into_id IS NULL "
                        "ORDER BY id",
                        params,
                    )
                    results += cursor.fetchall()
        for pid, name_key, year, month, day, gender, commune_id, commune_raw, home in results:
            homes[pid] = home
            key = _stored_name_key(name_key, year, month, day, gender, commune_id or commune_raw)
            found.setdefault(name_key, []).append((key, pid))
        return found

    @property
    def stored_person_ids(self) -> set[int]:
        """The persons stored before this import that it changed or gave a dose."""
        return self._stored_person_ids

    def touched_provinces(self) -> set[str]:
        """The provinces of the persons the import touched: known for those it created, read for the others."""
        provinces = set(self._created_provinces)
        stored = sorted(self._stored_person_ids)
        with connection.cursor() as cursor:
            for part in _chunks_of(stored):
                clause, params = _in_clause(part, "bigint")
                cursor.execute(
                    f"SELECT DISTINCT province_id FROM {PERSON_TABLE} WHERE id {clause} AND province_id IS NOT NULL",
                    params,
                )
                provinces.update(row[0] for row in cursor.fetchall())
        return provinces

    # -- changed rows: update with history -------------------------------------------------------------

    def _update(
        self,
        changed: list[tuple[DoseRow, int, int]],
        now: dt.datetime,
        db_now: Any,
        rejected: list[RejectedTuple],
    ) -> None:
        if not changed:
            return
        from vaxreg.people.models import Person
        from vaxreg.vaccinations.models import Dose

        persons = {p.pk: p for p in Person.objects.filter(pk__in={pid for _, _, pid in changed})}
        doses = {d.pk: d for d in Dose.objects.filter(pk__in={did for _, did, _ in changed})}
        history = []
        person_updates: dict[int, dict[str, Any]] = {}
        refreshed: list[
            tuple[str, int]
        ] = []  # (new fingerprint, dose id) of rows written otherwise, same values
        for row, dose_id, person_id in changed:
            dose = doses[dose_id]
            person = persons[person_id]
            dose_changes = {f: (getattr(dose, f), getattr(row, attr)) for f, attr in DOSE_FIELDS}
            dose_changes = {f: v for f, v in dose_changes.items() if v[0] != v[1]}
            new_values = _person_values(row)
            person_changes: dict[str, tuple[Any, Any]] = {}
            # Beside a fingerprint made by an earlier version of the importer, whether the row changed is not known,
            # and a person who differs from it may have been corrected since, which a re-import must not undo: only
            # the dose's own values are compared.
            if len(dose.source_hash) == FINGERPRINT_LENGTH:
                person_changes = {
                    f: (getattr(person, f), v) for f, v in new_values.items() if getattr(person, f) != v
                }
            if not dose_changes and not person_changes:
                # The row is written differently (spaces, another date format) but says the same: nothing changes.
                self._doses_named.add(dose_id)
                refreshed.append((row.source_hash, dose_id))
                self.counts.doses_unchanged += 1
                self.counts.rows_stored += 1
                continue
            if dose.signed_off:
                rejected.append(_signed_off(row))
                continue
            self.touched_person_ids.add(person_id)
            self._stored_person_ids.add(person_id)
            self.touched_facility_ids.add(dose.facility_id)
            source = ChangeSource(
                type=SourceType.IMPORT,
                id=str(self.batch_id),
                reason=both_languages(REIMPORT_REASON, {"row": row.number}),
            )
            history += change_records_build(
                entity="dose", entity_id=dose_id, changes=dose_changes, source=source, at=now
            )
            if person_changes:
                self.changed_person_ids.add(person_id)
                self.left_communes.add(person.commune_id)
                self.left_provinces.add(person.province_id)
                history += change_records_build(
                    entity="person", entity_id=person_id, changes=person_changes, source=source, at=now
                )
                for f, (_, new) in person_changes.items():
                    setattr(person, f, new)
                # The province (and the home its rows are stored under) follows the commune, as for a new
                # person: the commune's, else the facility's. Not a change of its own in the history.
                person_updates[person_id] = {**new_values, "province_id": row.province_code}
            self._doses_named.add(dose_id)
            self.parents.require("vaccinations_vaccine", [row.vaccine_code])
            self.writer.update(
                DOSE_TABLE,
                [f for f, _ in DOSE_FIELDS] + ["source_hash", "updated_at", "version"],
                [
                    (
                        *(getattr(row, attr) for _, attr in DOSE_FIELDS),
                        row.source_hash,
                        db_now,
                        dose.version + 1,
                        dose_id,
                    )
                ],
            )
            self.counts.doses_updated += 1
            self.counts.rows_stored += 1
        if person_updates:
            self.parents.require(
                "places_commune", {values["commune_id"] for values in person_updates.values()}
            )
            columns = [f for f, _ in PERSON_FIELDS]
            self.writer.update(
                PERSON_TABLE,
                [*columns, "updated_at", "version"],
                [
                    (*(values[c] for c in columns), db_now, persons[pid].version + 1, pid)
                    for pid, values in person_updates.items()
                ],
            )
            self.counts.persons_updated += len(person_updates)
            # A person whose new commune lies in another province moves there, with the home its rows are stored
            # under: through the persons' own update, which on Citus moves a row to its new home's servers (a
            # plain UPDATE of the distribution column is refused there); then its doses and findings follow.
            moved = {
                pid: values["province_id"]
                for pid, values in person_updates.items()
                if values["province_id"] != persons[pid].province_id
            }
            for pid, province in moved.items():
                Person.objects.filter(pk=pid).update(province_id=province, home=home_of(province))
            if moved:
                rows_follow_person(person_ids=list(moved))
        self.writer.update(DOSE_TABLE, ["source_hash"], refreshed)
        record_changes_bulk(history)


def _signed_off(row: DoseRow) -> RejectedTuple:
    reason = Reason(
        "DOSE_SIGNED_OFF",
        "Mã bản ghi",
        f"Mũi tiêm “{row.source_record_id}” đã được ký duyệt: chỉ sửa được qua chức năng sửa thông tin, có ghi lý do.",
        f"Dose “{row.source_record_id}” is signed off: it can only be changed through a correction, with a reason.",
    )
    return (row.number, _row_as_raw(row), [reason.as_dict()])


def _person_values(row: DoseRow) -> dict[str, Any]:
    year, month, day = _birth_parts(row)
    values: dict[str, Any] = {}
    for field_name, attr in PERSON_FIELDS:
        if attr is not None:
            values[field_name] = getattr(row, attr)
    values.update(birth_year=year, birth_month=month, birth_day=day)
    return values


def _row_as_raw(row: DoseRow) -> dict[str, str]:
    return {
        "Họ và tên": row.full_name,
        "Ngày sinh": "/".join(str(p) for p in reversed(_birth_parts(row)) if p is not None) or row.birth_raw,
        "Giới tính": row.gender,
        "Số CCCD/CMND": row.id_number,
        "Số điện thoại": row.phone,
        "Địa chỉ": row.address,
        "Mã xã": row.commune_code_raw,
        "Mã cơ sở tiêm": row.facility_code,
        "Mã bản ghi": row.source_record_id,
        "Ngày tiêm": row.vaccination_date.isoformat(),
        "Mũi số": "" if row.dose_number is None else str(row.dose_number),
        "Tên vắc xin": row.vaccine_raw,
        "Số lô": row.lot_number,
    }
