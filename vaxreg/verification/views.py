"""The health station's pages (SPEC §6): the worklist, one case with its actions, and the exports.

Views stay thin: they read through the verification selectors and each POST calls one service. A refused
action re-renders the page with what the user typed and the reason, in the page's language; a success
redirects back to the case with a message.
"""

import tempfile
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.core import clock
from vaxreg.core.pages import form_action, refusal_form_error, refusal_message
from vaxreg.core.refusals import Refusal
from vaxreg.core.tables import CONTENT_TYPES, TableTooLong
from vaxreg.corrections.services import CorrectionResult, StaleRecord
from vaxreg.people.selectors import person_doses
from vaxreg.quality.exports import EXPORT_FORMATS, findings_export_write
from vaxreg.vaccinations.models import Dose, Vaccine
from vaxreg.verification.forms import (
    AssignForm,
    ContactForm,
    DoseCorrectForm,
    EscalateForm,
    PersonCorrectForm,
    ResolveForm,
    UnverifiableForm,
    WorklistFilterForm,
)
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.selectors import access_case_by_id, staff_of_station
from vaxreg.verification.services import (
    TRANSITIONS,
    case_dose_correct,
    case_escalate,
    case_mark_unverifiable,
    case_person_correct,
    case_resolve,
    cases_assign,
    contact_attempt_log,
)
from vaxreg.verification.web_selectors import (
    case_contact_rows,
    case_findings,
    case_history,
    code_label,
    dose_values_display,
    field_label,
    person_values_display,
    state_label,
    worklist_export_write,
    worklist_facilities,
    worklist_page,
)

# The police's own case page is built elsewhere; the station's page only points to it.
POLICE_CASE_PATH = "/verification/police/cases/{case_id}/"


def _render(
    request: HttpRequest, template: str, context: Mapping[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, context, status=status)


def _user(request: HttpRequest) -> User:
    """The logged-in user; the view's capability was checked by ``@requires``."""
    user: Any = request.user
    return user


def _download(out: Any, *, filename: str, fmt: str) -> FileResponse:
    out.seek(0)
    response = FileResponse(out, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt])
    response["Cache-Control"] = "no-store"
    return response


# -- the worklist ------------------------------------------------------------------------------------------


def _by_commune(user: User) -> bool:
    """Whether the user's worklist spans communes (a province's, the nation's), so that it filters by one."""
    return user.role in (Role.PROVINCE, Role.NATIONAL, Role.ADMIN)


def _worklist_context(
    user: User,
    params: QueryDict,
    assign_form: AssignForm | None = None,
    selected: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    staff = staff_of_station(user=user)
    form = WorklistFilterForm(
        params or None,
        facilities=worklist_facilities(user=user),
        staff=staff,
        by_commune=_by_commune(user),
    )
    page, rows = worklist_page(user=user, filters=form.to_filter(), page_number=params.get("page"))
    query = params.copy()
    query.pop("page", None)
    is_station = user_can(user, Capability.CASE_WORK)
    if is_station and assign_form is None:
        assign_form = AssignForm(staff=staff)
    here = reverse("verification:worklist") + (f"?{params.urlencode()}" if params else "")
    return {
        "form": form,
        "page": page,
        "rows": rows,
        "querystring": query.urlencode(),
        "here": here,
        "assign_form": assign_form if is_station else None,
        "selected": selected,
        "can_export_findings": user_can(user, Capability.FINDINGS_EXPORT),
    }


@require_GET
@requires(Capability.CASE_READ)
def worklist_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return _render(request, "verification/worklist.html", _worklist_context(user, request.GET))


@require_GET
@requires(Capability.CASE_READ)
def worklist_export(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    form = WorklistFilterForm(
        request.GET or None,
        facilities=worklist_facilities(user=user),
        staff=staff_of_station(user=user),
        by_commune=_by_commune(user),
    )
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it once sent
    try:
        worklist_export_write(user=user, filters=form.to_filter(), out=out)
    except TableTooLong as refused:
        out.close()
        refusal_message(request, refused)
        return redirect(f"{reverse('verification:worklist')}?{request.GET.urlencode()}")
    return _download(out, filename=f"xac-minh-{clock.today():%Y%m%d}.xlsx", fmt="xlsx")


def _worklist_back(request: HttpRequest) -> str:
    back = request.POST.get("next", "")
    worklist = reverse("verification:worklist")
    if (
        back
        and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
        and urlsplit(back).path == worklist
    ):
        return back
    return worklist


@require_POST
@requires(Capability.CASE_WORK)
def cases_assign_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    back = _worklist_back(request)
    form = AssignForm(request.POST, staff=staff_of_station(user=user))
    status = 400
    if form.is_valid():
        try:
            count = cases_assign(
                actor=user, case_ids=form.cleaned_data["case_ids"], assignee_id=form.assignee_id()
            )
        except Refusal as refusal:
            status = refusal_form_error(form, refusal)
        else:
            messages.success(request, gettext("%(count)s case(s) assigned.") % {"count": count})
            return redirect(back)
    params = QueryDict(urlsplit(back).query)
    context = _worklist_context(user, params, form, frozenset(request.POST.getlist("case_ids")))
    return _render(request, "verification/worklist.html", context, status=status)


# -- one case ----------------------------------------------------------------------------------------------


def _case_page(
    request: HttpRequest,
    case_id: int,
    *,
    bound: Mapping[str, Any] | None = None,
    stale: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    user: Any = request.user
    bound = bound or {}
    case = access_case_by_id(user=user, case_id=case_id)
    person = case.person
    doses = person_doses(person)
    can_act = user_can(user, Capability.CASE_WORK) and case.commune_id == user.commune_id and case.is_active
    moves = TRANSITIONS[case.state] if can_act else set()
    vaccines = list(Vaccine.objects.order_by("name")) if can_act and doses else []

    def form_for(key: str, make: Callable[[], Any], allowed: bool = True) -> Any:
        if not (can_act and allowed):
            return None
        return bound.get(key) or make()

    def dose_form(dose: Dose) -> DoseCorrectForm | None:
        return form_for(f"dose-{dose.pk}", lambda: DoseCorrectForm(dose=dose, vaccines=vaccines))

    dose_rows = [(d, dose_form(d)) for d in doses]
    context = {
        "case": case,
        "person": person,
        "state": state_label(case.state),
        "codes": [(c, code_label(c)) for c in case.codes],
        "findings": case_findings(case=case),
        "dose_rows": dose_rows,
        "contacts": case_contact_rows(case=case),
        "history": case_history(case=case),
        "is_police": user_can(user, Capability.CASE_POLICE),
        "police_path": POLICE_CASE_PATH.format(case_id=case.pk),
        "can_act": can_act,
        "person_form": form_for("person", lambda: PersonCorrectForm(person=person)),
        "contact_form": form_for("contact", ContactForm),
        "escalate_form": form_for(
            "escalate",
            lambda: EscalateForm(initial={"case_version": case.version}),
            CaseState.ESCALATED in moves,
        ),
        "resolve_form": form_for(
            "resolve",
            lambda: ResolveForm(initial={"case_version": case.version}),
            CaseState.RESOLVED in moves,
        ),
        "unverifiable_form": form_for("unverifiable", UnverifiableForm, CaseState.UNVERIFIABLE in moves),
        "bound_key": next(iter(bound), ""),
        "bound_errors": [e for form in bound.values() for errors in form.errors.values() for e in errors],
        "stale": stale,
    }
    return _render(request, "verification/case.html", context, status=status)


@require_GET
@requires(Capability.CASE_READ)
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    return _case_page(request, case_id)


def _back_to_case(case_id: int) -> HttpResponse:
    return redirect("verification:case", case_id=case_id)


def _corrected_message(result: CorrectionResult) -> str:
    fields = ", ".join(field_label(name) for name in result.changed)
    closed = ", ".join(code_label(code) for code in sorted(result.check.closed))
    message = gettext("Corrected: %(fields)s.") % {"fields": fields}
    if closed:
        message += " " + gettext("Findings closed: %(codes)s.") % {"codes": closed}
    return message


def _nothing_changed(request: HttpRequest, case_id: int) -> HttpResponse:
    messages.info(request, gettext("Nothing changed."))
    return _back_to_case(case_id)


@require_POST
@requires(Capability.CASE_WORK)
def case_person_correct_view(request: HttpRequest, case_id: int) -> HttpResponse:
    user = _user(request)
    case = access_case_by_id(user=user, case_id=case_id)
    data = request.POST.copy()
    form = PersonCorrectForm(data, person=case.person)
    stale, status = None, 400
    if form.is_valid():
        changes = form.changes()
        if not changes:
            return _nothing_changed(request, case.pk)
        try:
            result = case_person_correct(
                actor=user,
                case_id=case.pk,
                expected_version=form.cleaned_data["expected_version"],
                changes=changes,
                reason=form.cleaned_data["reason"],
            )
        except StaleRecord as exc:
            # What the user typed stays; the hidden version moves on so that saving again is a choice made
            # with the other person's values in sight.
            data["expected_version"] = str(exc.current["version"])
            status = refusal_form_error(form, exc)
            stale = person_values_display(exc.current)
        except Refusal as refusal:
            status = refusal_form_error(form, refusal)
        else:
            messages.success(request, _corrected_message(result))
            return _back_to_case(case.pk)
    return _case_page(request, case.pk, bound={"person": form}, stale=stale, status=status)


@require_POST
@requires(Capability.CASE_WORK)
def case_dose_correct_view(request: HttpRequest, case_id: int, dose_id: int) -> HttpResponse:
    user = _user(request)
    case = access_case_by_id(user=user, case_id=case_id)
    dose = Dose.objects.filter(pk=dose_id, person_id=case.person_id).first()
    if dose is None:
        raise Http404(f"dose {dose_id}")
    data = request.POST.copy()
    form = DoseCorrectForm(data, dose=dose, vaccines=Vaccine.objects.order_by("name"))
    stale, status = None, 400
    if form.is_valid():
        changes = form.changes()
        if not changes:
            return _nothing_changed(request, case.pk)
        try:
            result = case_dose_correct(
                actor=user,
                case_id=case.pk,
                dose_id=dose.pk,
                expected_version=form.cleaned_data["expected_version"],
                changes=changes,
                reason=form.cleaned_data["reason"],
            )
        except StaleRecord as exc:
            data[form.add_prefix("expected_version")] = str(exc.current["version"])
            status = refusal_form_error(form, exc)
            stale = dose_values_display(exc.current)
        except Refusal as refusal:
            status = refusal_form_error(form, refusal)
        else:
            messages.success(request, _corrected_message(result))
            return _back_to_case(case.pk)
    return _case_page(request, case.pk, bound={f"dose-{dose.pk}": form}, stale=stale, status=status)


def _case_action(
    request: HttpRequest,
    case_id: int,
    key: str,
    form: Any,
    act: Callable[[User, VerificationCase, dict[str, Any]], str],
) -> HttpResponse:
    """One station action on the case: validate, call the service, then redirect or show the refusal."""
    user = _user(request)
    case = access_case_by_id(user=user, case_id=case_id)
    return form_action(
        request,
        form,
        lambda data: act(user, case, data),
        done=lambda: _back_to_case(case.pk),
        again=lambda status: _case_page(request, case.pk, bound={key: form}, status=status),
    )


@require_POST
@requires(Capability.CASE_WORK)
def case_contact_log_view(request: HttpRequest, case_id: int) -> HttpResponse:
    def act(user: User, case: VerificationCase, data: dict[str, Any]) -> str:
        contact_attempt_log(
            actor=user, case_id=case.pk, channel=data["channel"], outcome=data["outcome"], note=data["note"]
        )
        return gettext("Contact attempt logged.")

    return _case_action(request, case_id, "contact", ContactForm(request.POST), act)


@require_POST
@requires(Capability.CASE_WORK)
def case_escalate_view(request: HttpRequest, case_id: int) -> HttpResponse:
    def act(user: User, case: VerificationCase, data: dict[str, Any]) -> str:
        case_escalate(
            actor=user, case_id=case.pk, reason=data["reason"], expected_version=data["case_version"]
        )
        return gettext("The case was handed to the commune police.")

    return _case_action(request, case_id, "escalate", EscalateForm(request.POST), act)


@require_POST
@requires(Capability.CASE_WORK)
def case_resolve_view(request: HttpRequest, case_id: int) -> HttpResponse:
    def act(user: User, case: VerificationCase, data: dict[str, Any]) -> str:
        case_resolve(
            actor=user,
            case_id=case.pk,
            justification=data["justification"],
            expected_version=data["case_version"],
        )
        return gettext("The case is resolved.")

    return _case_action(request, case_id, "resolve", ResolveForm(request.POST), act)


@require_POST
@requires(Capability.CASE_WORK)
def case_unverifiable_view(request: HttpRequest, case_id: int) -> HttpResponse:
    def act(user: User, case: VerificationCase, data: dict[str, Any]) -> str:
        case_mark_unverifiable(actor=user, case_id=case.pk, reason=data["reason"])
        return gettext("The case is closed as unverifiable.")

    return _case_action(request, case_id, "unverifiable", UnverifiableForm(request.POST), act)


# -- the findings export -----------------------------------------------------------------------------------


@require_GET
@requires(Capability.FINDINGS_EXPORT)
def findings_export(request: HttpRequest, fmt: str) -> FileResponse:
    if fmt not in EXPORT_FORMATS:
        raise Http404(fmt)
    user: Any = request.user
    out = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it once sent
    findings_export_write(user=user, fmt=fmt, out=out)
    unit = user.facility.code if user.role == Role.FACILITY else user.commune_id
    return _download(out, filename=f"loi-du-lieu-{unit}-{clock.today():%Y%m%d}.{fmt}", fmt=fmt)
