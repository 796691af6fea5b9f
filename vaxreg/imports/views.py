"""The import pages: upload and list, one import with its rejected rows, run it again, download the
rejected rows (an audited full-ID read). Each reads through the scoped selectors."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.core.pages import refusal_form_error, refusal_message
from vaxreg.core.refusals import Refusal
from vaxreg.imports.forms import ImportUploadForm
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.selectors import import_batch_progress, import_batches_for_user, rejected_rows_shown
from vaxreg.imports.services import (
    import_batch_create,
    import_batch_requeue,
    rejected_rows_report,
)
from vaxreg.imports.tasks import import_batch_run_task

ACTIVE_STATUSES = {ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING}
REJECTED_ROWS_SHOWN = 500


def _locked_facility_code(user: Any) -> str | None:
    return user.facility.code if user.role == "facility" and user.facility_id else None


@require_http_methods(["GET", "POST"])
@requires(Capability.IMPORT_RUN)
def imports(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    locked = _locked_facility_code(user)
    form = ImportUploadForm(request.POST or None, request.FILES or None, locked_facility_code=locked)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = import_batch_create(
                file_name=upload.name,
                content=upload,
                uploaded_by=user,
                facility_code=locked or form.cleaned_data["facility_code"] or None,
            )
        except Refusal as refusal:
            refusal_form_error(form, refusal, on_field=False)
        else:
            import_batch_run_task.enqueue(batch.pk)
            messages.success(request, _("File received; the import runs in the background."))
            return redirect("web:import_detail", batch_id=batch.pk)
    batches = [(b, import_batch_progress(b)) for b in import_batches_for_user(user)[:50]]
    refresh = any(b.status in ACTIVE_STATUSES for b, _rows in batches)
    return render(request, "imports/imports.html", {"form": form, "batches": batches, "refresh": refresh})


def _batch_for_user(user: Any, batch_id: int) -> ImportBatch:
    batch = (
        import_batches_for_user(user).select_related("facility", "uploaded_by").filter(pk=batch_id).first()
    )
    if batch is None:
        raise Http404(f"batch {batch_id}")
    return batch


@require_POST
@requires(Capability.IMPORT_RUN)
def import_run_again(request: HttpRequest, batch_id: int) -> HttpResponse:
    user: Any = request.user
    batch = _batch_for_user(user, batch_id)
    try:
        batch = import_batch_requeue(batch_id=batch.pk, user=user)
    except Refusal as refusal:
        refusal_message(request, refusal)
    else:
        import_batch_run_task.enqueue(batch.pk)
        messages.success(request, _("The import runs again in the background."))
    return redirect("web:import_detail", batch_id=batch.pk)


@require_GET
@requires(Capability.IMPORT_READ)
def import_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    user: Any = request.user
    batch = _batch_for_user(user, batch_id)
    rejected = rejected_rows_shown(batch=batch, limit=REJECTED_ROWS_SHOWN)
    context = {
        "batch": batch,
        "rejected": rejected,
        "rejected_more": max(batch.rows_rejected - len(rejected), 0),
        "refresh": batch.status in ACTIVE_STATUSES,
        "progress_now": import_batch_progress(batch),
        "can_run_again": batch.status == ImportBatch.Status.FAILED and user_can(user, Capability.IMPORT_RUN),
    }
    return render(request, "imports/import_detail.html", context)


@require_GET
@requires(Capability.IMPORT_READ)
def import_rejected_download(request: HttpRequest, batch_id: int, fmt: str) -> HttpResponse:
    if fmt not in {"csv", "xlsx"}:
        raise Http404(fmt)
    user: Any = request.user
    batch = _batch_for_user(user, batch_id)
    content, content_type, filename = rejected_rows_report(batch=batch, actor=user, fmt=fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # it holds full ID numbers
    return response
