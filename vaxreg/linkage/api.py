"""Merges over REST: merge two records of one citizen, undo a merge, list the merges (the auto-merges for
audit). Each write calls one service; its refusals are answered by the API's one handler: 404 for a record
outside the user's jurisdiction, 403 for a role that may not merge, 409 when a record changed since the
user compared them or since the merge (the undo names what), 400 for a refused merge.

The review of suspected duplicates (``/pairs``): the pairs within the user's reach (both persons readable),
one pair with its evidence in words, and a decision on it (merge, not the same, skip), through the same
scoped selectors and services as the review pages; 409 also when the pair was already decided.
"""

import datetime as dt
from typing import Annotated

from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils import translation
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from vaxreg.accounts.permissions import Capability, operation_requires
from vaxreg.core.api_schema import BodyRecordId, BodyVersion, OneOf, QueryIn, RecordId, errors, text_rules
from vaxreg.linkage.merging import (
    FIELD_GROUPS,
    MERGED,
    SURVIVOR,
    access_merge_by_id,
    merges_for_user,
    person_merge,
    person_unmerge,
)
from vaxreg.linkage.models import MergeSource, PairState, PersonMerge, SuspectedPair
from vaxreg.linkage.review import (
    BANDS,
    DECISIONS,
    MERGE,
    PairFilter,
    access_pair_by_id,
    evidence_rows,
    evidence_words,
    pair_decision_take,
    pair_queue,
)
from vaxreg.people.api import PersonOut
from vaxreg.people.models import Person
from vaxreg.people.selectors import person_get_for_user

router = Router(tags=["linkage"])
LIST_LIMIT = 200

Reason = Annotated[str, text_rules(1000, at_least=3)]
Side = Annotated[str, OneOf([SURVIVOR, MERGED])]


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_id: int
    source: str
    reason: str
    field_choices: dict[str, str]
    merged_at: dt.datetime
    actor: str | None
    certificate_uvci: str | None
    undone_at: dt.datetime | None
    undo_reason: str

    @staticmethod
    def of(merge: PersonMerge) -> "MergeOut":
        return MergeOut(
            id=merge.pk,
            survivor_id=merge.survivor_id,
            merged_id=merge.merged_id,
            source=merge.source,
            reason=merge.reason,
            field_choices=dict(merge.field_choices),
            merged_at=merge.merged_at,
            actor=merge.actor.username if merge.actor else None,
            certificate_uvci=merge.certificate.uvci if merge.certificate else None,
            undone_at=merge.undone_at,
            undo_reason=merge.undo_reason,
        )


class MergeIn(Schema):
    """Merge ``merged_id`` into ``survivor_id``, both at the versions the user compared."""

    model_config = ConfigDict(extra="forbid")
    survivor_id: BodyRecordId
    survivor_version: BodyVersion
    merged_id: BodyRecordId
    merged_version: BodyVersion
    field_choices: dict[Annotated[str, OneOf(list(FIELD_GROUPS))], Side] = Field(default_factory=dict)
    reason: Reason


class UndoIn(Schema):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class MergeListIn(QueryIn):
    source: Annotated[str, OneOf(["", *MergeSource.values])] = ""
    survivor_id: RecordId | None = None


def _merge_out(request: HttpRequest, merge_id: int) -> MergeOut:
    merge = access_merge_by_id(user=request.user, merge_id=merge_id)
    return MergeOut.of(PersonMerge.objects.select_related("actor", "certificate").get(pk=merge.pk))


@router.get(
    "/merges",
    response={200: list[MergeOut], **errors(403)},
    summary="The merges of records the user may read, newest first",
)
@operation_requires(Capability.MERGE_PERSONS)
def merge_list(request: HttpRequest, params: Query[MergeListIn]) -> list[MergeOut]:
    merges = merges_for_user(user=request.user, source=params.source, survivor_id=params.survivor_id)
    return [MergeOut.of(m) for m in merges.select_related("actor")[:LIST_LIMIT]]


@router.get("/merges/{int:merge_id}", response={200: MergeOut, **errors(403, 404)}, summary="One merge")
@operation_requires(Capability.MERGE_PERSONS)
def merge_detail(request: HttpRequest, merge_id: RecordId) -> MergeOut:
    return _merge_out(request, merge_id)


@router.post(
    "/merges",
    response={200: MergeOut, **errors(400, 403, 404, 409)},
    summary="Merge two records of one citizen (field by field: which value survives)",
)
@operation_requires(Capability.MERGE_PERSONS)
def merge_create(request: HttpRequest, body: MergeIn) -> MergeOut:
    survivor = person_get_for_user(user=request.user, person_id=body.survivor_id)
    merged = person_get_for_user(user=request.user, person_id=body.merged_id)
    survivor.version, merged.version = body.survivor_version, body.merged_version
    result = person_merge(
        survivor=survivor,
        merged=merged,
        field_choices=body.field_choices,
        actor=request.user,
        reason=body.reason,
        source=MergeSource.REVIEW,
    )
    return _merge_out(request, result.merge.pk)


@router.post(
    "/merges/{int:merge_id}/undo",
    response={200: MergeOut, **errors(400, 403, 404, 409)},
    summary="Undo a merge: both records as they were before it",
)
@operation_requires(Capability.MERGE_PERSONS)
def merge_undo(request: HttpRequest, merge_id: RecordId, body: UndoIn) -> MergeOut:
    merge = access_merge_by_id(user=request.user, merge_id=merge_id)
    person_unmerge(merge=merge, actor=request.user, reason=body.reason)
    return _merge_out(request, merge_id)


# -- suspected pairs ---------------------------------------------------------------------------------------------

PAIR_PAGE_SIZE = 50


class PairPersonOut(PersonOut):
    """A person of a suspected pair: what ``/api/people`` shows of it, with the version a merge must name and
    the record it was merged into, if any."""

    version: int
    merged_into_id: int | None

    @staticmethod
    def of(person: Person) -> "PairPersonOut":
        return PairPersonOut(
            **PersonOut.of(person).model_dump(), version=person.version, merged_into_id=person.merged_into_id
        )


class PairOut(Schema):
    id: int
    probability: float
    state: str
    person_a: PairPersonOut
    person_b: PairPersonOut
    decided_at: dt.datetime | None
    decision_reason: str

    @staticmethod
    def of(pair: SuspectedPair) -> "PairOut":
        return PairOut(
            id=pair.pk,
            probability=pair.probability,
            state=pair.state,
            person_a=PairPersonOut.of(pair.person_a),
            person_b=PairPersonOut.of(pair.person_b),
            decided_at=pair.decided_at,
            decision_reason=pair.decision_reason,
        )


class PairPageOut(Schema):
    count: int
    page: int
    pages: int
    pairs: list[PairOut]


class EvidenceOut(Schema):
    comparison: str
    level: str
    words_vi: str
    words_en: str
    weight: float | None


class PairDetailOut(PairOut):
    evidence: list[EvidenceOut]


class PairListIn(QueryIn):
    band: Annotated[str, OneOf(["", *BANDS])] = ""
    commune: Annotated[str, text_rules(5)] = ""
    state: Annotated[str, OneOf(["", "all", *PairState.values])] = ""
    same_id: bool = False
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class DecisionIn(Schema):
    """``merge`` (``survivor_id`` names the record kept, else the proposed one; ``field_choices`` per field
    group, else the proposed values; ``version_a`` and ``version_b`` the versions of the pair's two records
    as compared: a record changed since is refused), ``not_same`` (a reason needed) or ``skip``."""

    model_config = ConfigDict(extra="forbid")
    decision: Annotated[str, OneOf(DECISIONS)]
    reason: Annotated[str, text_rules(500)] = ""
    survivor_id: BodyRecordId | None = None
    field_choices: dict[Annotated[str, OneOf(list(FIELD_GROUPS))], Side] = Field(default_factory=dict)
    version_a: BodyVersion | None = None
    version_b: BodyVersion | None = None


def _in(language: str, comparison: str, level: str) -> str:
    with translation.override(language):
        return evidence_words(comparison, level)


def _detail(pair: SuspectedPair) -> PairDetailOut:
    evidence = [
        EvidenceOut(
            comparison=row.comparison,
            level=row.level,
            words_vi=_in("vi", row.comparison, row.level),
            words_en=_in("en", row.comparison, row.level),
            weight=row.weight,
        )
        for row in evidence_rows(pair)
    ]
    return PairDetailOut(**PairOut.of(pair).model_dump(), evidence=evidence)


@router.get(
    "/pairs",
    response={200: PairPageOut, **errors(403)},
    summary="The suspected duplicate pairs within the user's reach",
)
@operation_requires(Capability.MERGE_PERSONS)
def pair_list(request: HttpRequest, params: Query[PairListIn]) -> PairPageOut:
    state = {"": PairState.OPEN, "all": ""}.get(params.state, params.state)
    pairs = pair_queue(
        user=request.user,
        filters=PairFilter(band=params.band, commune=params.commune, state=state, same_id=params.same_id),
    )
    page = Paginator(pairs, PAIR_PAGE_SIZE).get_page(params.page)
    return PairPageOut(
        count=page.paginator.count,
        page=page.number,
        pages=page.paginator.num_pages,
        pairs=[PairOut.of(p) for p in page],
    )


@router.get(
    "/pairs/{int:pair_id}",
    response={200: PairDetailOut, **errors(403, 404)},
    summary="One pair, with its evidence in words",
)
@operation_requires(Capability.MERGE_PERSONS)
def pair_detail(request: HttpRequest, pair_id: RecordId) -> PairDetailOut:
    return _detail(access_pair_by_id(user=request.user, pair_id=pair_id))


@router.post(
    "/pairs/{int:pair_id}/decision",
    response={200: PairDetailOut, **errors(400, 403, 404, 409)},
    summary="Decide a pair: merge, not the same person, or skip",
)
@operation_requires(Capability.MERGE_PERSONS)
def pair_decision(request: HttpRequest, pair_id: RecordId, body: DecisionIn) -> PairDetailOut:
    versions: dict[int, int] = {}
    if body.decision == MERGE and (body.version_a is not None or body.version_b is not None):
        pair = access_pair_by_id(user=request.user, pair_id=pair_id)
        for person_id, version in ((pair.person_a_id, body.version_a), (pair.person_b_id, body.version_b)):
            if version is not None:
                versions[person_id] = version
    pair = pair_decision_take(
        user=request.user,  # type: ignore[arg-type]
        pair_id=pair_id,
        decision=body.decision,
        reason=body.reason,
        survivor_id=body.survivor_id,
        field_choices=body.field_choices,
        versions=versions,
    )
    return _detail(pair)
