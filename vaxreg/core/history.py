"""The one action every change of a person or dose goes through: it writes the history rows."""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType


@dataclass(frozen=True)
class ChangeSource:
    """Why and from where a change comes: kept beside every changed field."""

    type: SourceType
    id: str = ""
    reason: str = ""
    actor_id: int | None = None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def change_records_build(
    *,
    entity: str,
    entity_id: int,
    changes: Mapping[str, tuple[Any, Any]],
    source: ChangeSource,
    at: dt.datetime,
) -> list[ChangeRecord]:
    return [
        ChangeRecord(
            entity=entity,
            entity_id=entity_id,
            field=field,
            old_value=_as_text(old),
            new_value=_as_text(new),
            actor_id=source.actor_id,
            at=at,
            reason=source.reason,
            source_type=source.type,
            source_id=source.id,
        )
        for field, (old, new) in changes.items()
    ]


def record_change(
    *, entity: str, entity_id: int, changes: Mapping[str, tuple[Any, Any]], source: ChangeSource
) -> list[ChangeRecord]:
    """Write one history row per changed field; unchanged fields are skipped."""
    real = {f: (o, n) for f, (o, n) in changes.items() if o != n}
    rows = change_records_build(
        entity=entity, entity_id=entity_id, changes=real, source=source, at=clock.now()
    )
    return ChangeRecord.objects.bulk_create(rows)


def record_changes_bulk(rows: Iterable[ChangeRecord]) -> None:
    ChangeRecord.objects.bulk_create(list(rows), batch_size=2000)


def audit_event_record(
    *,
    action: str,
    actor_id: int | None,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        actor_id=actor_id,
        at=clock.now(),
        object_type=object_type,
        object_id=object_id,
        detail=detail or {},
    )
