"""Which database the product runs on, for the few statements that must be written differently on each."""

from collections.abc import Iterable
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper


def is_citus(connection: BaseDatabaseWrapper) -> bool:
    """Whether the database is a Citus coordinator (PostgreSQL with the citus extension).

    Asked once per database name and connection object: the answer cannot change while the product runs,
    and the statements that depend on it run many times per import.
    """
    if connection.vendor != "postgresql":
        return False
    name = connection.settings_dict.get("NAME")
    cached = connection.__dict__.get("_vaxreg_citus")
    if cached is not None and cached[0] == name:
        return bool(cached[1])
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        answer = cursor.fetchone() is not None
    connection.__dict__["_vaxreg_citus"] = (name, answer)
    return answer


def has_distributed_tables(connection: BaseDatabaseWrapper) -> bool:
    """Whether this Citus coordinator has distributed tables (``vaxreg citus distribute`` ran)."""
    if not is_citus(connection):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_dist_partition WHERE partmethod = 'h' LIMIT 1")
        return cursor.fetchone() is not None


def rows_lock(model: Any, ids: Iterable[int], *, distribution_column: str = "home") -> dict[int, Any]:
    """The stored rows of ``model`` with these ids, locked for update until the transaction ends (the
    missing ones left out), always in the same order, so that two writers of overlapping rows wait for each
    other instead of deadlocking.

    On Citus a row lock must name the shard it takes (a lock over several shards is refused): the rows'
    distribution values are read first, then the rows locked one value at a time. Elsewhere one query locks
    them all.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    manager = model._default_manager
    if not is_citus(default_connection):
        return {row.pk: row for row in manager.select_for_update().filter(pk__in=wanted).order_by("pk")}
    by_value: dict[Any, list[int]] = {}
    for pk, value in manager.filter(pk__in=wanted).values_list("pk", distribution_column).order_by("pk"):
        by_value.setdefault(value, []).append(pk)
    locked: dict[int, Any] = {}
    for value in sorted(by_value):
        rows = manager.select_for_update().filter(**{distribution_column: value}, pk__in=by_value[value])
        locked.update((row.pk, row) for row in rows.order_by("pk"))
    return locked
