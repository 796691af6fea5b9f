"""Locks held by a running process and released when it ends, however it ends.

A PostgreSQL session advisory lock, or on SQLite an exclusive ``flock`` on a file beside the database:
the server or the kernel releases either when the process dies. So a lock that can be taken tells that
no living process holds it: a periodic job another worker is not running, or an import whose process
was killed.
"""

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


def _advisory_key(name: str) -> int:
    digest = hashlib.blake2b(f"vaxreg.{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_file(name: str) -> Path:
    slug = name.replace(":", "-").replace("/", "-")
    database = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and database != ":memory:" and "mode=memory" not in database:
        path = Path(database)
        return path.with_name(f"{path.name}.{slug}.lock")
    # An in-memory database is this process's alone: a lock private to the process is enough (the process id
    # in the name: two processes started alike, as parallel test workers are, can hold equal object ids).
    return Path(tempfile.gettempdir()) / f"vaxreg-{os.getpid()}-{id(connection.settings_dict)}-{slug}.lock"


@contextmanager
def process_lock(name: str) -> Iterator[bool]:
    """Hold the lock ``name`` while the block runs; yields False at once when another process (or another
    connection) holds it."""
    if connection.vendor == "postgresql":
        key = _advisory_key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
                except DatabaseError:  # the session is gone, and its lock with it
                    logger.warning("lock %s: could not be released", name, exc_info=True)
        return
    with open(_lock_file(name), "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def process_lock_forget(name: str) -> None:
    """Remove what the lock ``name`` leaves behind (on SQLite, its file), for a name used once and done with
    (a task's run): nobody waits on such a lock, they only try it, so the file can go once it is released."""
    if connection.vendor != "postgresql":
        _lock_file(name).unlink(missing_ok=True)
