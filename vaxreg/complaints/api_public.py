"""The citizens' complaint API (no account): submit, add proof files, track; and the places to pick from.

Submitting takes two calls: ``GET /ticket`` (a signed, single-use ticket bound to the caller's network,
see ``antiflood``) then ``POST`` the complaint with it. Every error is JSON ``{code, message_vi,
message_en, field}``: 400 for a body that cannot be read or a bad ticket, 422 for a complaint the rules
refuse (``field`` names what to fix), 429 with ``Retry-After`` past a quota. A wrong tracking code and a
wrong phone give the same 404, and both count towards a limit of wrong tries.

Proof files go in a second call, ``POST /{tracking_code}/attachments`` (multipart: ``phone`` and up to
three ``files``), within an hour of submitting: the JSON body stays small and fast, and a file refused by
its content never costs the citizen the complaint itself.
"""

import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Router, Schema
from pydantic import BeforeValidator, ConfigDict, StringConstraints, ValidationError, WithJsonSchema

from vaxreg.accounts.permissions import public
from vaxreg.complaints.antiflood import submission_admit, ticket_issue
from vaxreg.complaints.attachments import FIELD as ATTACHMENTS_FIELD
from vaxreg.complaints.attachments import MAX_FILES, complaint_proofs_add, proof_read, proofs_count_check
from vaxreg.complaints.intake import CHANNEL_API, MAX_CLAIMED_DOSES, Intake, citizen_status, complaint_submit
from vaxreg.complaints.public_views import NOT_FOUND, track_lookup
from vaxreg.core.api_schema import ErrorOut, JsonNumber, text_rules
from vaxreg.core.i18n import in_both_languages
from vaxreg.core.ratelimit import client_address
from vaxreg.corrections.schemas import DoseNumber
from vaxreg.places.models import Commune, Facility, Province
from vaxreg.vaccinations.fields import DOSE_NUMBER_PATTERN, DOSE_NUMBERS, MAX_DOSE_NUMBER

S = TypeVar("S", bound=Schema)

router = Router(tags=["complaints (public)"], auth=None)
PLACES_MAX_AGE = 3600


class TicketOut(Schema):
    ticket: str


def _dose_number_text(value: Any) -> Any:
    # A form posts text: "2" is dose 2, "" none; any other text is refused as not a number.
    if isinstance(value, str) and re.fullmatch(DOSE_NUMBER_PATTERN, value):
        return int(value) if value else None
    return value


# 1, 2 primary; 3, 4 boosters, as everywhere (a JSON number, or the same as text).
ClaimedDoseNumber = Annotated[
    DoseNumber | None,
    BeforeValidator(_dose_number_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": min(DOSE_NUMBERS), "maximum": MAX_DOSE_NUMBER},
                {"type": "string", "pattern": DOSE_NUMBER_PATTERN},
                {"type": "null"},
            ]
        }
    ),
]


class ClaimedDoseIn(Schema):
    date: str = ""
    vaccine: str = ""
    dose_number: ClaimedDoseNumber = None
    lot: str = ""


COMPLAINT_EXAMPLE: dict[str, Any] = {
    "ticket": "(from GET /api/public/complaints/ticket)",
    "category": 3,
    "full_name": "Nguyễn Thị Hoa",
    "phone": "0912345678",
    "birth_date": "15/01/1990",
    "gender": "Nữ",
    "province_code": "46",
    "claimed_doses": [{"date": "15/09/2021", "vaccine": "AstraZeneca", "dose_number": 2, "lot": "NJ0342"}],
    "description": "Tôi đã tiêm mũi 2 nhưng trên ứng dụng chưa có mũi này.",
}


# The text a citizen types is read leniently and checked by the intake's rules (422, naming the field);
# the schema says its shape: numbers are JSON numbers, the kind is one of five, the name, birth date and
# gender are not blank, and none of these is text with a NUL in it.
class ComplaintIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [COMPLAINT_EXAMPLE]})

    ticket: Annotated[str, text_rules(256)]
    category: Annotated[int, Field(ge=1, le=5), JsonNumber]  # the Ministry's five kinds (SPEC §7)
    full_name: Annotated[str, text_rules(None, at_least=1)]  # its length: the intake's rule (200)
    phone: str
    # A citizen's own complaint says who they are: both are required and not blank (dd/mm/yyyy, or the year).
    birth_date: Annotated[str, text_rules(None, at_least=1)]
    gender: Annotated[str, text_rules(None, at_least=1)]
    id_number: str = ""
    province_code: str | None = None
    commune_code: str | None = None
    facility_code: str | None = None
    claimed_doses: list[ClaimedDoseIn] = Field(default_factory=list, max_length=MAX_CLAIMED_DOSES)
    description: str = ""


class SubmittedOut(Schema):
    tracking_code: str
    state: str
    due_at: str
    next_ticket: str  # a fresh ticket for the caller's next submission: no extra round trip


class StatusIn(Schema):
    phone: Annotated[str, text_rules(40)]


TrackingCode = Annotated[str, text_rules(64)]  # as the citizen typed it: any case, dashes or spaces


class StatusOut(Schema):
    tracking_code: str
    state: str
    state_vi: str
    state_en: str
    joined: bool
    received_at: str
    due_at: str
    outcome: str
    deferred_until: str | None
    deferral_reason: str
    reject_reason: str
    reject_reason_vi: str
    reject_reason_en: str


class ProofAddedOut(Schema):
    position: int
    content_type: str
    size: int


class PlaceOut(Schema):
    code: str
    name: str


def _error(status: int, code: str, vi: str, en: str, field: str = "", retry_after: int = 0) -> JsonResponse:
    response = JsonResponse({"code": code, "message_vi": vi, "message_en": en, "field": field}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _body(request: HttpRequest, schema: type[S]) -> S | JsonResponse:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", "Nội dung gửi lên không phải JSON.", "The body is not JSON.")
    if not isinstance(data, dict):
        return _error(400, "invalid_json", "Cần một đối tượng JSON.", "A JSON object is expected.")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return _error(
            400,
            "invalid_input",
            f"Trường «{where}» không hợp lệ: {first['msg']}.",
            f"Field “{where}” is not valid: {first['msg']}.",
            where,
        )


def _not_found(status: int) -> JsonResponse:
    if status == 429:
        return _error(
            429,
            "rate_track",
            "Quá nhiều lần tra cứu sai. Hãy thử lại sau một giờ.",
            "Too many wrong tries. Please try again in an hour.",
            retry_after=3600,
        )
    return _error(404, "not_found", *in_both_languages(NOT_FOUND))


@router.get("/ticket", response=TicketOut, summary="Get a single-use submission ticket (2 hours)")
@public
def ticket_get(request: HttpRequest) -> dict[str, str]:
    return {"ticket": ticket_issue(address=client_address(request))}


@router.post(
    "",
    response={201: SubmittedOut, 400: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Submit a complaint",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ComplaintIn.model_json_schema()}},
        }
    },
)
@public
def complaint_post(request: HttpRequest) -> HttpResponse:
    body = _body(request, ComplaintIn)
    if isinstance(body, JsonResponse):
        return body
    address = client_address(request)
    intake = Intake(
        category=body.category,
        full_name=body.full_name,
        phone=body.phone,
        birth_date=body.birth_date,
        gender=body.gender,
        id_number=body.id_number,
        province_code=body.province_code,
        commune_code=body.commune_code,
        facility_code=body.facility_code,
        claimed_doses=tuple(
            {**dose.model_dump(), "dose_number": "" if dose.dose_number is None else str(dose.dose_number)}
            for dose in body.claimed_doses
        ),
        description=body.description,
    )
    submission_admit(ticket=body.ticket, address=address)
    complaint = complaint_submit(intake=intake, from_public=True, channel=CHANNEL_API)
    out = {
        "tracking_code": complaint.tracking_code,
        "state": complaint.state,
        "due_at": complaint.due_at.isoformat(),
        "next_ticket": ticket_issue(address=address),
    }
    return JsonResponse(out, status=201)


@router.post(
    "/{tracking_code}/status",
    response={200: StatusOut, 400: ErrorOut, 404: ErrorOut, 429: ErrorOut},
    summary="The status of a complaint, given the phone it was sent with",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": StatusIn.model_json_schema()}},
        }
    },
)
@public
def complaint_status(request: HttpRequest, tracking_code: TrackingCode) -> HttpResponse:
    body = _body(request, StatusIn)
    if isinstance(body, JsonResponse):
        return body
    complaint, status = track_lookup(request, code=tracking_code, phone=body.phone)
    if complaint is None:
        return _not_found(status)
    return JsonResponse(citizen_status(complaint).as_json())


@router.post(
    "/{tracking_code}/attachments",
    response={201: list[ProofAddedOut], 400: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Add photos or PDFs of paper proof (multipart: phone, files; within 1 hour, 3 in all)",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["phone", "files"],
                        "properties": {
                            "phone": {"type": "string"},
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "minItems": 1,
                                "maxItems": MAX_FILES,
                            },
                        },
                    }
                }
            }
        }
    },
)
@public
def attachments_post(request: HttpRequest, tracking_code: TrackingCode) -> HttpResponse:
    complaint, status = track_lookup(request, code=tracking_code, phone=request.POST.get("phone", ""))
    if complaint is None:
        return _not_found(status)
    files = request.FILES.getlist("files") or request.FILES.getlist(ATTACHMENTS_FIELD)
    proofs_count_check(len(files))
    proofs = [proof_read(f, name=f.name or "", size=f.size) for f in files]
    rows = complaint_proofs_add(complaint_id=complaint.pk, proofs=proofs)
    out = [{"position": r.position, "content_type": r.content_type, "size": r.size} for r in rows]
    return JsonResponse(out, status=201, safe=False)


ProvinceCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")]
ProvinceCodeOrNone = Annotated[str, StringConstraints(pattern=r"^([0-9]{2})?$")]
CommuneCodeOrNone = Annotated[str, StringConstraints(pattern=r"^([0-9]{5})?$")]


def _cached(rows: Iterable[Mapping[str, Any]]) -> JsonResponse:
    response = JsonResponse([dict(row) for row in rows], safe=False)
    response["Cache-Control"] = f"public, max-age={PLACES_MAX_AGE}"
    return response


@router.get("/places/provinces", response=list[PlaceOut], summary="Provinces to pick from")
@public
def places_provinces(request: HttpRequest) -> HttpResponse:
    return _cached(Province.objects.order_by("name_key").values("code", "name"))


@router.get("/places/communes", response=list[PlaceOut], summary="Communes of a province")
@public
def places_communes(request: HttpRequest, province: ProvinceCode) -> HttpResponse:
    rows = Commune.objects.filter(province_id=province[:2]).order_by("name_key").values("code", "name")
    return _cached(rows)


@router.get("/places/facilities", response=list[PlaceOut], summary="Facilities of a commune (or a province)")
@public
def places_facilities(
    request: HttpRequest, commune: CommuneCodeOrNone = "", province: ProvinceCodeOrNone = ""
) -> HttpResponse:
    facilities = Facility.objects.filter(is_active=True)
    if commune:
        facilities = facilities.filter(commune_id=commune[:5])
    elif province:
        facilities = facilities.filter(province_id=province[:2])
    else:
        return _cached([])
    return _cached(facilities.order_by("name").values("code", "name"))
