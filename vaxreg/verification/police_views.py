"""The commune police's pages: the escalated cases, one case with its result form, the file exchange."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext_noop, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vaxreg.accounts.models import Role
from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.core.cccd import IdKind, parse_id_number
from vaxreg.core.dates import DateParseError, PartialDate, parse_partial_date
from vaxreg.core.i18n import both_languages, both_languages_lazy
from vaxreg.core.pages import refusal_form_error, refusal_message
from vaxreg.core.refusals import Refusal
from vaxreg.people.models import mask_id_number
from vaxreg.verification.models import CaseState
from vaxreg.verification.police import (
    PoliceExportRefused,
    birth_parts,
    can_export,
    can_record_result,
    case_blocking_findings,
    escalation_reasons,
    export_communes,
    police_cases_export,
    police_cases_waiting,
    police_import_report_read,
    police_import_report_store,
    police_results_import,
)
from vaxreg.verification.registry import (
    HttpRegistryClient,
    case_registry_check,
    registry_configured,
)
from vaxreg.verification.selectors import access_case_by_id, case_full_id_number
from vaxreg.verification.services import case_police_result

CASES_PER_PAGE = 100
MAX_RESULT_FILE_BYTES = 20 * 1024 * 1024
REJECTED_SHOWN = 500
_SESSION_REPORTS = "police_import_reports"  # the report tokens this session may download
_REPORTS_KEPT = 20


RESULT_CHOICES = [
    (
        "MATCH",
        both_languages_lazy(pgettext_lazy("pages in both languages", "matches the population register")),
    ),
    (
        "MISMATCH",
        both_languages_lazy(
            pgettext_lazy("pages in both languages", "differs: enter the right identity below")
        ),
    ),
    ("NOT_FOUND", both_languages_lazy(pgettext_lazy("pages in both languages", "not found in the register"))),
]
GENDER_CHOICES = [
    ("", "—"),
    ("M", both_languages_lazy(pgettext_lazy("pages in both languages", "male"))),
    ("F", both_languages_lazy(pgettext_lazy("pages in both languages", "female"))),
    ("O", both_languages_lazy(pgettext_lazy("pages in both languages", "other"))),
]


class PoliceResultForm(forms.Form):
    result = forms.ChoiceField(
        label=both_languages_lazy(pgettext_lazy("pages in both languages", "Result")),
        choices=RESULT_CHOICES,
        widget=forms.RadioSelect,
    )
    full_name = forms.CharField(
        label=both_languages_lazy(pgettext_lazy("pages in both languages", "Full name")),
        max_length=200,
        required=False,
    )
    birth_date = forms.CharField(
        label=both_languages_lazy(pgettext_lazy("pages in both languages", "Date of birth")),
        max_length=32,
        required=False,
        help_text=both_languages_lazy(pgettext_lazy("pages in both languages", "dd/mm/yyyy or the year")),
    )
    gender = forms.ChoiceField(
        label=both_languages_lazy(pgettext_lazy("pages in both languages", "Gender")),
        choices=GENDER_CHOICES,
        required=False,
    )
    id_number = forms.CharField(
        label=both_languages_lazy(pgettext_lazy("pages in both languages", "ID number")),
        max_length=32,
        required=False,
        help_text=both_languages_lazy(
            pgettext_lazy("pages in both languages", "leave empty when the number on record is right")
        ),
    )
    note = forms.CharField(
        label=both_languages_lazy(pgettext_lazy("pages in both languages", "Note")),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_birth_date(self) -> PartialDate | None:
        try:
            return parse_partial_date(self.cleaned_data["birth_date"])
        except DateParseError as exc:
            raise forms.ValidationError(exc.bilingual()) from exc

    def clean_id_number(self) -> str:
        text = self.cleaned_data["id_number"]
        parsed = parse_id_number(text)
        if parsed.kind is IdKind.NONE:
            return ""
        if parsed.kind not in (IdKind.CCCD, IdKind.CMND, IdKind.PASSPORT):
            raise forms.ValidationError(
                both_languages(gettext_noop("Not a 12-digit CCCD, a 9-digit CMND or a passport number."))
            )
        return parsed.number

    def verified(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {
            "full_name": data["full_name"].strip(),
            "gender": data["gender"],
            "id_number": data["id_number"],
            **birth_parts(data["birth_date"]),
        }
        return {name: value for name, value in values.items() if value not in (None, "")}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("result") == "MISMATCH" and not self.errors and not self.verified():
            raise forms.ValidationError(
                both_languages(gettext_noop("A mismatch needs the identity as the register has it."))
            )
        return data


class PoliceImportForm(forms.Form):
    file = forms.FileField(
        label=both_languages_lazy(gettext_noop("Result file (.xlsx or CSV)")),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_RESULT_FILE_BYTES:
            raise forms.ValidationError(both_languages(gettext_noop("The file is too large.")))
        return upload


@require_GET
@requires(Capability.CASE_READ)
def police_cases(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    page = Paginator(police_cases_waiting(user=user), CASES_PER_PAGE).get_page(request.GET.get("page"))
    reasons = escalation_reasons(page.object_list)
    context = {
        "page": page,
        "rows": [(case, reasons.get(case.pk, "")) for case in page.object_list],
        "can_export": can_export(user),
        "communes": export_communes(user=user) if user.role == Role.PROVINCE else [],
        "can_import": user_can(user, Capability.CASE_POLICE),
    }
    return render(request, "verification/police_cases.html", context)


def _initial_of(person: Any) -> dict[str, Any]:
    return {"full_name": person.full_name, "birth_date": person.birth_date_display, "gender": person.gender}


@require_http_methods(["GET", "POST"])
@requires(Capability.CASE_READ)
def police_case(request: HttpRequest, case_id: int) -> HttpResponse:
    user: Any = request.user
    case = access_case_by_id(user=user, case_id=case_id)
    may_record = can_record_result(user, case)
    form = PoliceResultForm(initial=_initial_of(case.person))
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied("only the case's commune police records a result")
        if request.POST.get("action") == "registry":
            return _registry_check(request, case.pk)
        form = PoliceResultForm(request.POST)
        if form.is_valid():
            try:
                case = case_police_result(
                    actor=user,
                    case_id=case.pk,
                    result=form.cleaned_data["result"],
                    verified=form.verified(),
                    note=form.cleaned_data["note"],
                )
            except Refusal as refusal:
                refusal_form_error(form, refusal, on_field=False)
            else:
                recorded = gettext_noop("Result recorded for case #%(case)s: %(state)s.")
                messages.success(
                    request, both_languages(recorded, {"case": case.pk, "state": CaseState(case.state).label})
                )
                return redirect("verification:police_cases")
    return _police_case_page(request, case, form=form, may_record=may_record)


@require_POST
@requires(Capability.CASE_READ)
def police_case_full_id(request: HttpRequest, case_id: int) -> HttpResponse:
    # POST, not GET: the read is logged, so a prefetching browser or a shared link must not trigger it.
    user: Any = request.user
    case, number = case_full_id_number(user=user, case_id=case_id)
    form = PoliceResultForm(initial=_initial_of(case.person))
    response = _police_case_page(
        request, case, form=form, may_record=can_record_result(user, case), full_id_number=number
    )
    response["Cache-Control"] = "no-store"
    return response


def _police_case_page(
    request: HttpRequest,
    case: Any,
    *,
    form: PoliceResultForm,
    may_record: bool,
    full_id_number: str | None = None,
) -> HttpResponse:
    context = {
        "case": case,
        "person": case.person,
        "full_id_number": full_id_number,
        "findings": case_blocking_findings(case),
        "escalation_reason": escalation_reasons([case]).get(case.pk, ""),
        "verified": _verified_shown(case.verified_identity),
        "form": form,
        "may_record": may_record and case.state == CaseState.ESCALATED,
        "registry": registry_configured(),
    }
    return render(request, "verification/police_case.html", context)


def _verified_shown(identity: dict[str, Any]) -> list[tuple[str, Any]]:
    """The identity the police verified, in display order; the ID masked as everywhere on screen."""
    shown = []
    if identity.get("full_name"):
        shown.append(("full_name", identity["full_name"]))
    if identity.get("birth_year"):
        parts = [identity.get("birth_day"), identity.get("birth_month"), identity["birth_year"]]
        shown.append(("birth_date", "/".join(f"{p:02d}" for p in parts if p)))
    if identity.get("gender"):
        shown.append(("gender", identity["gender"]))
    if identity.get("id_number"):
        shown.append(("id_number", mask_id_number(str(identity["id_number"]))))
    return shown


def _registry_check(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        case = case_registry_check(actor=request.user, case_id=case_id, client=HttpRegistryClient())  # type: ignore[arg-type]
    except Refusal as refusal:
        refusal_message(request, refusal)
        return redirect("verification:police_case", case_id=case_id)
    answered = gettext_noop("The register answered %(result)s; case #%(case)s: %(state)s.")
    values = {"result": case.police_result, "case": case.pk, "state": CaseState(case.state).label}
    messages.success(request, both_languages(answered, values))
    return redirect("verification:police_cases")


@require_GET
@requires(Capability.POLICE_EXPORT)
def police_export(request: HttpRequest) -> HttpResponse:
    try:
        content, filename = police_cases_export(actor=request.user, commune_code=request.GET.get("commune"))  # type: ignore[arg-type]
    except PoliceExportRefused as exc:
        return HttpResponseBadRequest(exc.bilingual("\n"), content_type="text/plain; charset=utf-8")
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # it holds full ID numbers
    return response


@require_http_methods(["GET", "POST"])
@requires(Capability.CASE_POLICE)
def police_import(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = PoliceImportForm(request.POST or None, request.FILES or None)
    report = token = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = police_results_import(actor=user, file_name=upload.name, content=upload.read())
        except Refusal as refusal:
            form.add_error("file", refusal.message())
        else:
            token = police_import_report_store(report)
            request.session[_SESSION_REPORTS] = [*request.session.get(_SESSION_REPORTS, []), token][
                -_REPORTS_KEPT:
            ]
    context = {
        "form": form,
        "report": report,
        "token": token,
        "rejected": report.rejected[:REJECTED_SHOWN] if report else [],
        "rejected_more": max(report.rows_rejected - REJECTED_SHOWN, 0) if report else 0,
    }
    return render(request, "verification/police_import.html", context)


@require_GET
@requires(Capability.CASE_POLICE, hidden=True)
def police_import_report(request: HttpRequest, token: str) -> HttpResponse:
    content = police_import_report_read(token) if token in request.session.get(_SESSION_REPORTS, []) else None
    if content is None:
        raise Http404("report")
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="police-import-{token[:8]}.csv"'
    return response
