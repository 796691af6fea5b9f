"""Import batches: upload a file (queued for the worker), follow its status, read its rejected rows."""

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from ninja import File, Form, Router, Schema
from ninja.files import UploadedFile

from vaxreg.imports.models import ImportBatch
from vaxreg.imports.selectors import import_batch_progress, import_batches_for_user, rejected_rows_shown
from vaxreg.imports.services import ImportRefused, import_batch_create
from vaxreg.imports.tasks import import_batch_run_task

router = Router(tags=["imports"])


class BatchOut(Schema):
    id: int
    file_name: str
    status: str
    message: str
    facility_code: str | None
    rows_read: int
    rows_stored: int
    rows_rejected: int
    persons_created: int
    persons_updated: int
    doses_created: int
    doses_updated: int
    doses_unchanged: int
    ids_repaired: int
    progress_rows: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def of(batch: ImportBatch) -> "BatchOut":
        derived: dict[str, Any] = {
            "facility_code": batch.facility.code if batch.facility else None,
            "progress_rows": import_batch_progress(batch),
        }
        fields = {name: getattr(batch, name) for name in BatchOut.model_fields if name not in derived}
        return BatchOut(**fields, **derived)


class RejectedRowOut(Schema):
    row_number: int
    raw: dict[str, Any]  # the values as read, the ID column masked (the full ones: the audited download)
    reasons: list[dict[str, Any]]


class RejectedPageOut(Schema):
    batch_id: int
    total: int
    offset: int
    rows: list[RejectedRowOut]


class ImportRefusedOut(Schema):
    code: str
    message_vi: str
    message_en: str


def _batch_for_user(user: Any, batch_id: int) -> ImportBatch:
    batch = import_batches_for_user(user).select_related("facility").filter(pk=batch_id).first()
    if batch is None:
        raise Http404(f"batch {batch_id}")
    return batch


@router.post(
    "", response={201: BatchOut, 400: ImportRefusedOut}, summary="Upload a CSV or XLSX file of doses"
)
def import_create(
    request: HttpRequest, file: File[UploadedFile], facility_code: Form[str | None] = None
) -> tuple[int, Any]:
    user: Any = request.user  # authenticated by the session auth of the API root
    try:
        batch = import_batch_create(
            file_name=file.name or "upload",
            content=file,
            uploaded_by=user,
            facility_code=facility_code or None,
        )
    except ImportRefused as exc:
        return 400, ImportRefusedOut(
            code="import_refused", message_vi=exc.message_vi, message_en=exc.message_en
        )
    import_batch_run_task.enqueue(batch.pk)
    return 201, BatchOut.of(_batch_for_user(user, batch.pk))


@router.get("/{batch_id}", response=BatchOut, summary="Status and counts of one import")
def import_detail(request: HttpRequest, batch_id: int) -> BatchOut:
    return BatchOut.of(_batch_for_user(request.user, batch_id))


@router.get("/{batch_id}/rejected", response=RejectedPageOut, summary="The rows that could not be stored")
def import_rejected(
    request: HttpRequest, batch_id: int, offset: int = 0, limit: int = 500
) -> RejectedPageOut:
    batch = _batch_for_user(request.user, batch_id)
    rows = rejected_rows_shown(batch=batch, offset=offset, limit=max(1, min(limit, 5000)))
    return RejectedPageOut(
        batch_id=batch.pk,
        total=batch.rejected_rows.count(),
        offset=offset,
        rows=[RejectedRowOut(row_number=r.row_number, raw=r.raw, reasons=r.reasons) for r in rows],
    )
