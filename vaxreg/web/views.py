"""Server-rendered pages; each one reads through a scoped selector and never looks past the user's unit."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.accounts.second_factor import second_factor_device, second_factor_enabled
from vaxreg.core.pages import refusal_form_error, refusal_message
from vaxreg.core.refusals import Refusal
from vaxreg.corrections.models import AccessChange, AccessChangeConfirmer
from vaxreg.corrections.selectors import (
    AccessChangeValue,
    access_change_values,
    access_changes_pending_of_person,
)
from vaxreg.corrections.services import (
    access_change_cancel,
    access_change_confirm,
    access_change_station_may_decide,
)
from vaxreg.imports.models import ImportBatch
from vaxreg.imports.selectors import import_batch_progress, import_batches_for_user, rejected_rows_shown
from vaxreg.imports.services import (
    import_batch_create,
    import_batch_requeue,
    rejected_rows_report,
)
from vaxreg.imports.tasks import import_batch_run_task
from vaxreg.people.selectors import (
    person_doses,
    person_full_id_number,
    person_get_for_user,
    person_history,
    person_search,
)
from vaxreg.vaccinations.selectors import days_of_facility
from vaxreg.vaccinations.services import SignOffRefused, day_sign_off
from vaxreg.web.forms import ImportUploadForm, SearchForm

ACTIVE_STATUSES = {ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING}
REJECTED_ROWS_SHOWN = 500


@require_GET
@requires(Capability.STAFF)
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    unit = user.facility or user.commune or user.province
    context = {
        "unit": unit,
        "second_factor_enabled": second_factor_enabled(),
        "second_factor_on": second_factor_enabled() and second_factor_device(user) is not None,
    }
    return render(request, "web/home.html", context)


@require_GET
@requires(Capability.PERSON_READ)
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        results = person_search(user=request.user, q=form.cleaned_data["q"])
    return render(request, "web/search.html", {"form": form, "results": results})


@dataclass(frozen=True)
class AccessChangeRow:
    change: AccessChange
    values: list[AccessChangeValue]
    asked_by_me: bool


def _access_change_rows(user: Any, person_id: int) -> list[AccessChangeRow]:
    return [
        AccessChangeRow(
            change=change,
            values=access_change_values(change, mask_phone=False),
            asked_by_me=change.requested_by_id == user.pk,
        )
        for change in access_changes_pending_of_person(person_id=person_id)
    ]


def _person_page(request: HttpRequest, person_id: int, *, full_id_number: str | None = None) -> HttpResponse:
    person = person_get_for_user(user=request.user, person_id=person_id)
    context = {
        "person": person,
        "doses": person_doses(person),
        "history": person_history(person),
        "full_id_number": full_id_number,
        "access_changes": _access_change_rows(request.user, person.pk),
        "station_may_decide": access_change_station_may_decide(user=request.user, person_id=person.pk),
    }
    return render(request, "web/person.html", context)


@require_POST
@requires(Capability.PERSON_READ)
def person_access_change(request: HttpRequest, person_id: int, change_id: int) -> HttpResponse:
    """The commune health station confirms (after checking the papers) or refuses a change of the phone on
    record, ID number or commune; the user who asked for it may withdraw it."""
    person = person_get_for_user(user=request.user, person_id=person_id)
    if not access_changes_pending_of_person(person_id=person.pk).filter(pk=change_id).exists():
        raise Http404(f"access change {change_id}")
    note = request.POST.get("note", "")
    confirm = request.POST.get("decision") == "confirm"
    try:
        if confirm:
            access_change_confirm(
                change_id=change_id, how=AccessChangeConfirmer.STATION, actor=request.user, note=note
            )
        else:
            access_change_cancel(change_id=change_id, actor=request.user, note=note)
    except Refusal as refusal:
        refusal_message(request, refusal)
    else:
        messages.success(request, _("The change was applied.") if confirm else _("The change was dropped."))
    return redirect("web:person", person_id=person.pk)


@require_GET
@requires(Capability.PERSON_READ)
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    return _person_page(request, person_id)


@require_POST
@requires(Capability.PERSON_FULL_ID_READ)
def person_full_id(request: HttpRequest, person_id: int) -> HttpResponse:
    # POST, not GET: the read is logged, so a prefetching browser or a shared link must not trigger it.
    _person, number = person_full_id_number(user=request.user, person_id=person_id)
    response = _person_page(request, person_id, full_id_number=number)
    response["Cache-Control"] = "no-store"
    return response


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
    return render(request, "web/imports.html", {"form": form, "batches": batches, "refresh": refresh})


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
    return render(request, "web/import_detail.html", context)


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


@require_http_methods(["GET", "POST"])
@requires(Capability.SIGN_OFF)
def sign_off(request: HttpRequest) -> HttpResponse:
    """The facility head's review: the latest days of doses, each signed off once (SPEC §6)."""
    user: Any = request.user
    if request.method == "POST":
        try:
            day = dt.date.fromisoformat(request.POST.get("day", ""))
            signed = day_sign_off(
                actor=user, facility_id=user.facility_id, day=day, note=request.POST.get("note", "")
            )
        except ValueError:
            messages.error(request, "Ngày không hợp lệ. / The day is not valid.")
        except SignOffRefused as refused:
            messages.error(request, refused.bilingual())
        else:
            messages.success(
                request,
                f"Đã ký duyệt {signed.doses} mũi tiêm ngày {signed.day:%d/%m/%Y}. / "
                f"Signed off {signed.doses} doses of {signed.day:%d/%m/%Y}.",
            )
        return redirect("web:sign_off")
    return render(request, "web/sign_off.html", {"days": days_of_facility(facility_id=user.facility_id)})
