import json
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from vaxreg.accounts.models import Role, User
from vaxreg.imports.models import ImportBatch


def import_batches_for_user(user: User) -> QuerySet[ImportBatch]:
    """Batches a user may see: all for national staff, the province's for a province, one's own otherwise."""
    batches = ImportBatch.objects.select_related("facility", "uploaded_by")
    if user.role in (Role.NATIONAL, Role.ADMIN):
        return batches
    if user.role == Role.PROVINCE:
        return batches.filter(province_id=user.province_id) | batches.filter(facility__province_id=user.province_id)
    if user.role == Role.FACILITY:
        return batches.filter(facility_id=user.facility_id or 0)
    return batches.filter(uploaded_by=user)


def progress_file(batch_id: int) -> Path:
    """Where a running SQLite import writes its row count (see services._Progress)."""
    return Path(settings.MEDIA_ROOT) / "imports" / f"batch-{batch_id}.progress"


def import_batch_progress(batch: ImportBatch) -> int:
    """Rows handled so far by a running import (see services._Progress)."""
    if batch.status != ImportBatch.Status.RUNNING or connection.vendor == "postgresql":
        return batch.progress_rows
    try:
        return int(json.loads(progress_file(batch.pk).read_text())["rows"])
    except (OSError, ValueError, KeyError):
        return batch.progress_rows
