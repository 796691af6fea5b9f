"""The handlers' pages: the inbox, one complaint with its proof and the matched records, the actions, and
the figures. Reads go through the complaint selectors; each action calls one service."""

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.complaints import services
from vaxreg.complaints.figures import complaint_figures
from vaxreg.complaints.forms import (
    ApproveCorrectionForm,
    ApproveDoseForm,
    DeferForm,
    FiguresFilterForm,
    InboxFilterForm,
    RejectForm,
    TransferForm,
    category_label,
    reject_reason_label,
)
from vaxreg.complaints.models import OPEN_STATES, Attachment, Complaint, ComplaintState
from vaxreg.complaints.selectors import (
    ComplaintNotVisible,
    access_complaint_by_id,
    complaint_access_changes,
    complaint_attachments,
    complaint_candidates,
    complaint_full_id_number,
    complaint_history,
    complaint_inbox,
    complaint_joined,
    complaint_proof_read,
    complaints_for_user,
    time_left,
)
from vaxreg.complaints.services import NEW_PERSON
from vaxreg.core import clock
from vaxreg.core.pages import form_action
from vaxreg.corrections.models import AccessChange, AccessChangeState
from vaxreg.corrections.services import access_field_names
from vaxreg.people.models import Person, mask_id_number
from vaxreg.places.models import Facility
from vaxreg.vaccinations.models import Vaccine

INBOX_PAGE_SIZE = 50
TRANSFER_CHOICES_MAX = 500


def _render(
    request: HttpRequest, template: str, context: Mapping[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, context, status=status)


def _staff(request: HttpRequest) -> User:
    """The logged-in user; the view's capability was checked by ``@requires``."""
    user: Any = request.user
    return user


def state_label(state: str) -> str:
    return str(ComplaintState(state).label)


# -- the inbox ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    complaint: Complaint
    category: str
    state: str
    overdue: bool
    time_left: str
    escalated: bool
    id_masked: str
    handled_here: bool


def _row(complaint: Complaint, now: Any) -> InboxRow:
    overdue, left = time_left(complaint.due_at, now)
    is_open = complaint.state in OPEN_STATES
    return InboxRow(
        complaint=complaint,
        category=category_label(complaint.category),
        state=state_label(complaint.state),
        overdue=is_open and overdue,
        time_left=left if is_open else "",
        escalated=complaint.escalated_at is not None,
        id_masked=mask_id_number(complaint.id_number),
        handled_here=bool(getattr(complaint, "handled_here", True)),
    )


@require_GET
@requires(Capability.COMPLAINT_READ)
def inbox_view(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    form = InboxFilterForm(request.GET or None)
    now = clock.now()
    page = Paginator(complaint_inbox(user=user, filters=form.to_filter(), now=now), INBOX_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": [_row(c, now) for c in page.object_list],
        "querystring": query.urlencode(),
        "is_province": user.role == Role.PROVINCE,
    }
    return _render(request, "complaints/handler/inbox.html", context)


# -- one complaint -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedDose:
    date: str
    vaccine: str
    dose_number: str
    lot: str


def _dmy(value: Any) -> str:
    """An ISO date or time as people read it here (dd/mm/yyyy, local time); anything else as it is."""
    text = str(value or "")
    try:
        if len(text) > 10:
            return timezone.localtime(dt.datetime.fromisoformat(text)).strftime("%d/%m/%Y %H:%M")
        return dt.date.fromisoformat(text).strftime("%d/%m/%Y")
    except ValueError:
        return text


def _claimed(complaint: Complaint) -> list[ClaimedDose]:
    doses = complaint.claimed_doses if isinstance(complaint.claimed_doses, list) else []
    return [
        ClaimedDose(
            date=_dmy(d.get("date") or d.get("vaccination_date")),
            vaccine=str(d.get("vaccine") or ""),
            dose_number=str(d.get("dose_number") or ""),
            lot=str(d.get("lot") or d.get("lot_number") or ""),
        )
        for d in doses
        if isinstance(d, dict)
    ]


HISTORY_FIELDS = {
    "state": _("State"),
    "deferred_until": _("Deferred until"),
    "handler_facility": _("Handling facility"),
    "handler_province": _("Handling province"),
    "person_id": _("Matched person"),
    "reminded_at": _("12 hours left reminder"),
    "escalated_at": _("Past due, escalated"),
}


@dataclass(frozen=True)
class HistoryRow:
    at: Any
    what: str
    old: str
    new: str
    reason: str
    actor: str


def _history_value(field: str, value: str | None) -> str:
    if value is None or value == "":
        return "—"
    if field == "state" and value in ComplaintState.values:
        return state_label(value)
    return _dmy(value)


def _history(complaint: Complaint) -> list[HistoryRow]:
    return [
        HistoryRow(
            at=h.at,
            what=str(HISTORY_FIELDS.get(h.field, h.field)),
            old=_history_value(h.field, h.old_value),
            new=_history_value(h.field, h.new_value),
            reason=h.reason,
            actor=h.actor.username if h.actor else gettext("system"),
        )
        for h in complaint_history(complaint)
    ]


def _transfer_facilities(complaint: Complaint) -> list[Facility]:
    facilities = Facility.objects.order_by("code")
    if complaint.handler_province_id:
        facilities = facilities.filter(province_id=complaint.handler_province_id)
    return list(facilities[:TRANSFER_CHOICES_MAX])


def _complaint_page(
    request: HttpRequest,
    complaint_id: int,
    *,
    bound: Mapping[str, Any] | None = None,
    full_id_number: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user: Any = request.user
    bound = bound or {}
    complaint = access_complaint_by_id(user=user, complaint_id=complaint_id)
    handled_here = bool(getattr(complaint, "handled_here", True))
    can_act = complaint.state in OPEN_STATES and services.handlers_may_act(user, complaint)
    candidates = complaint_candidates(user=user, complaint=complaint)
    initial = {"version": complaint.version}

    def form_for(key: str, make: Callable[[], Any]) -> Any:
        return (bound.get(key) or make()) if can_act else None

    vaccines = list(Vaccine.objects.order_by("name")) if can_act else []
    person_rows = [
        (p, form_for(f"person-{p.pk}", functools.partial(_correction_form, p, complaint))) for p in candidates
    ]
    overdue, left = time_left(complaint.due_at, clock.now())
    context = {
        "complaint": complaint,
        "category": category_label(complaint.category),
        "state": state_label(complaint.state),
        "is_open": complaint.state in OPEN_STATES,
        "overdue": overdue and complaint.state in OPEN_STATES,
        "time_left": left,
        "reject_reason": reject_reason_label(complaint.reject_reason) if complaint.reject_reason else "",
        "id_number_masked": mask_id_number(complaint.id_number),
        "full_id_number": full_id_number,
        "claimed": _claimed(complaint),
        "attachments": complaint_attachments(complaint),
        "proofs_readable": user_can(user, Capability.COMPLAINT_HANDLE),
        "person_rows": person_rows,
        "handled_here": handled_here,
        "joined": complaint_joined(complaint) if handled_here else [],
        "history": _history(complaint) if handled_here else [],
        "access_changes": [_access_change_row(a) for a in complaint_access_changes(complaint)]
        if handled_here
        else [],
        "can_act": can_act,
        "dose_form": form_for("dose", lambda: _dose_form(complaint, candidates, vaccines))
        if candidates or complaint.person_id is None
        else None,
        "defer_form": form_for("defer", lambda: DeferForm(initial=initial)),
        "reject_form": form_for("reject", lambda: RejectForm(initial=initial)),
        "transfer_form": form_for("transfer", lambda: TransferForm(initial=initial)),
        "facilities": _transfer_facilities(complaint) if can_act else [],
        "bound_key": next(iter(bound), ""),
        "bound_errors": [error for form in bound.values() for error in _named_errors(form)],
    }
    return _render(request, "complaints/handler/complaint.html", context, status=status)


@dataclass(frozen=True)
class AccessChangeRow:
    fields: str
    state: str
    requested_at: Any
    expires_at: Any
    decided_at: Any


def _access_change_row(change: AccessChange) -> AccessChangeRow:
    return AccessChangeRow(
        fields=access_field_names(change.changes),
        state=str(AccessChangeState(change.state).label),
        requested_at=change.requested_at,
        expires_at=change.expires_at,
        decided_at=change.decided_at,
    )


def _dose_form(complaint: Complaint, candidates: list[Person], vaccines: list[Vaccine]) -> ApproveDoseForm:
    """Filled in from the first dose the citizen claims, to the person matched at intake."""
    claimed = (
        next((d for d in complaint.claimed_doses if isinstance(d, dict)), {})
        if complaint.claimed_doses
        else {}
    )
    known = {v.code for v in vaccines}
    initial = {
        "version": complaint.version,
        "person_id": complaint.person_id or (candidates[0].pk if candidates else NEW_PERSON),
        "vaccination_date": claimed.get("date") or None,
        "vaccine_id": claimed.get("vaccine") if claimed.get("vaccine") in known else "",
        "dose_number": claimed.get("dose_number") or "",
        "lot_number": claimed.get("lot") or "",
    }
    return ApproveDoseForm(
        persons=candidates, vaccines=vaccines, allow_new_person=complaint.person_id is None, initial=initial
    )


def _named_errors(form: Any) -> list[str]:
    """Each error with the label of its field in front, so the summary says where to look."""
    named: list[str] = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = f"{field.label}: " if field is not None and field.label and not field.widget.is_hidden else ""
        named.extend(f"{label}{error}" for error in errors)
    return named


def _correction_form(person: Person, complaint: Complaint) -> ApproveCorrectionForm:
    form = ApproveCorrectionForm(person=person)
    form.initial["version"] = complaint.version
    return form


@require_GET
@requires(Capability.COMPLAINT_READ)
def complaint_detail(request: HttpRequest, complaint_id: int) -> HttpResponse:
    return _complaint_page(request, complaint_id)


@require_POST
@requires(Capability.COMPLAINT_READ)
def complaint_full_id(request: HttpRequest, complaint_id: int) -> HttpResponse:
    user = _staff(request)
    _complaint, number = complaint_full_id_number(user=user, complaint_id=complaint_id)
    response = _complaint_page(request, complaint_id, full_id_number=number)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@requires(Capability.COMPLAINT_HANDLE)
def proof_view(request: HttpRequest, complaint_id: int, position: int) -> HttpResponse:
    user = _staff(request)
    attachment, content = complaint_proof_read(user=user, complaint_id=complaint_id, position=position)
    response = HttpResponse(content, content_type=attachment.content_type)
    disposition = "attachment" if attachment.content_type == Attachment.Kind.PDF else "inline"
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(
        attachment.content_type, "bin"
    )
    response["Content-Disposition"] = f'{disposition}; filename="proof-{complaint_id}-{position}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# -- the actions -------------------------------------------------------------------------------------------


def _acting(request: HttpRequest, complaint_id: int) -> tuple[User, Complaint]:
    """The user and the complaint, when the user handles it: 403 for a role that only reads, 404 outside."""
    user = _staff(request)
    complaint = access_complaint_by_id(user=user, complaint_id=complaint_id)
    if not services.handlers_may_act(user, complaint):
        raise PermissionDenied("this unit reads the complaint but does not handle it")
    return user, complaint


def _act(
    request: HttpRequest,
    complaint_id: int,
    key: str,
    form: Any,
    act: Callable[[User, Complaint, dict[str, Any]], str],
) -> HttpResponse:
    """One handler action: validate, call the service, then redirect or show the refusal on the page."""
    user, complaint = _acting(request, complaint_id)
    return form_action(
        request,
        form,
        lambda data: act(user, complaint, data),
        done=lambda: redirect("complaints:complaint", complaint_id=complaint.pk),
        again=lambda status: _complaint_page(request, complaint.pk, bound={key: form}, status=status),
    )


@require_POST
@requires(Capability.COMPLAINT_HANDLE)
def approve_dose_view(request: HttpRequest, complaint_id: int) -> HttpResponse:
    user, complaint = _acting(request, complaint_id)
    persons = complaint_candidates(user=user, complaint=complaint)
    form = ApproveDoseForm(
        request.POST,
        persons=persons,
        vaccines=Vaccine.objects.order_by("name"),
        allow_new_person=complaint.person_id is None,
    )

    def act(user: User, complaint: Complaint, data: dict[str, Any]) -> str:
        services.complaint_approve_with_dose(
            actor=user,
            complaint_id=complaint.pk,
            person_id=data["person_id"],
            vaccination_date=data["vaccination_date"],
            vaccine_id=data["vaccine_id"] or None,
            dose_number=data["dose_number"],
            lot_number=data["lot_number"],
            note=data["note"],
            facility_code=data["facility_code"],
            expected_version=data["version"],
        )
        return gettext("The dose was added and the complaint is closed.")

    return _act(request, complaint_id, "dose", form, act)


@require_POST
@requires(Capability.COMPLAINT_HANDLE)
def approve_correction_view(request: HttpRequest, complaint_id: int, person_id: int) -> HttpResponse:
    user, complaint = _acting(request, complaint_id)
    person = next(
        (p for p in complaint_candidates(user=user, complaint=complaint) if p.pk == person_id), None
    )
    if person is None:
        raise ComplaintNotVisible(f"person {person_id}")
    form = ApproveCorrectionForm(request.POST, person=person)

    def act(user: User, complaint: Complaint, data: dict[str, Any]) -> str:
        services.complaint_approve_with_correction(
            actor=user,
            complaint_id=complaint.pk,
            person_id=person.pk,
            person_version=data["person_version"],
            changes=form.changes(),
            note=data["note"],
            expected_version=data["version"],
        )
        return gettext("The record was corrected and the complaint is closed.")

    return _act(request, complaint_id, f"person-{person.pk}", form, act)


@require_POST
@requires(Capability.COMPLAINT_HANDLE)
def defer_view(request: HttpRequest, complaint_id: int) -> HttpResponse:
    def act(user: User, complaint: Complaint, data: dict[str, Any]) -> str:
        services.complaint_defer(
            actor=user,
            complaint_id=complaint.pk,
            reason=data["reason"],
            until=data["until"],
            expected_version=data["version"],
        )
        day = f"{data['until']:%d/%m/%Y}"
        return gettext("Deferred until %(day)s.") % {"day": day}

    return _act(request, complaint_id, "defer", DeferForm(request.POST), act)


@require_POST
@requires(Capability.COMPLAINT_HANDLE)
def reject_view(request: HttpRequest, complaint_id: int) -> HttpResponse:
    def act(user: User, complaint: Complaint, data: dict[str, Any]) -> str:
        services.complaint_reject(
            actor=user,
            complaint_id=complaint.pk,
            reason=data["reason"],
            text=data["text"],
            expected_version=data["version"],
        )
        return gettext("The complaint was rejected.")

    return _act(request, complaint_id, "reject", RejectForm(request.POST), act)


@require_POST
@requires(Capability.COMPLAINT_HANDLE)
def transfer_view(request: HttpRequest, complaint_id: int) -> HttpResponse:
    user = _staff(request)

    def act(actor: User, complaint: Complaint, data: dict[str, Any]) -> str:
        moved = services.complaint_transfer(
            actor=actor,
            complaint_id=complaint.pk,
            facility_code=data["facility_code"],
            reason=data["reason"],
            expected_version=data["version"],
        )
        code = moved.handler_facility.code if moved.handler_facility else ""
        return gettext("The complaint was transferred to %(code)s.") % {"code": code}

    response = _act(request, complaint_id, "transfer", TransferForm(request.POST), act)
    # Once transferred, the complaint may lie outside the sender's unit: back to the inbox, not a 404.
    if response.status_code == 302 and not _still_visible(user, complaint_id):
        return redirect("complaints:inbox")
    return response


def _still_visible(user: User, complaint_id: int) -> bool:
    return complaints_for_user(user=user).filter(pk=complaint_id).exists()


# -- figures -----------------------------------------------------------------------------------------------


@require_GET
@requires(Capability.COMPLAINT_FIGURES)
def figures_view(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = FiguresFilterForm(request.GET or None)
    received_from, received_to = form.dates()
    figures = complaint_figures(user=user, received_from=received_from, received_to=received_to)
    return _render(request, "complaints/handler/figures.html", {"form": form, "figures": figures})
