"""The FHIR R4B REST interface for facility systems (``/fhir/``), authenticated by facility API tokens.

Every answer is ``application/fhir+json``; every error is an OperationOutcome. A person outside the
token's facility answers exactly as a person that does not exist (404, or an empty search).
"""

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from vaxreg.accounts.permissions import Capability, public
from vaxreg.fhir import selectors
from vaxreg.fhir.capability import capability_statement
from vaxreg.fhir.intake import SERVER_ERROR, BundleRefused, bundle_receive, bundle_submission_refuse
from vaxreg.fhir.mapping import (
    FHIR_JSON,
    Issue,
    immunization_resource,
    merged_patient_resource,
    operation_outcome,
    patient_resource,
    searchset_bundle,
)
from vaxreg.fhir.models import ApiToken
from vaxreg.fhir.services import full_id_reads_record
from vaxreg.fhir.tokens import api_token_authenticate
from vaxreg.people.models import Person

logger = logging.getLogger(__name__)
TokenView = Callable[..., HttpResponse]
ACCEPTED_BODY_TYPES = ("application/fhir+json", "application/json", "")


def fhir_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=f"{FHIR_JSON}; charset=utf-8"
    )


def outcome_response(status: int, issue: Issue) -> HttpResponse:
    return fhir_response(operation_outcome([issue]), status=status)


def _not_found(what: str) -> HttpResponse:
    return outcome_response(
        404,
        Issue(
            "NOT_FOUND",
            f"Không tìm thấy {what}, hoặc ngoài phạm vi của cơ sở.",
            f"{what} not found, or outside the facility's patients.",
            fhir_code="not-found",
        ),
    )


def _bad_search(message_vi: str, message_en: str, parameter: str) -> HttpResponse:
    return outcome_response(400, Issue("SEARCH_INVALID", message_vi, message_en, expression=parameter))


def fhir_endpoint(*methods: str) -> Callable[[TokenView], Callable[..., HttpResponse]]:
    """A view that answers only ``methods`` and only to a valid ``Authorization: Bearer <secret>``; it
    receives the token after the request."""

    def decorate(view: TokenView) -> Callable[..., HttpResponse]:
        @csrf_exempt  # machine clients send a bearer token, not a session cookie: nothing to forge
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = outcome_response(
                    405,
                    Issue(
                        "METHOD_NOT_ALLOWED",
                        f"Phương thức {request.method} không dùng được ở đây.",
                        f"Method {request.method} is not allowed here.",
                        fhir_code="not-supported",
                    ),
                )
                response["Allow"] = ", ".join(methods)
                return response
            scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
            token = api_token_authenticate(secret=secret) if scheme.lower() == "bearer" and secret else None
            if token is None:
                response = outcome_response(
                    401,
                    Issue(
                        "UNAUTHENTICATED",
                        "Thiếu khoá truy cập, khoá không đúng hoặc đã bị thu hồi.",
                        "The access token is missing, unknown or revoked.",
                        fhir_code="login",
                    ),
                )
                response["WWW-Authenticate"] = 'Bearer realm="vaxreg-fhir"'
                return response
            try:
                return view(request, token, *args, **kwargs)
            except Exception:
                # A machine client needs an OperationOutcome, not an HTML error page; a posted Bundle is
                # already kept (``intake``) and can be sent again.
                logger.exception("FHIR %s %s failed", request.method, request.path)
                return outcome_response(500, SERVER_ERROR)

        wrapped.required_capability = Capability.FHIR_CLIENT  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir:base")).rstrip("/")


def _numeric_id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 18 else None


@public
@csrf_exempt
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: open to all, as FHIR clients read it before they authenticate."""
    return fhir_response(capability_statement(base_url=_base_url(request)))


@fhir_endpoint("GET")
def patient_search(request: HttpRequest, token: ApiToken) -> HttpResponse:
    identifier = request.GET.get("identifier", "").strip()
    resource_id = request.GET.get("_id", "").strip()
    if identifier:
        system, bar, value = identifier.partition("|")
        if not bar:
            system, value = "", identifier
        if not value.strip():
            return _bad_search(
                "Thiếu số định danh sau “|”.", "The identifier value after “|” is missing.", "identifier"
            )
        persons = selectors.patients_by_identifier(token=token, system=system or None, value=value)
    elif resource_id:
        person_id = _numeric_id(resource_id)
        found = selectors.patient_get(token=token, person_id=person_id) if person_id is not None else None
        persons = [found] if found and found.merged_into_id is None else []  # searches list live records
    else:
        return _bad_search(
            "Cần tham số identifier=<hệ>|<số> (hoặc chỉ số) hoặc _id.",
            "Search with identifier=<system>|<value> (or a bare value) or _id.",
            "identifier",
        )
    full_id_reads_record(token=token, persons=persons, interaction="search-type")
    replaced = selectors.patients_replaced(person_ids=[p.pk for p in persons])
    resources = [patient_resource(p, replaces=replaced.get(p.pk, ())) for p in persons]
    return fhir_response(searchset_bundle(resources, base_url=_base_url(request)))


def _patient_read(token: ApiToken, person: Person, interaction: str) -> dict[str, Any]:
    """The Patient of a read: a merged record says where it went (no ID number, no full-ID read); a live
    one carries its links to the records merged into it."""
    if person.merged_into_id is not None:
        return merged_patient_resource(person)
    full_id_reads_record(token=token, persons=[person], interaction=interaction)
    replaced = selectors.patients_replaced(person_ids=[person.pk])
    return patient_resource(person, replaces=replaced.get(person.pk, ()))


@fhir_endpoint("GET")
def patient_read(request: HttpRequest, token: ApiToken, resource_id: str) -> HttpResponse:
    person_id = _numeric_id(resource_id)
    person = selectors.patient_get(token=token, person_id=person_id) if person_id is not None else None
    if person is None:
        return _not_found(f"Patient/{resource_id}")
    return fhir_response(_patient_read(token, person, "read"))


@fhir_endpoint("GET")
def patient_everything(request: HttpRequest, token: ApiToken, resource_id: str) -> HttpResponse:
    """The person and all their doses in one searchset Bundle (FHIR's ``Patient/$everything``)."""
    person_id = _numeric_id(resource_id)
    person = selectors.patient_get(token=token, person_id=person_id) if person_id is not None else None
    if person is None:
        return _not_found(f"Patient/{resource_id}")
    patient = _patient_read(token, person, "everything")
    doses = selectors.immunizations_of_patient(token=token, person_id=person.pk)
    resources = [patient, *(immunization_resource(d) for d in doses)]
    return fhir_response(searchset_bundle(resources, base_url=_base_url(request)))


@fhir_endpoint("GET")
def immunization_search(request: HttpRequest, token: ApiToken) -> HttpResponse:
    reference = request.GET.get("patient", "").strip()
    if not reference:
        return _bad_search(
            "Cần tham số patient=<mã bệnh nhân>.", "Search with patient=<Patient id>.", "patient"
        )
    person_id = _numeric_id(reference.rstrip("/").rpartition("/")[2])
    doses = (
        selectors.immunizations_of_patient(token=token, person_id=person_id) if person_id is not None else []
    )
    return fhir_response(
        searchset_bundle([immunization_resource(d) for d in doses], base_url=_base_url(request))
    )


@fhir_endpoint("GET")
def immunization_read(request: HttpRequest, token: ApiToken, resource_id: str) -> HttpResponse:
    dose_id = _numeric_id(resource_id)
    dose = selectors.immunization_get(token=token, dose_id=dose_id) if dose_id is not None else None
    if dose is None:
        return _not_found(f"Immunization/{resource_id}")
    return fhir_response(immunization_resource(dose))


@fhir_endpoint("POST")
def bundle_post(request: HttpRequest, token: ApiToken) -> HttpResponse:
    """A transaction, batch or collection Bundle of Patients and Immunizations (see ``intake``). A body not
    taken at all (another content type, over ``DATA_UPLOAD_MAX_MEMORY_SIZE``) is refused with an audit event."""
    content_type = request.content_type or ""
    if content_type not in ACCEPTED_BODY_TYPES:
        return _refused_unread(
            token,
            415,
            Issue(
                "MEDIA_TYPE",
                f"Kiểu nội dung “{content_type[:100]}” không được nhận: dùng application/fhir+json.",
                f"Content type “{content_type[:100]}” is not accepted: use application/fhir+json.",
                fhir_code="not-supported",
            ),
        )
    try:
        body = request.body
    except RequestDataTooBig:
        return _refused_unread(
            token,
            413,
            Issue(
                "BUNDLE_TOO_LARGE",
                "Bundle quá lớn: hãy chia thành nhiều Bundle nhỏ hơn.",
                "The Bundle is too large: split it into smaller Bundles.",
                fhir_code="too-costly",
            ),
        )
    result = bundle_receive(token=token, body=body)
    return fhir_response(result.body, status=result.http_status)


def _refused_unread(token: ApiToken, status: int, issue: Issue) -> HttpResponse:
    refused = BundleRefused(status, [issue], unread=True)
    result = bundle_submission_refuse(token=token, submission=None, refused=refused)
    return fhir_response(result.body, status=result.http_status)
