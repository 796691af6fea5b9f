"""Merges over REST: merge two records of one citizen, undo a merge, list the merges (the auto-merges for
audit). Each write calls one service; its refusals are answered by the API's one handler: 404 for a record
outside the user's jurisdiction, 403 for a role that may not merge, 409 when a record changed since the
user compared them or since the merge (the undo names what), 400 for a refused merge.
"""

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
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
from vaxreg.linkage.models import MergeSource, PersonMerge
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
    "/merges", response=list[MergeOut], summary="The merges of records the user may read, newest first"
)
@operation_requires(Capability.MERGE_PERSONS)
def merge_list(request: HttpRequest, params: Query[MergeListIn]) -> list[MergeOut]:
    merges = merges_for_user(user=request.user, source=params.source, survivor_id=params.survivor_id)
    return [MergeOut.of(m) for m in merges.select_related("actor")[:LIST_LIMIT]]


@router.get("/merges/{int:merge_id}", response=MergeOut, summary="One merge")
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
