"""Import batches: upload a file (queued for the worker), follow its status, read its rejected rows."""

import datetime as dt
from typing import Annotated, Any

from django.http import Http404, HttpRequest
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from pydantic import Field

from vaxreg.accounts.permissions import Capability, operation_requires
from vaxreg.core.api_schema import QueryIn, RecordId, errors, text_rules
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.selectors import import_batch_progress, import_batches_for_user, rejected_rows_shown
from vaxreg.imports.services import import_batch_create
from vaxreg.imports.tasks import import_batch_run_task

router = Router(tags=["imports"])
MAX_ROWS = 10**9  # more rows than any file holds; a larger offset is a mistake, not a page


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


class RejectedPageIn(QueryIn):
    offset: Annotated[int, Field(ge=0, le=MAX_ROWS)] = 0
    limit: Annotated[int, Field(ge=1, le=5000)] = 500


class RejectedPageOut(Schema):
    batch_id: int
    total: int
    offset: int
    rows: list[RejectedRowOut]


def _batch_for_user(user: Any, batch_id: int) -> ImportBatch:
    batch = import_batches_for_user(user).select_related("facility").filter(pk=batch_id).first()
    if batch is None:
        raise Http404(f"batch {batch_id}")
    return batch


@router.post(
    "",
    response={201: BatchOut, **errors(400, 403)},
    summary="Upload a CSV or XLSX file of doses (403: not for this role or facility; 400: unknown facility)",
)
@operation_requires(Capability.IMPORT_RUN)
def import_create(
    request: HttpRequest,
    file: File[UploadedFile],
    # Text in a form, where nothing is null: leave it out, or empty, for the file's own facility codes.
    facility_code: Annotated[str, text_rules(32)] = Form(""),
) -> tuple[int, Any]:
    user: Any = request.user  # authenticated by the session auth of the API root
    batch = import_batch_create(
        file_name=file.name or "upload",
        content=file,
        uploaded_by=user,
        facility_code=facility_code or None,
    )
    import_batch_run_task.enqueue(batch.pk)
    return 201, BatchOut.of(_batch_for_user(user, batch.pk))


@router.get("/{int:batch_id}", response=BatchOut, summary="Status and counts of one import")
@operation_requires(Capability.IMPORT_READ)
def import_detail(request: HttpRequest, batch_id: RecordId) -> BatchOut:
    return BatchOut.of(_batch_for_user(request.user, batch_id))


@router.get("/{int:batch_id}/rejected", response=RejectedPageOut, summary="The rows that could not be stored")
@operation_requires(Capability.IMPORT_READ)
def import_rejected(request: HttpRequest, batch_id: RecordId, page: Query[RejectedPageIn]) -> RejectedPageOut:
    batch = _batch_for_user(request.user, batch_id)
    rows = rejected_rows_shown(batch=batch, offset=page.offset, limit=page.limit)
    return RejectedPageOut(
        batch_id=batch.pk,
        total=batch.rejected_rows.count(),
        offset=page.offset,
        rows=[RejectedRowOut(row_number=r.row_number, raw=r.raw, reasons=r.reasons) for r in rows],
    )
