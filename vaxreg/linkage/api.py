"""Linkage over REST.

The review of suspected duplicates: the pairs within the user's reach (both persons readable), one pair
with its evidence in words, and a decision on it (merge, not the same, skip). Reads go through the same
scoped selectors as the pages and each decision through the same service; refusals are answered by the
API's one handler: 404 outside the user's reach, 403 for a role that may not review, 409 when the pair was
decided or a record changed since the user compared them, 400 for a refused decision.
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
from vaxreg.linkage.merging import FIELD_GROUPS, MERGED, SURVIVOR
from vaxreg.linkage.models import PairState, SuspectedPair
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
from vaxreg.people.models import Person

router = Router(tags=["linkage"])

# -- suspected pairs ---------------------------------------------------------------------------------------------

PAIR_PAGE_SIZE = 50


class PairPersonOut(Schema):
    id: int
    version: int
    full_name: str
    birth_date: str
    gender: str
    id_type: str
    id_number_masked: str
    phone: str
    commune_code: str | None
    province_code: str | None
    merged_into_id: int | None

    @staticmethod
    def of(person: Person) -> "PairPersonOut":
        return PairPersonOut(
            id=person.pk,
            version=person.version,
            full_name=person.full_name,
            birth_date=person.birth_date_display,
            gender=person.gender,
            id_type=person.id_type,
            id_number_masked=person.id_number_masked,
            phone=person.phone,
            commune_code=person.commune_id,
            province_code=person.province_id,
            merged_into_id=person.merged_into_id,
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


Side = Annotated[str, OneOf([SURVIVOR, MERGED])]


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


@router.get("/pairs", response=PairPageOut, summary="The suspected duplicate pairs within the user's reach")
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


@router.get("/pairs/{int:pair_id}", response=PairDetailOut, summary="One pair, with its evidence in words")
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
