import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum

from vaxreg.accounts.models import Role, User
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.touched import BaseUnits, UnitCount
from vaxreg.imports.headers import Field
from vaxreg.imports.models import ImportBatch, ImportProgress
from vaxreg.people.models import mask_id_number


def import_batches_for_user(user: User) -> QuerySet[ImportBatch]:
    """Batches a user may see: all for national staff, the province's for a province, one's own otherwise."""
    batches = ImportBatch.objects.select_related("facility", "uploaded_by")
    if jurisdiction_of(user).reads_everything:
        return batches
    if user.role == Role.PROVINCE:
        return batches.filter(province_id=user.province_id) | batches.filter(
            facility__province_id=user.province_id
        )
    if user.role == Role.FACILITY:
        return batches.filter(facility_id=user.facility_id or 0)
    return batches.filter(uploaded_by=user)


def progress_file(batch_id: int) -> Path:
    """Where a running SQLite import writes its row count (see services._Progress)."""
    return Path(settings.MEDIA_ROOT) / "imports" / f"batch-{batch_id}.progress"


def import_batch_progress(batch: ImportBatch) -> int:
    """Rows handled so far by a running import (see services._Progress)."""
    if batch.status != ImportBatch.Status.RUNNING:
        return batch.progress_rows
    if connection.vendor == "postgresql":
        written = ImportProgress.objects.filter(batch_id=batch.pk).values_list("rows", flat=True).first()
        return batch.progress_rows if written is None else written
    try:
        return int(json.loads(progress_file(batch.pk).read_text())["rows"])
    except (OSError, ValueError, KeyError):
        return batch.progress_rows


@dataclass(frozen=True)
class RejectedRowShown:
    """A rejected row as the pages and the API show it: the ID column's value masked, like every list.

    The full values stay in the downloadable report (``rejected_rows_report``), whose every download is
    an audited full-ID read: the facility needs them there to correct the rows and send them again.
    """

    row_number: int
    raw: dict[str, Any]
    reasons: list[dict[str, Any]]


def rejected_rows_shown(*, batch: ImportBatch, offset: int = 0, limit: int = 500) -> list[RejectedRowShown]:
    """The batch's rejected rows from ``offset`` on, at most ``limit``, in file order, ID numbers masked."""
    id_header = batch.columns_found.get(Field.ID_NUMBER.value) or ""

    def is_id(name: str) -> bool:
        # raw_cells names a repeated header "header (column number)"
        return bool(id_header) and (name == id_header or name.startswith(f"{id_header} ("))

    rows = batch.rejected_rows.order_by("row_number")[max(offset, 0) : max(offset, 0) + max(limit, 0)]
    return [
        RejectedRowShown(
            row_number=row.row_number,
            raw={name: mask_id_number(str(v)) if is_id(name) else v for name, v in row.raw.items()},
            reasons=row.reasons,
        )
        for row in rows
    ]


def import_figures(units: BaseUnits) -> Iterator[UnitCount]:
    """Per facility (a file sent for several facilities: the province that sent it, else the nation): the
    files imported and refused, the rows stored and the rows rejected."""
    batches = ImportBatch.objects.filter(
        units.handled_q("facility_id", "province_id"),
        status__in=[ImportBatch.Status.DONE, ImportBatch.Status.REFUSED],
    )
    grouped = (
        batches.values("facility_id", "facility__province_id", "province_id")
        .annotate(
            files=Count("pk", filter=Q(status=ImportBatch.Status.DONE)),
            refused=Count("pk", filter=Q(status=ImportBatch.Status.REFUSED)),
            stored=Sum("rows_stored", filter=Q(status=ImportBatch.Status.DONE)),
            rejected=Sum("rows_rejected", filter=Q(status=ImportBatch.Status.DONE)),
        )
        .order_by()
    )
    totals: dict[tuple[int | None, str | None, str], int] = {}
    for g in grouped:
        facility: int | None = g["facility_id"]
        province: str | None = g["facility__province_id"] if facility else g["province_id"]
        for figure in ("files", "refused", "stored", "rejected"):
            key = (facility, province, figure)
            totals[key] = totals.get(key, 0) + int(g[figure] or 0)
    for (facility, province, figure), n in totals.items():
        yield facility, province, f"import_{figure}", "", n
