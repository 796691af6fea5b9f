"""Which database the product runs on, for the few statements that must be written differently on each."""

from collections.abc import Iterable
from typing import Any

from django.db import connection as default_connection
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet


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


def statistics_refresh(*models: Any) -> None:
    """Refresh the query planner's statistics of these models' tables (``ANALYZE``; on Citus it reaches every
    shard), after a write that changed a large part of them: a province's first load, a full scan's findings.

    Autovacuum would do it on its next round, up to a minute later and only once a tenth of a table changed;
    the work queued behind such a write (the scan after an import, the cases after a scan) starts within a
    second, and without statistics the planner reads a table whole where an index finds a few rows (a case
    sync after a 400,000-person load read every dose for each 1,000 persons: 202 ms a query, 4 ms after).

    Called inside a transaction, it runs once that transaction commits (at once outside one): the statistics
    are of what others can read, and on Citus an ``ANALYZE`` cannot follow, in one transaction, a statement
    the coordinator ran on its own shards ("a local execution has accessed a placement")."""
    tables = [model._meta.db_table for model in models]
    if not tables:
        return
    quote = default_connection.ops.quote_name

    def analyze() -> None:
        with default_connection.cursor() as cursor:
            if default_connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {', '.join(quote(t) for t in tables)}")
            else:
                for table in tables:
                    cursor.execute(f"ANALYZE {quote(table)}")

    transaction.on_commit(analyze)


def is_distributed(connection: BaseDatabaseWrapper, table: str) -> bool:
    """Whether ``table`` is a distributed table of this Citus coordinator (asked once per database name)."""
    if not is_citus(connection):
        return False
    name = connection.settings_dict.get("NAME")
    cached = connection.__dict__.setdefault("_vaxreg_distributed", {})
    if (name, table) not in cached:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass(%s) AND partmethod = 'h'",
                [table],
            )
            cached[(name, table)] = cursor.fetchone() is not None
    return bool(cached[(name, table)])


def distribution_forget(connection: BaseDatabaseWrapper) -> None:
    """Forget what ``is_distributed`` answered on this connection (after tables were distributed)."""
    connection.__dict__.pop("_vaxreg_distributed", None)


def maintenance_options(settings_dict: Any) -> dict[str, Any]:
    """psycopg's connection options for the ``postgres`` database of the server these database settings
    name (where a database is created or dropped, and where ``vaxreg citus up`` registers the workers)."""
    options: dict[str, Any] = {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": settings_dict.get("PORT") or 5432,
        "user": settings_dict.get("USER") or "postgres",
        "dbname": "postgres",
    }
    if settings_dict.get("PASSWORD"):
        options["password"] = settings_dict["PASSWORD"]
    return options


def database_drop(admin: Any, name: str, *, tries: int = 20) -> None:
    """Drop database ``name`` if it exists, ending its sessions, through ``admin`` (a psycopg connection in
    autocommit to the server's maintenance database).

    On a Citus coordinator the drop runs on every worker too, where ``FORCE`` does not reach: a worker may
    still hold sessions of that database (the coordinator's cached connections, its maintenance daemon's) for
    a moment after they ended on the coordinator, and the drop is refused ("being accessed by other users
    ... while executing command on" a worker; seen in CI, after which the next test database could not add
    that worker). Those sessions are ended on each worker first, and again before each new try."""
    import time

    import psycopg
    from psycopg import sql

    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    workers = _worker_nodes(admin)
    for attempt in range(tries):
        for host, port in workers:
            worker_sessions_end(host=host, port=port, database=name, user=admin.info.user)
        try:
            admin.execute(statement)
            for host, port in workers:  # one an earlier failed drop or create left on a worker alone
                worker_database_drop(host=host, port=port, database=name, user=admin.info.user)
            return
        except psycopg.Error as exc:
            in_use = exc.sqlstate == "55006" or "being accessed by other users" in str(exc)
            if not in_use or attempt == tries - 1:
                raise
            time.sleep(0.5)


def _worker_nodes(admin: Any) -> list[tuple[str, int]]:
    """The workers a Citus coordinator's maintenance database knows (none elsewhere)."""
    if not admin.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone():
        return []
    return [
        (str(h), int(p))
        for h, p in admin.execute("SELECT nodename, nodeport FROM pg_dist_node WHERE groupid > 0")
    ]


def worker_database_drop(*, host: str, port: int, database: str, user: str) -> None:
    """Drop ``database`` on the server at host:port (a Citus worker) if it is there, with its sessions."""
    from psycopg import sql

    _on_worker(
        host, port, user, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
    )


def worker_sessions_end(*, host: str, port: int, database: str, user: str) -> None:
    """End every session of ``database`` on the server at host:port (a Citus worker), if it answers."""
    _on_worker(
        host,
        port,
        user,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        [database],
    )


def _on_worker(host: str, port: int, user: str, statement: Any, params: list[Any] | None = None) -> None:
    """Run one statement on a worker's maintenance database; nothing when the worker does not answer (a worker
    that is down holds no session, and the next drop or create says what is wrong)."""
    import psycopg

    try:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as node:
            node.execute(statement, params)
    except psycopg.OperationalError:
        return


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


def relation_at_home(to: str, column: str, *, related_name: str, null: bool = False) -> Any:
    """A relation to a row stored under a home (a person, a dose), on ``(home, column) → (home, id)``: every
    join the ORM writes through it carries the home (on Citus, a join inside one shard). ``column`` is a
    plain integer field of the model, declared beside it."""
    from django.db import models

    return models.ForeignObject(
        to,
        from_fields=["home", column],
        to_fields=["home", "id"],
        on_delete=models.PROTECT,
        related_name=related_name,
        null=null,
        blank=null,
    )


def home_read(label: str, pk: int) -> str:
    """The home of the stored row ``pk`` of the model ``label`` (a person, whose rows live where it does)."""
    from django.apps import apps  # the model named lies in a room above this one

    return str(apps.get_model(label)._default_manager.values_list("home", flat=True).get(pk=pk))


def home_fill(row: Any) -> None:
    """Before a new row is saved with only its owner's id (``home_from`` of its query set): its home."""
    home_from = type(row)._default_manager._queryset_class.home_from
    if not row.home and home_from is not None:
        row.home = home_read(home_from[0], getattr(row, home_from[1]))


class HomeQuerySet(QuerySet):
    """The rows of a table stored under a home (``home``: the province whose servers hold them on Citus).

    An ``update`` that changes the home works on every database. On SQLite, one PostgreSQL and a Citus
    coordinator that keeps the table whole it is an update. Where Citus distributes the table, as it refuses to change a row's distribution column, each row that moves is copied
    under its new home with the plain values of the update (its id, and everything else, kept), the rows
    stored under it (``followers``: a person's doses) are moved the same way, and the old row deleted, all
    in the update's transaction; the update's other values (an expression such as ``version + 1``) are then
    written to the moved rows and to those already at that home.
    """

    # The rows of other tables stored under this row's home: (model label, the column naming this row).
    followers: tuple[tuple[str, str], ...] = ()
    # The row whose home this one takes (model label, the column naming it): a dose, a finding take their
    # person's. An update that gives the row to another one stores it under that one's home, in the same
    # write (on Citus the key to it includes the home, and is checked at once).
    home_from: tuple[str, str] | None = None

    def update(self, **kwargs: Any) -> int:
        if self.home_from is not None and "home" not in kwargs and kwargs.get(self.home_from[1]) is not None:
            kwargs["home"] = home_read(self.home_from[0], kwargs[self.home_from[1]])
        if "home" not in kwargs or not is_distributed(connections[self.db], self.model._meta.db_table):
            return super().update(**kwargs)
        home = kwargs.pop("home")
        with transaction.atomic(using=self.db):
            movers = list(self.exclude(home=home).values_list("pk", "home").order_by("pk"))
            staying = self.filter(home=home)
            # The rest of the update is written by QuerySet's own update: the home is settled already.
            matched = QuerySet.update(staying, **kwargs) if kwargs else staying.count()
            for pk, old_home in movers:
                self._row_move(pk, old_home, home, kwargs)
            moved = [pk for pk, _ in movers]
            if moved and kwargs:
                QuerySet.update(self.model._default_manager.filter(home=home, pk__in=moved), **kwargs)
            return matched + len(moved)

    def _row_move(self, pk: int, old_home: str, home: str, values: dict[str, Any]) -> None:
        """Copy the row under ``home`` with the update's plain ``values``, move its followers, delete it.

        Each a query routed to one shard (read, insert, delete): an ``INSERT ... SELECT`` from one shard into
        another would make Citus run it through the coordinator, which it refuses in a transaction that has
        already read a table on the coordinator itself.
        """
        from django.apps import apps

        row: Any = QuerySet(self.model, using=self.db).get(home=old_home, pk=pk)
        for name, value in values.items():
            if not hasattr(value, "resolve_expression"):
                setattr(row, name, value)
        row.home = home
        QuerySet(self.model, using=self.db).bulk_create([row])
        for label, column in self.followers:
            apps.get_model(label)._default_manager.filter(home=old_home, **{column: pk}).update(home=home)
        # Not the ORM's delete, which would look for the rows that refer to this one: they keep its id.
        connection = connections[self.db]
        table, key = connection.ops.quote_name(self.model._meta.db_table), connection.ops.quote_name("id")
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE home = %s AND {key} = %s", [old_home, pk])
