"""Import batches: create one from an uploaded or local file, run it, report what was refused."""

import contextlib
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, connections, transaction

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.permissions import Capability, capability_require
from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.locks import process_lock
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Forbidden, Refusal
from vaxreg.core.tables import REJECTION_HEADERS, Reason, RejectedLine, RowReport, rejection_rows, table_bytes
from vaxreg.core.task_results import task_result_interrupted_close, task_results_running
from vaxreg.core.touched import figures_touched
from vaxreg.imports.headers import COLUMNS_BY_FIELD
from vaxreg.imports.hooks import after_import_run
from vaxreg.imports.models import ImportBatch, ImportProgress, RejectedRow
from vaxreg.imports.normalize import RowNormalizer
from vaxreg.imports.pipeline import BatchImporter, ImportCounts
from vaxreg.imports.readers import DoseFile, FileRefused
from vaxreg.imports.selectors import import_batch_progress, progress_file
from vaxreg.places.models import Commune
from vaxreg.places.selectors import commune_code_map, facility_map
from vaxreg.vaccinations.selectors import vaccine_alias_map

PROGRESS_EVERY_SECONDS = 1.0


class ImportRefused(Refusal):
    """The request to import cannot be accepted (a facility user naming another facility, an unknown code)."""

    code = "import_refused"


class ImportForbidden(Forbidden, ImportRefused):
    """The user's role or unit may not import this file (another facility's, another province's)."""


class ImportRowsLost(RuntimeError):
    """The rows read are not the rows stored plus the rows rejected: the import is rolled back."""

    def __init__(self, counts: ImportCounts) -> None:
        super().__init__(
            f"rows read {counts.rows_read:,} ≠ stored {counts.rows_stored:,} + rejected {counts.rows_rejected:,}"
        )


FACILITY_FIELD = "facility_code"  # what a refused request to import names: the facility asked for


def _uploads_dir() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _allowed_facility_code(*, user: User | None, facility_code: str | None) -> str | None:
    if user is not None:
        capability_require(user, Capability.IMPORT_RUN)
    if user is not None and user.role == Role.FACILITY:
        own = user.facility.code if user.facility else None
        if facility_code and facility_code.strip().upper() != (own or "").upper():
            raise ImportForbidden(
                f"Tài khoản cơ sở chỉ được nhập dữ liệu của cơ sở mình ({own}).",
                f"A facility account may only import the rows of its own facility ({own}).",
                field=FACILITY_FIELD,
            )
        return own
    return facility_code.strip() if facility_code else None


@transaction.atomic
def import_batch_create(
    *,
    file_name: str,
    content: bytes | IO[bytes] | None = None,
    path: Path | None = None,
    uploaded_by: User | None = None,
    facility_code: str | None = None,
) -> ImportBatch:
    """Register a file for import. An upload (``content``) is stored under MEDIA_ROOT; a local ``path``
    (the command line) is read where it lies."""
    code = _allowed_facility_code(user=uploaded_by, facility_code=facility_code)
    facility_id = None
    if code:
        facilities = facility_map()
        ref = facilities.get(code) or facilities.get(code.upper())
        if ref is None:
            raise ImportRefused(
                f"Mã cơ sở tiêm “{code}” không có trong danh mục.",
                f"The facility code “{code}” is not in the facility list.",
                field=FACILITY_FIELD,
            )
        if (
            uploaded_by is not None
            and uploaded_by.role == Role.PROVINCE
            and ref.province_code != uploaded_by.province_id
        ):
            raise ImportForbidden(
                f"Cơ sở “{code}” không thuộc tỉnh/thành phố của bạn.",
                f"Facility “{code}” is outside your province.",
                field=FACILITY_FIELD,
            )
        facility_id = ref.id
    if path is None:
        if content is None:
            raise ValueError("content or path is required")
        digest = hashlib.sha256()
        stream: IO[bytes] = io.BytesIO(content) if isinstance(content, bytes) else content
        target = _uploads_dir() / f"{clock.now():%Y%m%d%H%M%S%f}-{Path(file_name).name[-100:]}"
        with target.open("wb") as out:
            while block := stream.read(1 << 20):
                digest.update(block)
                out.write(block)
        stored = target
    else:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
        stored = path.resolve()
    batch = ImportBatch.objects.create(
        file_name=Path(file_name).name[:255],
        file_sha256=digest.hexdigest(),
        stored_path=str(stored),
        uploaded_by=uploaded_by,
        facility_id=facility_id,
        province_id=uploaded_by.province_id
        if uploaded_by is not None and uploaded_by.role == Role.PROVINCE
        else None,
        created_at=clock.now(),
    )
    audit_event_record(
        action=AuditEvent.Action.IMPORT_STARTED,
        actor_id=uploaded_by.pk if uploaded_by else None,
        object_type="import_batch",
        object_id=str(batch.pk),
        detail={"file_name": batch.file_name, "sha256": batch.file_sha256},
    )
    return batch


class _Progress:
    """Progress of a running import, readable by the web server while the import transaction is open.

    PostgreSQL: a second connection writes the count in autocommit into ``ImportProgress`` (a table the
    import's transaction never locks, on Citus too), without waiting for the commit to reach the disk: a
    durable commit would wait for the import's own log written so far (megabytes per chunk), and a count
    lost in a crash costs nothing. SQLite has one writer at a time, so the count goes to a small
    file beside the uploads instead. The count is written at most once a second: each write stops the
    import for a round trip to another process.
    """

    def __init__(self, batch_id: int) -> None:
        self.batch_id = batch_id
        self._written_at: float | None = None
        _uploads_dir()
        self.file = progress_file(batch_id)
        self._connection = (
            connections.create_connection("default") if connection.vendor == "postgresql" else None
        )
        if self._connection is not None:
            with self._connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")

    def __call__(self, counts: ImportCounts) -> None:
        now = time.monotonic()
        if self._written_at is not None and now - self._written_at < PROGRESS_EVERY_SECONDS:
            return
        self._written_at = now
        handled = counts.rows_read
        if self._connection is not None:
            with self._connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO imports_importprogress (batch_id, rows) VALUES (%s, %s)"
                    " ON CONFLICT (batch_id) DO UPDATE SET rows = EXCLUDED.rows",
                    [self.batch_id, handled],
                )
        else:
            self.file.write_text(json.dumps({"rows": handled}))

    def close(self) -> None:
        if self._connection is not None:
            with self._connection.cursor() as cursor:
                cursor.execute("DELETE FROM imports_importprogress WHERE batch_id = %s", [self.batch_id])
            self._connection.close()
        self.file.unlink(missing_ok=True)


def _run_lock(batch_id: int) -> str:
    return f"import-batch:{batch_id}"


def import_batch_run(*, batch_id: int, progress: Callable[[ImportCounts], None] | None = None) -> ImportBatch:
    """Import every row of the batch's file in one transaction; the batch row records the outcome.

    The importing process holds the batch's lock (see ``vaxreg.core.locks``) from before the batch is marked
    running until its outcome is written: a running batch whose lock is free was left by a process that
    died (see ``import_batches_interrupted_close``), and a batch is never run by two processes at once.
    """
    with process_lock(_run_lock(batch_id)) as held:
        batch = ImportBatch.objects.get(pk=batch_id)
        if not held or batch.status == ImportBatch.Status.DONE:
            return batch  # another process is running it, or it is done
        return _import_batch_run_locked(batch, progress)


def _import_batch_run_locked(
    batch: ImportBatch, progress: Callable[[ImportCounts], None] | None
) -> ImportBatch:
    batch_id = batch.pk
    batch.status = ImportBatch.Status.RUNNING
    batch.started_at = clock.now()
    batch.save(update_fields=["status", "started_at"])
    reporter = _Progress(batch_id)

    def report(counts: ImportCounts) -> None:
        reporter(counts)
        if progress:
            progress(counts)

    try:
        try:
            dose_file = DoseFile(Path(batch.stored_path))
            missing = dose_file.layout.headers.missing(facility_given=batch.facility_id is not None)
            if missing:
                raise _missing_columns_refusal(missing, dose_file.layout.headers.headers)
        except FileRefused as refused:
            return _import_batch_refused(batch, refused)
        with _bulk_load_mode(), transaction.atomic():
            normalizer = _normalizer_for(batch, dose_file)
            importer = BatchImporter(
                batch_id=batch.pk,
                normalizer=normalizer,
                headers=dose_file.layout.headers.headers,
                progress=report,
            )
            counts = importer.run(dose_file.rows(joined=normalizer.lines_were_joined))
            if not counts.adds_up:  # a row neither stored nor rejected: nothing of the file is kept
                raise ImportRowsLost(counts)
            after_import_run(
                batch_id=batch.pk,
                person_ids=importer.touched_person_ids,
                provinces=importer.touched_provinces(),
            )
            # The created persons' units from what the import knows of them (a person is counted in its
            # commune, else its province, else the nation); the changed stored persons' are read.
            created = importer.created_places
            figures_touched(
                persons=importer.changed_person_ids,
                facilities=[*importer.touched_facility_ids, batch.facility_id],
                communes=[*importer.left_communes, *(commune for commune, _ in created)],
                provinces=[
                    *importer.left_provinces,
                    *(province for commune, province in created if not commune),
                    *([] if batch.facility_id else [batch.province_id]),
                ],
                nation=(batch.facility_id is None and batch.province_id is None) or (None, None) in created,
            )
            layout = dose_file.layout
            for name, value in counts.as_dict().items():
                setattr(batch, name, value)
            batch.progress_rows = counts.rows_read
            batch.file_format = layout.kind
            batch.encoding = layout.encoding
            batch.delimiter = layout.delimiter
            batch.header_row = layout.header_row
            batch.columns_found = {
                f.value: layout.headers.headers[i] for f, i in layout.headers.positions.items()
            }
            batch.columns_ignored = layout.headers.ignored[:100]
            batch.status = ImportBatch.Status.DONE
            batch.finished_at = clock.now()
            batch.save()
            audit_event_record(
                action=AuditEvent.Action.IMPORT_FINISHED,
                actor_id=batch.uploaded_by_id,
                object_type="import_batch",
                object_id=str(batch.pk),
                detail=counts.as_dict(),
            )
    except FileRefused as refused:  # found past the start of the file (a cell too long): nothing was stored
        return _import_batch_refused(batch, refused)
    except BaseException as exc:  # an interrupt too: the transaction is gone, the batch says so
        ImportBatch.objects.filter(pk=batch_id).update(
            status=ImportBatch.Status.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=clock.now(),
        )
        raise
    finally:
        reporter.close()
    return batch


def _import_batch_refused(batch: ImportBatch, refused: FileRefused) -> ImportBatch:
    """The file cannot be read as a dose list: the batch says why, and its file stays stored."""
    batch.status = ImportBatch.Status.REFUSED
    batch.message = refused.bilingual("\n")
    batch.finished_at = clock.now()
    batch.save(update_fields=["status", "message", "finished_at"])
    figures_touched(  # the files refused per unit
        facilities=[batch.facility_id],
        provinces=[] if batch.facility_id else [batch.province_id],
        nation=batch.facility_id is None and batch.province_id is None,
    )
    return batch


@transaction.atomic
def import_batch_requeue(*, batch_id: int, user: User) -> ImportBatch:
    """Make a failed batch ready to run again from its stored file (its process died, the database was away);
    the caller queues the run once this commits. The file must be the one the batch was made from."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
    if batch.status != ImportBatch.Status.FAILED:
        raise ImportRefused(
            "Chỉ chạy lại được một lần nhập bị lỗi.", "Only a failed import can be run again."
        )
    try:
        with Path(batch.stored_path).open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
    except OSError:
        raise ImportRefused(
            "Tệp của lần nhập này không còn trên máy chủ: hãy tải tệp lên lại.",
            "The file of this import is no longer on the server: upload it again.",
        ) from None
    if digest.hexdigest() != batch.file_sha256:
        raise ImportRefused(
            "Tệp của lần nhập này đã bị thay đổi từ khi tải lên: hãy nhập tệp như một tệp mới.",
            "The file of this import has changed since it was sent: import it as a new file.",
        )
    previous_message = batch.message
    batch.status = ImportBatch.Status.QUEUED
    batch.message = ""
    batch.progress_rows = 0
    batch.finished_at = None
    batch.save(update_fields=["status", "message", "progress_rows", "finished_at"])
    audit_event_record(
        action=AuditEvent.Action.IMPORT_STARTED,
        actor_id=user.pk,
        object_type="import_batch",
        object_id=str(batch.pk),
        detail={
            "file_name": batch.file_name,
            "sha256": batch.file_sha256,
            "run_again_after": previous_message[:500],
        },
    )
    return batch


# The background task that runs a batch (``vaxreg.imports.tasks``, which imports this module), as its rows name it.
RUN_TASK_PATH = "vaxreg.imports.tasks.import_batch_run_task"
INTERRUPTED_VI = (
    "Quá trình nhập đã dừng trước khi xong (tiến trình nhập bị tắt hoặc máy chủ khởi động lại); không dòng nào "
    "của tệp được lưu. Hãy nhập lại tệp."
)
INTERRUPTED_EN = (
    "The import stopped before it finished (its process was stopped or the server restarted); no row of the "
    "file was stored. Import the file again."
)


def import_batches_interrupted_close() -> int:
    """Mark as failed every batch left running by a process that ended mid-import; how many were.

    Such a batch stored nothing (its transaction ended with the process), but it would show as running for
    ever. A batch whose lock someone holds is still being imported and is left alone. The background task
    that ran it, left running by the same death, is closed with it.
    """
    closed = 0
    for batch_id in ImportBatch.objects.filter(status=ImportBatch.Status.RUNNING).values_list(
        "pk", flat=True
    ):
        with process_lock(_run_lock(batch_id)) as held:
            if held:  # no living process holds it; its status is read again under the lock
                closed += _import_batch_interrupted_close(batch_id=batch_id)
        for result_id in task_results_running(task_path=RUN_TASK_PATH, args=[batch_id]):
            task_result_interrupted_close(
                result_id=result_id,
                reason_vi=f"Lô nhập #{batch_id}: {INTERRUPTED_VI}",
                reason_en=f"Import batch #{batch_id}: {INTERRUPTED_EN}",
            )
    return closed


@transaction.atomic
def _import_batch_interrupted_close(*, batch_id: int) -> int:
    now = clock.now()
    progress = import_batch_progress(ImportBatch.objects.get(pk=batch_id))  # before it stops being running
    closed = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.RUNNING).update(
        status=ImportBatch.Status.FAILED, message=f"{INTERRUPTED_VI}\n{INTERRUPTED_EN}", finished_at=now
    )
    if closed:
        audit_event_record(
            action=AuditEvent.Action.IMPORT_INTERRUPTED,
            actor_id=None,
            object_type="import_batch",
            object_id=str(batch_id),
            detail={"rows_handled_before_the_stop": progress, "rows_stored": 0},
        )
        progress_file(batch_id).unlink(missing_ok=True)
        ImportProgress.objects.filter(batch_id=batch_id).delete()
    return closed


@contextlib.contextmanager
def _bulk_load_mode() -> Iterator[None]:
    """SQLite checks every foreign key of every inserted row against its parent table; the importer takes
    every key from the parents it just read or wrote, so the checks are switched off for its transaction
    (SQLite allows that only outside a transaction). PostgreSQL keeps its checks."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys = ON")


def _missing_columns_refusal(missing: list[Any], found: list[str]) -> FileRefused:
    names = ", ".join(f"“{COLUMNS_BY_FIELD[f].vietnamese}” ({f.value})" for f in missing)
    shown = ", ".join(f"“{h[:40]}”" for h in found[:30] if h.strip()) or "—"
    return FileRefused(
        "COLUMNS_MISSING",
        f"Tệp thiếu cột bắt buộc: {names}. Các cột tìm thấy: {shown}.",
        f"The file lacks required columns: {names}. Columns found: {shown}.",
    )


def _normalizer_for(batch: ImportBatch, dose_file: DoseFile) -> RowNormalizer:
    facilities = facility_map()
    only_facility = next((ref for ref in facilities.values() if ref.id == batch.facility_id), None)
    return RowNormalizer(
        positions=dose_file.layout.headers.positions,
        facilities=facilities,
        communes=commune_code_map(),
        commune_province=dict(Commune.objects.values_list("code", "province_id")),
        vaccines=vaccine_alias_map(),
        only_facility=only_facility,
        only_province=batch.province_id,
    )


def rejected_rows_report(
    *, batch: ImportBatch, actor: User | None, fmt: str = "csv"
) -> tuple[bytes, str, str]:
    """The rejected rows of a batch, one line per (row, reason), with the row's raw values after them.

    The values are as read, full ID numbers included, so that the facility can correct the rows and send
    them again; every report made is therefore written to the audit log as a full-ID read (who, which
    batch, how many rows). Pages and the API show the rows with the ID masked (``rejected_rows_shown``).
    """
    rows = list(RejectedRow.objects.filter(batch=batch).order_by("row_number"))
    audit_event_record(
        action=AuditEvent.Action.FULL_ID_READ,
        actor_id=actor.pk if actor else None,
        object_type="import_batch",
        object_id=str(batch.pk),
        detail={"report": "rejected_rows", "format": fmt, "rows": len(rows)},
    )
    lines = [
        RejectedLine(
            row=row.row_number,
            reasons=[
                Reason(r["code"], r.get("column", ""), r["message_vi"], r["message_en"]) for r in row.reasons
            ],
            raw=row.raw,
        )
        for row in rows
    ]
    raw_headers = RowReport.raw_headers(lines)
    base = f"batch-{batch.pk}-rejected"
    content = table_bytes(
        REJECTION_HEADERS + raw_headers, rejection_rows(lines, raw_headers), fmt=fmt, sheet="Rejected"
    )
    if fmt == "xlsx":
        return content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{base}.xlsx"
    return content, "text/csv; charset=utf-8", f"{base}.csv"
