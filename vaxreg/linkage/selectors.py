"""Reads of the linkage app: the audit export of clusters (scoped to the user) and the synthetic truth."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from vaxreg.core.history import audit_event_record
from vaxreg.core.jurisdiction import Scope, jurisdiction_of
from vaxreg.core.models import AuditEvent
from vaxreg.core.tables import write_table
from vaxreg.linkage.services import clusters
from vaxreg.vaccinations.models import Dose

if TYPE_CHECKING:
    from vaxreg.accounts.models import User

# The audit file's columns, named as the issue and the facilities' tools read them.
EXPORT_HEADERS = ("facility_code", "source_record_id", "person_id", "cluster_id")
EXPORT_CHUNK = 5_000


def clusters_export_rows(*, user: User) -> Iterator[tuple[Any, ...]]:
    """One row per dose source record the user may read: facility code, source record id, person, cluster
    (persons merged, or suspected above the review threshold and not decided otherwise, share a cluster)."""
    jurisdiction = jurisdiction_of(user)
    if jurisdiction.scope is Scope.NOTHING:
        return
    doses = Dose.objects.all()
    if jurisdiction.scope is Scope.FACILITY and jurisdiction.facility_id is not None:
        doses = doses.filter(facility_id=jurisdiction.facility_id)
    elif not jurisdiction.reads_everything:
        doses = doses.filter(jurisdiction.person_q(prefix="person__"))
    cluster_of = clusters()
    rows = doses.order_by("facility__code", "source_record_id").values_list(
        "facility__code", "source_record_id", "person_id"
    )
    for facility, record, person in rows.iterator(chunk_size=EXPORT_CHUNK):
        yield facility, record, person, cluster_of.get(person, person)


def clusters_export_write(*, user: User, fmt: str, out: Path | IO[bytes], channel: str = "cli") -> int:
    """Write the clusters export (.csv or .xlsx) and record it in the audit log; the number of rows."""
    written = write_table(EXPORT_HEADERS, clusters_export_rows(user=user), fmt=fmt, out=out, sheet="Clusters")
    audit_event_record(
        action=AuditEvent.Action.EXPORT,
        actor_id=user.pk,
        object_type="linkage_clusters",
        object_id=str(user.facility_id or user.commune_id or user.province_id or ""),
        detail={"format": fmt, "rows": written, "role": user.role, "channel": channel},
    )
    return written


def truth_of_persons(path: Path) -> dict[int, str]:
    """person id → true person key, from a synthetic persons file (``vaxreg synth --persons-out``) and the
    doses imported from its dose file."""
    key_of: dict[tuple[str, str], str] = {}
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            key_of[(row["facility_code"], row["source_record_id"])] = row["person_key"]
    truth: dict[int, str] = {}
    rows = Dose.objects.values_list("facility__code", "source_record_id", "person_id")
    for facility, record, person in rows.iterator(chunk_size=20_000):
        key = key_of.get((facility, record))
        if key is not None:
            truth.setdefault(person, key)
    return truth
