"""Optimistic locking, written once: a record carries a ``version``; a write names the version the user saw.

``version_expect`` refuses early, before any work, when the record read (and locked) is not the version
the user saw. ``versioned_update`` is the write itself::

    UPDATE ... SET <fields>, version = version + 1 WHERE pk = <pk> AND version = <expected>

The version test in the WHERE clause is what makes a concurrent second writer fail, whatever the isolation
level or the database: when no row matched, the record is read again and ``stale`` builds the refusal
(a ``StaleVersion``) from what is stored now.
"""

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db.models import F, Model

from vaxreg.core.refusals import StaleVersion

M = TypeVar("M", bound=Model)


def version_expect(record: M, expected_version: int | None, stale: Callable[[M], StaleVersion]) -> None:
    """Refuse with ``stale(record)`` when ``record`` is not the version the user saw (None: not checked)."""
    if expected_version is not None and record.version != expected_version:  # type: ignore[attr-defined]
        raise stale(record)


def versioned_update(
    record: M,
    *,
    fields: Iterable[str],
    stale: Callable[[M], StaleVersion],
    expected_version: int | None = None,
) -> None:
    """Write ``fields`` as they are set on ``record`` and move its version on by one, only if the stored
    version is still ``expected_version`` (None: the version ``record`` was read with).

    On success ``record.version`` is the new version; otherwise ``stale`` is raised with the stored record.
    """
    expected = record.version if expected_version is None else expected_version  # type: ignore[attr-defined]
    columns = [record._meta.get_field(name).attname for name in fields]  # type: ignore[union-attr]
    values = {column: getattr(record, column) for column in columns if column != "version"}
    manager = type(record)._default_manager
    written = manager.filter(pk=record.pk, version=expected).update(**values, version=F("version") + 1)
    if written != 1:
        raise stale(manager.get(pk=record.pk))
    record.version = expected + 1  # type: ignore[attr-defined]
