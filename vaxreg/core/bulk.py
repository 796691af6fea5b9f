"""Bulk writes: PostgreSQL ``COPY`` and SQLite ``executemany``, behind one small class (used by the import
and the quality scan, so it lives below both).

The ORM creates one Python object per row, which is too slow for millions of doses; these writers take
plain tuples. They run inside the caller's transaction, on Django's own connection. ``insert`` may run on
another thread (PostgreSQL) once ``prepare`` has run on the thread that owns the connection: Django's
connections belong to their thread, so it then uses the driver's connection and the column types read
beforehand.
"""

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


class BulkWriter:
    def __init__(self) -> None:
        self.vendor = connection.vendor
        self._next_id: dict[str, int] = {}
        self._sequences: dict[str, int] = {}  # table → the oid of its id sequence (PostgreSQL)
        self._types: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        self._driver_connection: Any = None

    def prepare(self, table: str, columns: Sequence[str]) -> None:
        """Read what ``insert`` into ``table`` needs from the database, on the thread that owns the connection."""
        self._driver_connection = connection.connection
        if self.vendor == "postgresql":
            self._column_types(table, columns)

    def allocate_ids(self, table: str, count: int) -> list[int]:
        """Primary keys for rows about to be inserted, so that doses can point at new persons at once."""
        if count == 0:
            return []
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                if table not in self._sequences:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid", [table])
                    self._sequences[table] = cursor.fetchone()[0]
                # The numbers come back as one text: psycopg would parse a large array element by element.
                cursor.execute(
                    "SELECT string_agg(nextval(%s::oid)::text, ',') FROM generate_series(1, %s)",
                    [self._sequences[table], count],
                )
                return list(map(int, cursor.fetchone()[0].split(",")))
            # SQLite: the import transaction holds the write lock (BEGIN IMMEDIATE), so nobody else
            # can take these numbers; AUTOINCREMENT's counter follows the largest id inserted.
            if table not in self._next_id:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                largest = cursor.fetchone()[0]
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                self._next_id[table] = max(largest, row[0] if row else 0) + 1
        first = self._next_id[table]
        self._next_id[table] = first + count
        return list(range(first, first + count))

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        json_columns: Sequence[str] = (),
    ) -> None:
        if not rows:
            return
        if (
            json_columns and self.vendor != "postgresql"
        ):  # PostgreSQL's binary COPY takes the objects themselves
            positions = [columns.index(c) for c in json_columns]
            rows = [_with_json(row, positions) for row in rows]
        if self.vendor == "postgresql":
            raw = connection.connection if self._driver_connection is None else self._driver_connection
            types = self._column_types(table, columns)
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["?"] * len(columns))
        connection.connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
        )

    def _column_types(self, table: str, columns: Sequence[str]) -> list[str]:
        key = (table, tuple(columns))
        if key not in self._types:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
                    [table],
                )
                by_name = dict(cursor.fetchall())
            self._types[key] = [by_name[c] for c in columns]
        return self._types[key]

    def update(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``rows`` hold the new values of ``columns`` followed by the row id."""
        if not rows:
            return
        assignments = ", ".join(f"{c} = %s" for c in columns)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)


def _with_json(row: Sequence[Any], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for position in positions:
        values[position] = _json(values[position])
    return tuple(values)
