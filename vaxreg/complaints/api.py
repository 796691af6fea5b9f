"""The handlers' complaint API: inbox, one complaint, the actions, figures.

Same units and rules as the pages: 404 outside the user's unit (as if the complaint did not exist), 403 for
a role that only reads (or, the police, sees nothing), 409 when someone else acted first, 400 for a refused
action — each a refusal the API answers as JSON ``{code, message_vi, message_en, field}``.
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from vaxreg.accounts.models import User
from vaxreg.accounts.permissions import Capability, operation_requires
from vaxreg.complaints import services
from vaxreg.complaints.figures import complaint_figures
from vaxreg.complaints.models import OPEN_STATES, Complaint, RejectReason
from vaxreg.complaints.selectors import (
    STATE_FILTERS,
    InboxFilter,
    access_complaint_by_id,
    complaint_access_changes,
    complaint_attachments,
    complaint_candidates,
    complaint_history,
    complaint_inbox,
    complaint_joined,
    time_left,
)
from vaxreg.core import clock
from vaxreg.core.api_schema import (
    MAX_RECORD_ID,
    BodyRecordId,
    BodyVersion,
    IsoDate,
    JsonNumber,
    OneOf,
    QueryIn,
    RecordId,
    errors,
    text_rules,
)
from vaxreg.core.i18n import in_each_language
from vaxreg.core.refusals import Forbidden
from vaxreg.corrections.schemas import DoseNumber, PersonChangesIn
from vaxreg.people.models import mask_id_number

router = Router(tags=["complaints"])
PAGE_SIZE = 50


class ComplaintOut(Schema):
    id: int
    tracking_code: str
    category: int
    state: str
    full_name: str
    birth_date: str
    gender: str
    id_number_masked: str
    handler_facility: str | None
    handler_province: str | None
    received_at: dt.datetime
    due_at: dt.datetime
    overdue: bool
    # Both languages whatever the caller's, like a refusal's message_vi/message_en: the catalogue's words
    # ("còn 5 giờ 20 phút", "5 h 20 min left"); empty once the complaint is closed.
    time_left_vi: str
    time_left_en: str
    escalated_at: dt.datetime | None
    deferred_until: dt.date | None
    closed_at: dt.datetime | None
    version: int
    # False: the reader's unit is only the one the citizen named; it reads what the citizen wrote, not who
    # handles it nor the records it concerns.
    handled_here: bool

    @staticmethod
    def of(c: Complaint, now: dt.datetime) -> "ComplaintOut":
        (overdue, vi), (_overdue, en) = in_each_language(lambda: time_left(c.due_at, now))
        is_open = c.state in OPEN_STATES
        here = bool(getattr(c, "handled_here", True))
        return ComplaintOut(
            id=c.pk,
            tracking_code=c.tracking_code,
            category=c.category,
            state=c.state,
            full_name=c.full_name,
            birth_date=c.birth_date,
            gender=c.gender,
            id_number_masked=mask_id_number(c.id_number),
            handler_facility=c.handler_facility.code if c.handler_facility and here else None,
            handler_province=c.handler_province_id if here else None,
            received_at=c.received_at,
            due_at=c.due_at,
            overdue=is_open and overdue,
            time_left_vi=vi if is_open else "",
            time_left_en=en if is_open else "",
            escalated_at=c.escalated_at,
            deferred_until=c.deferred_until,
            closed_at=c.closed_at,
            version=c.version,
            handled_here=here,
        )


class ComplaintPageOut(Schema):
    count: int
    page: int
    pages: int
    complaints: list[ComplaintOut]


class ComplaintDoseOut(Schema):
    id: int
    vaccination_date: dt.date
    vaccine: str | None
    dose_number: int | None
    lot_number: str
    facility: str


class ComplaintPersonOut(Schema):
    id: int
    matched: bool
    full_name: str
    birth_date: str
    gender: str
    id_number_masked: str
    version: int
    doses: list[ComplaintDoseOut]


class AttachmentOut(Schema):
    position: int
    content_type: str
    size: int
    url: str


class HistoryOut(Schema):
    at: dt.datetime
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    actor: str | None


class AccessChangeOut(Schema):
    fields: list[str]
    state: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    decided_at: dt.datetime | None


class ComplaintDetailOut(ComplaintOut):
    phone: str
    facility: str | None
    claimed_doses: list[dict[str, Any]]
    description: str
    outcome: str
    reject_reason: str
    joined_to: int | None
    joined: list[int]
    attachments: list[AttachmentOut]
    persons: list[ComplaintPersonOut]
    history: list[HistoryOut]
    access_changes: list[AccessChangeOut]  # asked by an approval, waiting for the citizen or the station


class InboxIn(QueryIn):
    state: Annotated[str, OneOf(STATE_FILTERS)] = ""
    category: Annotated[int, Field(ge=1, le=5)] | None = None
    overdue: bool = False
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class VersionIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt member is refused, not ignored

    version: BodyVersion


Note = Annotated[str, text_rules(services.TEXT_MAX)]


# A person of the complaint's matched records, or 0: record the citizen as a new person.
PersonOrNew = Annotated[int, Field(ge=0, le=MAX_RECORD_ID), JsonNumber]


class ApproveDoseIn(VersionIn):
    person_id: PersonOrNew
    vaccination_date: IsoDate
    vaccine_id: Annotated[str, text_rules(32)] | None = None
    dose_number: DoseNumber | None = None
    lot_number: Annotated[str, text_rules(64)] = ""
    facility_code: Annotated[str, text_rules(32)] = ""
    note: Note = ""


class ApproveCorrectionIn(VersionIn):
    person_id: BodyRecordId
    person_version: BodyVersion
    changes: PersonChangesIn
    note: Annotated[str, text_rules(services.TEXT_MAX, at_least=3)]


class DeferIn(VersionIn):
    until: IsoDate
    reason: Annotated[str, text_rules(services.TEXT_MAX, at_least=3)]


class RejectIn(VersionIn):
    reason: Annotated[str, OneOf(RejectReason.values)]
    text: Note = ""


class TransferIn(VersionIn):
    facility_code: Annotated[str, text_rules(32, at_least=1)]
    reason: Note = ""


class TransferredOut(Schema):
    id: int
    handler_facility: str | None
    handler_province: str | None
    due_at: dt.datetime
    version: int


class FiguresIn(QueryIn):
    received_from: IsoDate | None = None
    received_to: IsoDate | None = None


class FigureRowOut(Schema):
    level: str
    code: str
    name: str
    received: int
    resolved_on_time: int
    resolved_late: int
    still_open: int
    open_under_24h: int
    open_24_to_48h: int
    open_over_48h: int
    late: int


class FiguresOut(Schema):
    at: dt.datetime
    received_from: dt.date | None
    received_to: dt.date | None
    rows: list[FigureRowOut]
    total: FigureRowOut | None


def _forbidden() -> Forbidden:
    return Forbidden("Vai trò của bạn không xử lý phản ánh này.", "Your role does not handle this complaint.")


def _staff(request: HttpRequest) -> User:
    """The logged-in user; the operation's capability was checked by ``@operation_requires``."""
    user: Any = request.user
    return user


def _detail(user: User, complaint_id: int) -> ComplaintDetailOut:
    c = access_complaint_by_id(user=user, complaint_id=complaint_id)
    base = ComplaintOut.of(c, clock.now()).model_dump()
    here = base["handled_here"]
    return ComplaintDetailOut(
        **base,
        phone=c.phone,
        facility=c.facility.code if c.facility else None,
        claimed_doses=[d for d in c.claimed_doses if isinstance(d, dict)]
        if isinstance(c.claimed_doses, list)
        else [],
        description=c.description,
        outcome=c.outcome,
        reject_reason=c.reject_reason,
        joined_to=c.joined_to_id if here else None,
        joined=[j.pk for j in complaint_joined(c)] if here else [],
        attachments=[
            AttachmentOut(
                position=a.position,
                content_type=a.content_type,
                size=a.size,
                url=f"/complaints/{c.pk}/proof/{a.position}/",
            )
            for a in complaint_attachments(c)
        ],
        persons=[
            ComplaintPersonOut(
                id=p.pk,
                matched=p.pk == c.person_id,
                full_name=p.full_name,
                birth_date=p.birth_date_display,
                gender=p.gender,
                id_number_masked=p.id_number_masked,
                version=p.version,
                doses=[
                    ComplaintDoseOut(
                        id=d.pk,
                        vaccination_date=d.vaccination_date,
                        vaccine=d.vaccine.name if d.vaccine else (d.vaccine_raw or None),
                        dose_number=d.dose_number,
                        lot_number=d.lot_number,
                        facility=d.facility.code,
                    )
                    for d in p.doses.all()
                ],
            )
            for p in complaint_candidates(user=user, complaint=c)
        ],
        history=[
            HistoryOut(
                at=h.at,
                field=h.field,
                old_value=h.old_value,
                new_value=h.new_value,
                reason=h.reason,
                actor=h.actor.username if h.actor else None,
            )
            for h in (complaint_history(c) if here else [])
        ],
        access_changes=[
            AccessChangeOut(
                fields=sorted(a.changes),
                state=a.state,
                requested_at=a.requested_at,
                expires_at=a.expires_at,
                decided_at=a.decided_at,
            )
            for a in (complaint_access_changes(c) if here else [])
        ],
    )


def _act(
    request: HttpRequest,
    complaint_id: int,
    action: Callable[[User], Complaint],
    respond: Callable[[User, Complaint], Any] | None = None,
) -> Any:
    """Run one action for a user who may act (the services' refusals are answered by the API's handler)."""
    user = _staff(request)
    complaint = access_complaint_by_id(user=user, complaint_id=complaint_id)
    if not services.handlers_may_act(user, complaint):
        raise _forbidden()
    done = action(user)
    return respond(user, done) if respond else _detail(user, complaint_id)


@router.get(
    "", response={200: ComplaintPageOut, **errors(403)}, summary="The complaints to handle, most urgent first"
)
@operation_requires(Capability.COMPLAINT_READ)
def complaint_list(request: HttpRequest, params: Query[InboxIn]) -> Any:
    user = _staff(request)
    now = clock.now()
    complaints = complaint_inbox(
        user=user,
        filters=InboxFilter(state=params.state, category=params.category, overdue=params.overdue),
        now=now,
    )
    page = Paginator(complaints, PAGE_SIZE).get_page(params.page)
    return ComplaintPageOut(
        count=page.paginator.count,
        page=page.number,
        pages=page.paginator.num_pages,
        complaints=[ComplaintOut.of(c, now) for c in page],
    )


@router.get(
    "/figures", response={200: FiguresOut, **errors(403)}, summary="Received / resolved on time / late"
)
@operation_requires(Capability.COMPLAINT_FIGURES)
def figures(request: HttpRequest, params: Query[FiguresIn]) -> Any:
    user: Any = request.user
    f = complaint_figures(user=user, received_from=params.received_from, received_to=params.received_to)
    return FiguresOut(
        at=f.at,
        received_from=f.received_from,
        received_to=f.received_to,
        rows=[FigureRowOut(**r.as_dict()) for r in f.rows],
        total=FigureRowOut(**f.total.as_dict()) if f.total else None,
    )


@router.get("/{int:complaint_id}", response={200: ComplaintDetailOut, **errors(403)}, summary="One complaint")
@operation_requires(Capability.COMPLAINT_READ)
def complaint_detail(request: HttpRequest, complaint_id: RecordId) -> Any:
    return _detail(_staff(request), complaint_id)


ACTION_RESPONSES: dict[int, Any] = {200: ComplaintDetailOut, **errors(400, 403, 409)}


@router.post(
    "/{int:complaint_id}/approve-dose", response=ACTION_RESPONSES, summary="Approve: add the missing dose"
)
@operation_requires(Capability.COMPLAINT_HANDLE)
def approve_dose(request: HttpRequest, complaint_id: RecordId, body: ApproveDoseIn) -> Any:
    return _act(
        request,
        complaint_id,
        lambda user: services.complaint_approve_with_dose(
            actor=user,
            complaint_id=complaint_id,
            person_id=body.person_id,
            vaccination_date=body.vaccination_date,
            vaccine_id=body.vaccine_id,
            dose_number=body.dose_number,
            lot_number=body.lot_number,
            note=body.note,
            facility_code=body.facility_code,
            expected_version=body.version,
        ),
    )


@router.post(
    "/{int:complaint_id}/approve-correction", response=ACTION_RESPONSES, summary="Approve: correct the person"
)
@operation_requires(Capability.COMPLAINT_HANDLE)
def approve_correction(request: HttpRequest, complaint_id: RecordId, body: ApproveCorrectionIn) -> Any:
    return _act(
        request,
        complaint_id,
        lambda user: services.complaint_approve_with_correction(
            actor=user,
            complaint_id=complaint_id,
            person_id=body.person_id,
            person_version=body.person_version,
            changes=body.changes.as_changes(),
            note=body.note,
            expected_version=body.version,
        ),
    )


@router.post(
    "/{int:complaint_id}/defer", response=ACTION_RESPONSES, summary="Defer, with a reason and a new date"
)
@operation_requires(Capability.COMPLAINT_HANDLE)
def defer(request: HttpRequest, complaint_id: RecordId, body: DeferIn) -> Any:
    return _act(
        request,
        complaint_id,
        lambda user: services.complaint_defer(
            actor=user,
            complaint_id=complaint_id,
            reason=body.reason,
            until=body.until,
            expected_version=body.version,
        ),
    )


@router.post("/{int:complaint_id}/reject", response=ACTION_RESPONSES, summary="Reject with a standard reason")
@operation_requires(Capability.COMPLAINT_HANDLE)
def reject(request: HttpRequest, complaint_id: RecordId, body: RejectIn) -> Any:
    return _act(
        request,
        complaint_id,
        lambda user: services.complaint_reject(
            actor=user,
            complaint_id=complaint_id,
            reason=body.reason,
            text=body.text,
            expected_version=body.version,
        ),
    )


@router.post(
    "/{int:complaint_id}/transfer",
    response={**ACTION_RESPONSES, 200: TransferredOut},
    summary="Transfer to another facility (the deadline does not move)",
)
@operation_requires(Capability.COMPLAINT_HANDLE)
def transfer(request: HttpRequest, complaint_id: RecordId, body: TransferIn) -> Any:
    # Once transferred the complaint may lie outside the sender's unit: the answer is only where it went.
    return _act(
        request,
        complaint_id,
        lambda user: services.complaint_transfer(
            actor=user,
            complaint_id=complaint_id,
            facility_code=body.facility_code,
            reason=body.reason,
            expected_version=body.version,
        ),
        lambda user, moved: TransferredOut(
            id=moved.pk,
            handler_facility=moved.handler_facility.code if moved.handler_facility else None,
            handler_province=moved.handler_province_id,
            due_at=moved.due_at,
            version=moved.version,
        ),
    )
