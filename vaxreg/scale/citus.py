"""Preparing a database on a Citus coordinator, after every migration (``post_migrate``), so that
``vaxreg migrate`` (and a test database's creation) leaves it ready: a no-op anywhere else.

1. The workers: a new database (a test database) knows none; they are taken from the coordinator's
   ``postgres`` database, where ``vaxreg citus up`` (or the operator) registered them.
2. Identity columns become sequence defaults while the tables are still plain: Citus cannot convert a
   table with an identity column once it manages it, and Django creates every ``id`` as an identity.
3. The small tables every shard joins with become reference tables (a copy on every node).
4. With ``VAXREG_CITUS_DISTRIBUTE`` (or ``vaxreg citus distribute``), the per-person tables are distributed
   by their home province, co-located (``citus_distribute``). Being built (docs/scale.md): until every
   per-person table has its home, the others stay on the coordinator, as tables Citus manages because they
   refer to reference tables.
"""

import re
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

from vaxreg.core.database import distribution_forget, is_citus, maintenance_options, worker_sessions_end

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


def citus_prepare(connection: BaseDatabaseWrapper) -> list[str]:
    """Make this coordinator database ready (safe to repeat; nothing on another database). What it did."""
    if not is_citus(connection):
        return []
    done = _workers_add(connection)
    done += _identities_to_sequences(connection)
    done += _reference_tables(connection)
    if settings.VAXREG_CITUS_DISTRIBUTE:
        done += citus_distribute(connection)
    return done


def _workers_add(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_dist_node WHERE groupid > 0")
        if cursor.fetchone()[0]:
            return []
        with psycopg.connect(**maintenance_options(connection.settings_dict)) as registry:
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
                if _citus_table_type(cursor, table) == "reference":
                    continue
                cursor.execute("SELECT create_reference_table(%s)", [table])
                done.append(f"{table}: a reference table")
    return done


def _citus_table_type(cursor: Any, table: str) -> str | None:
    """``reference``, ``distributed``, ``local`` (kept on the coordinator) or None (a plain table)."""
    cursor.execute("SELECT citus_table_type FROM citus_tables WHERE table_name = %s::regclass", [table])
    row = cursor.fetchone()
    return row[0] if row else None


# The per-person tables, hash-distributed by the home province of their person and co-located (the first is
# the group's anchor): a province's rows and a person's doses join inside one shard.
DISTRIBUTION_COLUMN = "home"
DISTRIBUTED_MODELS = ("people.Person", "vaccinations.Dose", "quality.Finding")
# Keys between two distributed tables, made again on the home once both are distributed: Citus accepts a
# foreign key between co-located tables only when it includes the distribution column. (A finding's dose
# is not among them: a person's move copies its doses and its findings one row at a time, and a finding
# pointing at a dose would then hold the dose's old row until the finding moved; the rules that open a
# finding about a dose read the dose in the same transaction.)
CO_LOCATED_KEYS = (
    ("vaccinations.Dose", ("home", "person_id"), "people.Person", ("home", "id")),
    ("quality.Finding", ("home", "person_id"), "people.Person", ("home", "id")),
)


def citus_distribute(connection: BaseDatabaseWrapper) -> list[str]:
    """Distribute the per-person tables by home (safe to repeat; nothing on another database). What it did.

    For each table, before Citus takes it: the foreign keys from other tables to it, and its own to tables
    that are not reference tables, are dropped (Citus keeps no key between a shard and a table on the
    coordinator; the services check those references, docs/scale.md point 6); its keys to reference tables
    are checked at once rather than at the commit (a deferred check pending on a shard stops a later
    ``CREATE INDEX`` in the same transaction); its primary key and every unique constraint gain the home
    first (Citus requires the distribution column in each).
    """
    from django.apps import apps

    if not is_citus(connection):
        return []
    done: list[str] = []
    tables = [apps.get_model(label)._meta.db_table for label in DISTRIBUTED_MODELS]
    with connection.cursor() as cursor:
        # While per-person tables that refer to reference tables stay on the coordinator, a transaction that
        # read the shards over several connections per worker cannot then write such a table ("cannot modify
        # table ... because there was a parallel operation on a distributed table"): one connection per worker.
        cursor.execute("SELECT current_setting('citus.multi_shard_modify_mode')")
        if cursor.fetchone()[0] != "sequential":
            quoted = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(f"ALTER DATABASE {quoted} SET citus.multi_shard_modify_mode TO 'sequential'")
            cursor.execute("SET citus.multi_shard_modify_mode TO 'sequential'")
            done.append("multi-shard statements over one connection per worker")
        for table in tables:
            if _citus_table_type(cursor, table) == "distributed":
                continue
            done += _keys_for_distribution(cursor, table)
            anchor = tables[0] if table != tables[0] else "none"
            cursor.execute(
                "SELECT create_distributed_table(%s, %s, colocate_with => %s)",
                [table, DISTRIBUTION_COLUMN, anchor],
            )
            done.append(f"{table}: distributed by {DISTRIBUTION_COLUMN}")
            distribution_forget(connection)
        for table in tables:
            # The primary key is (home, id) now, and rows are still found by id alone: a page reached by a
            # person's id, a join from a table kept on the coordinator (a case to its person). Without an index
            # on the id, each shard reads all its rows for each of them (a commune's worklist query at 1M persons:
            # 15 s; 50 ms with it).
            name = f"{table}_id_alone"
            cursor.execute("SELECT 1 FROM pg_class WHERE relname = %s", [name])
            if not cursor.fetchone():
                cursor.execute(f"CREATE INDEX {name} ON {table} (id)")
                done.append(f"{table}: an index on the id alone")
        for label, columns, target_label, target_columns in CO_LOCATED_KEYS:
            table = apps.get_model(label)._meta.db_table
            target = apps.get_model(target_label)._meta.db_table
            name = f"{table}_{'_'.join(columns)}_fk"
            cursor.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [name])
            if cursor.fetchone():
                continue
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({', '.join(columns)}) "
                f"REFERENCES {target} ({', '.join(target_columns)})"
            )
            done.append(f"{table}: a key ({', '.join(columns)}) to {target}")
    return done


def _keys_for_distribution(cursor: Any, table: str) -> list[str]:
    done = []
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, quote_ident(c.conname), c.confrelid::regclass::text,
               c.condeferrable, pg_get_constraintdef(c.oid),
               c.conrelid = %(table)s::regclass AND EXISTS (
                   SELECT 1 FROM citus_tables t
                   WHERE t.table_name = c.confrelid AND t.citus_table_type = 'reference'
               )
        FROM pg_constraint c
        WHERE c.contype = 'f' AND (c.confrelid = %(table)s::regclass OR c.conrelid = %(table)s::regclass)
        ORDER BY 1, 2
        """,
        {"table": table},
    )
    for source, name, target, deferrable, definition, to_reference in cursor.fetchall():
        if to_reference:
            if deferrable:  # Citus does not take ALTER CONSTRAINT: the key is made again, checked at once
                immediate = definition.replace(" DEFERRABLE INITIALLY DEFERRED", "")
                cursor.execute(f"ALTER TABLE {source} DROP CONSTRAINT {name}")
                cursor.execute(f"ALTER TABLE {source} ADD CONSTRAINT {name} {immediate}")
            continue
        cursor.execute(f"ALTER TABLE {source} DROP CONSTRAINT {name}")
        done.append(f"{source}: key {name} to {target} dropped")
    # The primary key and the unique constraints and indexes without the home: made again with it first.
    cursor.execute(
        """
        SELECT quote_ident(con.conname), con.contype, pg_get_indexdef(x.indexrelid), quote_ident(i.relname)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
        WHERE x.indrelid = %(table)s::regclass AND x.indisunique
          AND NOT EXISTS (
              SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = x.indrelid AND a.attname = %(column)s AND a.attnum = ANY(x.indkey)
          )
        """,
        {"table": table, "column": DISTRIBUTION_COLUMN},
    )
    for constraint, kind, definition, index in cursor.fetchall():
        columns = definition[definition.index("(", definition.index(" USING ")) + 1 :]
        if constraint:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
            columns = columns[: columns.index(")")]
            clause = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {clause} ({DISTRIBUTION_COLUMN}, {columns})"
            )
        else:
            cursor.execute(f"DROP INDEX {index}")
            head = definition[: definition.index("(", definition.index(" USING ")) + 1]
            cursor.execute(f"{head}{DISTRIBUTION_COLUMN}, {columns}")
        done.append(f"{table}: {constraint or index} on ({DISTRIBUTION_COLUMN}, ...)")
    return done


def shards_read(queryset: Any) -> int:
    """How many shards Citus sends ``queryset``'s query to (the largest "Task Count" of its plan, sub-plans
    included): 1 for a query routed to one shard, the shard count for one fanned out to all; 0 for a query
    that reads no distributed table, or on another database. A tool for tests and for looking at a query:
    asked inside a transaction, ask it last (Citus' EXPLAIN can leave the transaction unable to read a table
    kept on the coordinator afterwards: "cannot switch local execution status")."""
    from django.db import connections

    connection = connections[queryset.db]
    if not is_citus(connection):
        return 0
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return max((int(count) for count in re.findall(r"Task Count: (\d+)", plan)), default=0)


def citus_sessions_end(connection: BaseDatabaseWrapper) -> int:
    """End the idle sessions Citus keeps open to this database (its cached connections to the coordinator
    as a node), so the database can be dropped; how many. Then, once this connection is closed, the
    sessions of this database on the workers (which the drop would otherwise meet there)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND application_name LIKE 'citus_internal%' AND state = 'idle'
            """
        )
        ended = int(cursor.fetchone()[0])
        cursor.execute("SELECT current_database(), current_user")
        database, user = cursor.fetchone()
        cursor.execute("SELECT nodename, nodeport FROM pg_dist_node WHERE groupid > 0")
        workers = cursor.fetchall()
    connection.close()
    for host, port in workers:
        worker_sessions_end(host=host, port=port, database=database, user=user)
    return ended
