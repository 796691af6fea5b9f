"""Verification cases over REST: the worklist, a case, and every action of the station and the police.

Reads go through the same scoped selectors as the pages; each write calls one service, whose refusals the
API answers as JSON with a code and the message in Vietnamese and English: 404 outside the user's unit, 403
for a role that may not act, 409 when someone else changed the case or the record first (with the stored
values), 400 for a refused action.
"""

import datetime as dt
from typing import Annotated

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from vaxreg.accounts.permissions import Capability, operation_requires
from vaxreg.core.api_schema import (
    BodyRecordId,
    BodyVersion,
    OneOf,
    QueryIn,
    RecordId,
    errors,
    text_rules,
)
from vaxreg.corrections.schemas import DoseChangesIn, IdentityIn, PersonChangesIn
from vaxreg.quality.models import Finding
from vaxreg.verification import services
from vaxreg.verification.models import CaseState, ContactChannel, ContactOutcome, VerificationCase
from vaxreg.verification.selectors import (
    AGE_GROUPS,
    WorklistFilter,
    access_case_by_id,
    case_contacts,
    worklist,
)

router = Router(tags=["verification"])
PAGE_SIZE = 50


class CaseOut(Schema):
    id: int
    state: str
    person_id: int
    full_name: str
    birth_date: str
    gender: str
    id_number_masked: str
    commune_code: str
    facility_id: int | None
    codes: list[str]
    assigned_to: str | None
    opened_at: dt.datetime
    escalated_at: dt.datetime | None
    closed_at: dt.datetime | None
    version: int
    person_version: int

    @staticmethod
    def of(case: VerificationCase) -> "CaseOut":
        person = case.person
        return CaseOut(
            id=case.pk,
            state=case.state,
            person_id=person.pk,
            full_name=person.full_name,
            birth_date=person.birth_date_display,
            gender=person.gender,
            id_number_masked=person.id_number_masked,
            commune_code=case.commune_id,
            facility_id=case.facility_id,
            codes=list(case.codes),
            assigned_to=case.assigned_to.username if case.assigned_to else None,
            opened_at=case.opened_at,
            escalated_at=case.escalated_at,
            closed_at=case.closed_at,
            version=case.version,
            person_version=person.version,
        )


class CasePageOut(Schema):
    count: int
    page: int
    pages: int
    cases: list[CaseOut]


class FindingOut(Schema):
    code: str
    severity: str
    dose_id: int | None
    message_vi: str
    message_en: str


class ContactOut(Schema):
    at: dt.datetime
    actor: str | None
    channel: str
    outcome: str
    note: str


class CaseDetailOut(CaseOut):
    resolution: str
    police_result: str
    findings: list[FindingOut]
    contacts: list[ContactOut]


class WorklistIn(QueryIn):
    state: Annotated[str, OneOf(["", "active", "all", *CaseState.values])] = ""
    code: Annotated[str, text_rules(64)] = ""
    facility_id: RecordId | None = None
    age_group: Annotated[str, OneOf(["", *AGE_GROUPS])] = ""
    q: Annotated[str, text_rules(200)] = ""
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class ActionIn(Schema):
    """A JSON body of a case action: only the members below; a misspelt one is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


Reason = Annotated[str, text_rules(1000, at_least=3)]


class PersonCorrectionIn(ActionIn):
    expected_version: BodyVersion
    changes: PersonChangesIn
    reason: Reason


class DoseCorrectionIn(ActionIn):
    expected_version: BodyVersion
    changes: DoseChangesIn
    reason: Reason


class ContactIn(ActionIn):
    channel: Annotated[str, OneOf(ContactChannel.values)]
    outcome: Annotated[str, OneOf(ContactOutcome.values)]
    note: Annotated[str, text_rules(2000)] = ""


class EscalateIn(ActionIn):
    reason: Reason
    expected_version: BodyVersion | None = None


class ResolveIn(ActionIn):
    # Needed (at least 10 characters) only while blocking findings are left: the case says which.
    reason: Annotated[str, text_rules(2000)] = ""
    expected_version: BodyVersion | None = None


class UnverifiableIn(ActionIn):
    reason: Annotated[str, text_rules(2000, at_least=services.MIN_JUSTIFICATION)]


class PoliceResultIn(ActionIn):
    result: Annotated[str, OneOf(services.POLICE_RESULTS)]
    verified: IdentityIn = IdentityIn()
    note: Annotated[str, text_rules(1000)] = ""


class AssignIn(ActionIn):
    case_ids: Annotated[list[BodyRecordId], Field(min_length=1, max_length=PAGE_SIZE * 20)]
    assignee_id: BodyRecordId | None


class AssignOut(Schema):
    assigned: int


def _detail(request: HttpRequest, case_id: int) -> CaseDetailOut:
    case = access_case_by_id(user=request.user, case_id=case_id)  # type: ignore[arg-type]
    findings = Finding.objects.filter(person_id=case.person_id, is_open=True).order_by("code", "dose_id")
    base = CaseOut.of(case).model_dump()
    return CaseDetailOut(
        **base,
        resolution=case.resolution,
        police_result=case.police_result,
        findings=[
            FindingOut(
                code=f.code,
                severity=f.severity,
                dose_id=f.dose_id,
                message_vi=f.message_vi,
                message_en=f.message_en,
            )
            for f in findings
        ],
        contacts=[
            ContactOut(
                at=c.at,
                actor=c.actor.username if c.actor else None,
                channel=c.channel,
                outcome=c.outcome,
                note=c.note,
            )
            for c in case_contacts(case)
        ],
    )


# A case action answers the case as it is after the action; 403 when the role or unit may not act on it,
# 409 when someone changed the case or record first (stale, with the stored values), 400 when the case's
# state or the record's rules refuse the action. 401, 404 and 422 are declared for every operation.
ACTION_RESPONSES = {200: CaseDetailOut, **errors(400, 403, 409)}


@router.get("", response=CasePageOut, summary="The cases the user may see, filtered, oldest first")
@operation_requires(Capability.CASE_READ)
def case_list(request: HttpRequest, params: Query[WorklistIn]) -> CasePageOut:
    cases = worklist(
        user=request.user,  # type: ignore[arg-type]
        filters=WorklistFilter(
            state=params.state,
            code=params.code,
            facility_id=params.facility_id,
            age_group=params.age_group,
            text=params.q,
        ),
    )
    page = Paginator(cases, PAGE_SIZE).get_page(params.page)
    return CasePageOut(
        count=page.paginator.count,
        page=page.number,
        pages=page.paginator.num_pages,
        cases=[CaseOut.of(c) for c in page],
    )


@router.get(
    "/{int:case_id}", response=CaseDetailOut, summary="A case with its person's open findings and contacts"
)
@operation_requires(Capability.CASE_READ)
def case_detail(request: HttpRequest, case_id: RecordId) -> CaseDetailOut:
    return _detail(request, case_id)


@router.post(
    "/assign",
    response={200: AssignOut, **errors(400, 403, 404)},
    summary="Assign cases to a health worker of the same station",
)
@operation_requires(Capability.CASE_WORK)
def case_assign(request: HttpRequest, body: AssignIn) -> AssignOut:
    count = services.cases_assign(actor=request.user, case_ids=body.case_ids, assignee_id=body.assignee_id)  # type: ignore[arg-type]
    return AssignOut(assigned=count)


@router.post(
    "/{int:case_id}/person",
    response=ACTION_RESPONSES,
    summary="Correct the case's person (optimistic locking)",
)
@operation_requires(Capability.CASE_WORK)
def case_person_correct(request: HttpRequest, case_id: RecordId, body: PersonCorrectionIn) -> CaseDetailOut:
    services.case_person_correct(
        actor=request.user,  # type: ignore[arg-type]
        case_id=case_id,
        expected_version=body.expected_version,
        changes=body.changes.as_changes(),
        reason=body.reason,
    )
    return _detail(request, case_id)


@router.post(
    "/{int:case_id}/doses/{int:dose_id}",
    response=ACTION_RESPONSES,
    summary="Correct one of the person's doses",
)
@operation_requires(Capability.CASE_WORK)
def case_dose_correct(
    request: HttpRequest, case_id: RecordId, dose_id: RecordId, body: DoseCorrectionIn
) -> CaseDetailOut:
    services.case_dose_correct(
        actor=request.user,  # type: ignore[arg-type]
        case_id=case_id,
        dose_id=dose_id,
        expected_version=body.expected_version,
        changes=body.changes.as_changes(),
        reason=body.reason,
    )
    return _detail(request, case_id)


@router.post(
    "/{int:case_id}/contacts", response=ACTION_RESPONSES, summary="Log an attempt to reach the citizen"
)
@operation_requires(Capability.CASE_WORK)
def case_contact(request: HttpRequest, case_id: RecordId, body: ContactIn) -> CaseDetailOut:
    services.contact_attempt_log(
        actor=request.user,  # type: ignore[arg-type]
        case_id=case_id,
        channel=body.channel,
        outcome=body.outcome,
        note=body.note,
    )
    return _detail(request, case_id)


@router.post(
    "/{int:case_id}/escalate", response=ACTION_RESPONSES, summary="Hand the case to the commune police"
)
@operation_requires(Capability.CASE_WORK)
def case_escalate(request: HttpRequest, case_id: RecordId, body: EscalateIn) -> CaseDetailOut:
    services.case_escalate(
        actor=request.user,  # type: ignore[arg-type]
        case_id=case_id,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return _detail(request, case_id)


@router.post(
    "/{int:case_id}/resolve",
    response=ACTION_RESPONSES,
    summary="Resolve (no blocking finding left, or justified)",
)
@operation_requires(Capability.CASE_WORK)
def case_resolve(request: HttpRequest, case_id: RecordId, body: ResolveIn) -> CaseDetailOut:
    services.case_resolve(
        actor=request.user,  # type: ignore[arg-type]
        case_id=case_id,
        justification=body.reason,
        expected_version=body.expected_version,
    )
    return _detail(request, case_id)


@router.post(
    "/{int:case_id}/unverifiable", response=ACTION_RESPONSES, summary="Close as unverifiable, with a reason"
)
@operation_requires(Capability.CASE_WORK)
def case_unverifiable(request: HttpRequest, case_id: RecordId, body: UnverifiableIn) -> CaseDetailOut:
    services.case_mark_unverifiable(actor=request.user, case_id=case_id, reason=body.reason)  # type: ignore[arg-type]
    return _detail(request, case_id)


@router.post(
    "/{int:case_id}/police-result",
    response=ACTION_RESPONSES,
    summary="The commune police's verification result",
)
@operation_requires(Capability.CASE_POLICE)
def case_police_result(request: HttpRequest, case_id: RecordId, body: PoliceResultIn) -> CaseDetailOut:
    services.case_police_result(
        actor=request.user,  # type: ignore[arg-type]
        case_id=case_id,
        result=body.result,
        verified=body.verified.model_dump(exclude_unset=True),
        note=body.note,
        source_id="api",
    )
    return _detail(request, case_id)
