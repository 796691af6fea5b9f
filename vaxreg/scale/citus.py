"""Preparing a database on a Citus coordinator, after every migration (``post_migrate``), so that
``vaxreg migrate`` (and a test database's creation) leaves it ready: a no-op anywhere else.

1. The workers: a new database (a test database) knows none; they are taken from the coordinator's
   ``postgres`` database, where ``vaxreg citus up`` (or the operator) registered them.
2. Identity columns become sequence defaults while the tables are still plain: Citus cannot convert a
   table with an identity column once it manages it, and Django creates every ``id`` as an identity.
3. The small tables every shard joins with become reference tables (a copy on every node).

The per-person tables are not distributed yet (docs/scale.md: the plan); until then they stay on the
coordinator, as tables Citus manages because they refer to reference tables.
"""

from typing import Any

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper

# The small tables every shard joins with, by model: copied to every node.
REFERENCE_MODELS = (
    "places.Province",
    "places.Commune",
    "places.LegacyProvince",
    "places.LegacyDistrict",
    "places.LegacyCommune",
    "places.Facility",
    "vaccinations.Vaccine",
    "vaccinations.VaccineAlias",
    "vaccinations.CatalogueParameter",
    "contenttypes.ContentType",
    "auth.Permission",
    "auth.Group",
    "accounts.User",
)


def is_citus(connection: BaseDatabaseWrapper) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


def citus_prepare(connection: BaseDatabaseWrapper) -> list[str]:
    """Make this coordinator database ready (safe to repeat; nothing on another database). What it did."""
    if not is_citus(connection):
        return []
    done = _workers_add(connection)
    done += _identities_to_sequences(connection)
    done += _reference_tables(connection)
    return done


def _workers_add(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_dist_node WHERE groupid > 0")
        if cursor.fetchone()[0]:
            return []
        settings = connection.settings_dict
        maintenance: dict[str, Any] = {
            "host": settings.get("HOST") or "127.0.0.1",
            "port": settings.get("PORT") or 5432,
            "user": settings.get("USER") or "postgres",
            "dbname": "postgres",
        }
        if settings.get("PASSWORD"):
            maintenance["password"] = settings["PASSWORD"]
        with psycopg.connect(**maintenance) as registry:
            coordinator = registry.execute(
                "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid = 0"
            ).fetchone()
            workers = registry.execute(
                "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid > 0 ORDER BY nodeport"
            ).fetchall()
        if coordinator:
            cursor.execute("SELECT citus_set_coordinator_host(%s, %s)", list(coordinator))
        for host, port in workers:
            cursor.execute("SELECT citus_add_node(%s, %s)", [host, port])
    return [f"worker {host}:{port} added" for host, port in workers]


def _identities_to_sequences(connection: BaseDatabaseWrapper) -> list[str]:
    done = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            WHERE c.table_schema = 'public' AND c.is_identity = 'YES'
              AND NOT EXISTS (
                SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = to_regclass(quote_ident(c.table_name))
              )
            ORDER BY 1
            """
        )
        for table, column in cursor.fetchall():
            sequence = f"{table}_{column}_seq"
            quoted = connection.ops.quote_name
            cursor.execute(f"SELECT coalesce(max({quoted(column)}), 0) + 1 FROM {quoted(table)}")
            start = cursor.fetchone()[0]
            cursor.execute(f"ALTER TABLE {quoted(table)} ALTER COLUMN {quoted(column)} DROP IDENTITY")
            cursor.execute(f"CREATE SEQUENCE {quoted(sequence)} START {int(start)}")
            cursor.execute(f"ALTER SEQUENCE {quoted(sequence)} OWNED BY {quoted(table)}.{quoted(column)}")
            cursor.execute(
                f"ALTER TABLE {quoted(table)} ALTER COLUMN {quoted(column)} "
                f"SET DEFAULT nextval('{sequence}'::regclass)"
            )
            done.append(f"{table}.{column}: a sequence instead of an identity")
    return done


def _reference_tables(connection: BaseDatabaseWrapper) -> list[str]:
    from django.apps import apps

    done = []
    with connection.cursor() as cursor:
        for label in REFERENCE_MODELS:
            model = apps.get_model(label)
            tables = [model._meta.db_table]
            tables += [
                m2m.remote_field.through._meta.db_table
                for m2m in model._meta.local_many_to_many
                if m2m.remote_field.through._meta.auto_created
            ]
            for table in tables:
                if _is_reference(cursor, table):
                    continue
                cursor.execute("SELECT create_reference_table(%s)", [table])
                done.append(f"{table}: a reference table")
    return done


def _is_reference(cursor: Any, table: str) -> bool:
    cursor.execute(
        "SELECT 1 FROM citus_tables WHERE table_name = %s::regclass AND citus_table_type = 'reference'",
        [table],
    )
    return cursor.fetchone() is not None


def citus_sessions_end(connection: BaseDatabaseWrapper) -> int:
    """End the idle sessions Citus keeps open to this database (its cached connections to the coordinator
    as a node), so the database can be dropped; how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND application_name LIKE 'citus_internal%' AND state = 'idle'
            """
        )
        ended = int(cursor.fetchone()[0])
    connection.close()
    return ended
