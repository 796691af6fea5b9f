"""Which roles may do what: one list of capabilities, the roles that hold each, and the checks that read it.

Every page, API operation and service that is open to some roles and not others asks here, and nowhere else
says which roles those are. What a role may do is a capability (``Capability``); which rows of the tables
it then sees is its jurisdiction (``vaxreg.core.jurisdiction`` and the apps' selectors), checked after.

- ``@requires(Capability.X)`` on a Django view: a visitor without a login goes to the login page, a logged-in
  user whose role lacks the capability is refused (403), or, with ``hidden=True``, told the page does not
  exist (404), as for an id outside the jurisdiction. ``@public`` declares a view open to everyone.
- ``@operation_requires(Capability.X)`` on a django-ninja operation: the API's own 401 without a login, and
  403 (``forbidden``, the JSON error body) for a role without the capability, before the request's input
  is read, so a role that may not act learns nothing from the input checks.
- ``capability_require(user, Capability.X)`` in a service raises the forbidden refusal.

Each marks the view with ``required_capability``; a test walks every URL the resolver knows and checks
each role's answer against ``ROLES_OF``, so a new URL without a declared capability fails there.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase
from ninja.decorators import decorate_view

from vaxreg.accounts.models import Role
from vaxreg.core.refusals import Forbidden

F = TypeVar("F", bound=Callable[..., Any])


class Capability(StrEnum):
    PUBLIC = "public"  # anyone, without an account: the citizens' pages, login, public lists
    STAFF = "staff"  # any staff account: the home page, the account's own settings
    PERSON_READ = "person_read"  # search persons, read one person (rows: jurisdiction)
    PERSON_FULL_ID_READ = "person_full_id_read"  # the audited read of a full ID number
    ACCESS_CHANGE_CONFIRM = "access_change_confirm"  # confirm a change of phone, ID or commune on papers
    IMPORT_READ = "import_read"  # an import's status and rejected rows (rows: jurisdiction)
    IMPORT_RUN = "import_run"  # send a dose file, run a failed import again
    SIGN_OFF = "sign_off"  # the facility head's review of a day's doses
    CASE_READ = "case_read"  # verification worklist, cases, police list (rows: jurisdiction)
    CASE_WORK = "case_work"  # the health station's work on a case: correct, contact, escalate, close
    CASE_POLICE = "case_police"  # the commune police's result, one case or a result file
    POLICE_EXPORT = "police_export"  # the escalated cases of a commune, as a workbook for the police
    FINDINGS_EXPORT = "findings_export"  # the unit's open findings as CSV or XLSX
    COMPLAINT_READ = "complaint_read"  # the complaints inbox and one complaint (rows: jurisdiction)
    COMPLAINT_HANDLE = "complaint_handle"  # act on a complaint, read its proof files
    COMPLAINT_FIGURES = "complaint_figures"  # received / resolved on time / late
    API_DOCS = "api_docs"  # the JSON API's documentation and OpenAPI document
    FHIR_CLIENT = "fhir_client"  # a facility's software with its bearer token; no staff role
    MERGE_PERSONS = "merge_persons"  # merge two records of one citizen, undo a merge (rows: jurisdiction)
    DASHBOARD_READ = "dashboard_read"  # the progress figures of the user's unit and those below it
    CAMPAIGN_MANAGE = "campaign_manage"  # start or close a campaign for the user's unit or one below it


ALL_ROLES = frozenset(Role)
_READ_ALL = frozenset({Role.NATIONAL, Role.ADMIN})
_COMPLAINT_HANDLERS = frozenset({Role.FACILITY, Role.COMMUNE, Role.PROVINCE})

ROLES_OF: dict[Capability, frozenset[Role]] = {
    Capability.PUBLIC: ALL_ROLES,
    Capability.STAFF: ALL_ROLES,
    Capability.PERSON_READ: ALL_ROLES,
    Capability.PERSON_FULL_ID_READ: ALL_ROLES,
    Capability.ACCESS_CHANGE_CONFIRM: frozenset({Role.COMMUNE}),
    Capability.IMPORT_READ: ALL_ROLES,
    # Commune health stations and police work on records but do not send dose files.
    Capability.IMPORT_RUN: _READ_ALL | {Role.PROVINCE, Role.FACILITY},
    Capability.SIGN_OFF: frozenset({Role.FACILITY}),
    Capability.CASE_READ: ALL_ROLES,
    Capability.CASE_WORK: frozenset({Role.COMMUNE}),
    Capability.CASE_POLICE: frozenset({Role.POLICE}),
    Capability.POLICE_EXPORT: frozenset({Role.POLICE, Role.COMMUNE, Role.PROVINCE}),
    Capability.FINDINGS_EXPORT: frozenset({Role.COMMUNE, Role.FACILITY}),
    # The ministry and administrators read complaints; the police see none.
    Capability.COMPLAINT_READ: _COMPLAINT_HANDLERS | _READ_ALL,
    Capability.COMPLAINT_HANDLE: _COMPLAINT_HANDLERS,
    Capability.COMPLAINT_FIGURES: _COMPLAINT_HANDLERS | _READ_ALL,
    # Every staff role has operations of its own in the API, so every staff role reads its documentation.
    Capability.API_DOCS: ALL_ROLES,
    Capability.FHIR_CLIENT: frozenset(),
    # Those who know the citizens: the commune health stations, the provinces and the ministry.
    Capability.MERGE_PERSONS: frozenset({Role.COMMUNE, Role.PROVINCE, Role.NATIONAL}),
    # Every unit that answers for records; the police work only the cases escalated to them.
    Capability.DASHBOARD_READ: _READ_ALL | {Role.PROVINCE, Role.COMMUNE, Role.FACILITY},
    # Those who set the deadlines: the ministry and the provinces.
    Capability.CAMPAIGN_MANAGE: frozenset({Role.NATIONAL, Role.PROVINCE}),
}

# What a refused user reads (Vietnamese, English); the API's 403 body carries it.
_REFUSALS: dict[Capability, tuple[str, str]] = {
    Capability.IMPORT_RUN: (
        "Vai trò của bạn không được nhập tệp dữ liệu tiêm.",
        "Your role may not import dose files.",
    ),
    Capability.CASE_WORK: (
        "Chỉ trạm y tế xã của hồ sơ mới làm được việc này.",
        "Only the case's commune health station can do this.",
    ),
    Capability.CASE_POLICE: (
        "Chỉ công an xã của hồ sơ mới ghi được kết quả xác minh.",
        "Only the case's commune police can record a verification result.",
    ),
    Capability.COMPLAINT_READ: (
        "Vai trò của bạn không xử lý phản ánh này.",
        "Your role does not handle this complaint.",
    ),
    Capability.COMPLAINT_HANDLE: (
        "Vai trò của bạn không xử lý phản ánh này.",
        "Your role does not handle this complaint.",
    ),
    Capability.COMPLAINT_FIGURES: (
        "Vai trò của bạn không xử lý phản ánh này.",
        "Your role does not handle this complaint.",
    ),
    Capability.API_DOCS: ("Vai trò của bạn không dùng API.", "Your role does not use the API."),
    Capability.MERGE_PERSONS: (
        "Vai trò của bạn không được gộp hồ sơ.",
        "Your role may not merge records.",
    ),
    Capability.CAMPAIGN_MANAGE: (
        "Chỉ Bộ Y tế và Sở Y tế mới tạo được chiến dịch.",
        "Only the ministry and the provinces start campaigns.",
    ),
}
_REFUSAL_DEFAULT = ("Vai trò của bạn không được làm việc này.", "Your role may not do this.")


def user_can(user: Any, capability: Capability) -> bool:
    """Whether the user's role holds the capability; everyone may do what is public, nobody else anything
    without an active staff account."""
    if capability is Capability.PUBLIC:
        return True
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return getattr(user, "role", None) in ROLES_OF[capability]


class CapabilityDenied(Forbidden, PermissionDenied):
    """The role may not do this: the forbidden refusal (403, the reason in Vietnamese and English), which the
    API answers as every refusal and Django's pages as a permission denied."""

    def __init__(self, capability: Capability) -> None:
        self.capability = capability
        super().__init__(*_REFUSALS.get(capability, _REFUSAL_DEFAULT))


def forbidden(capability: Capability) -> CapabilityDenied:
    """The forbidden refusal for a role without the capability."""
    return CapabilityDenied(capability)


def capability_require(user: Any, capability: Capability) -> None:
    """In a service: refuse (forbidden) a user whose role lacks the capability."""
    if not user_can(user, capability):
        raise forbidden(capability)


def _mark(view: F, capability: Capability) -> F:
    view.required_capability = capability  # type: ignore[attr-defined]
    return view


def public(view: F) -> F:
    """Declare a view open to everyone, without an account (it may still check a citizen's session)."""
    return _mark(view, Capability.PUBLIC)


def requires(capability: Capability, *, hidden: bool = False) -> Callable[[F], F]:
    """A Django view for the roles holding ``capability``: no login → the login page; a role without it →
    403, or 404 with ``hidden`` (a page the role has no rows in looks as if it did not exist)."""

    def decorate(view: F) -> F:
        if capability is Capability.PUBLIC:
            return public(view)

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_can(request.user, capability):
                raise Http404(capability.value) if hidden else forbidden(capability)
            return view(request, *args, **kwargs)

        return _mark(guarded, capability)  # type: ignore[return-value]

    return decorate


def _api_of(run: Any) -> Any:
    """The API an operation's ``run`` answers for (under any decorators applied before this one)."""
    while not hasattr(run, "__self__") and hasattr(run, "__wrapped__"):
        run = run.__wrapped__
    return run.__self__.api


def _operation_guard(capability: Capability) -> Callable[[Any], Any]:
    """Refuse a logged-in role without the capability before the operation reads its input; a visitor
    without a login goes on to the operation's own authentication (401)."""

    def decorate(run: Any) -> Any:
        @wraps(run)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if user.is_authenticated and not user_can(user, capability):
                response: HttpResponseBase = _api_of(run).on_exception(request, forbidden(capability))
                return response
            return run(request, *args, **kwargs)

        return guarded

    return decorate


def operation_requires(capability: Capability) -> Callable[[F], F]:
    """A django-ninja operation for the roles holding ``capability`` (put it under ``@router.get``/``post``)."""

    def decorate(func: F) -> F:
        if capability is not Capability.PUBLIC:
            func = decorate_view(_operation_guard(capability))(func)
        return _mark(func, capability)

    return decorate
