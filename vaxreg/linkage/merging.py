"""Merging two records of one citizen into one, and undoing it (issue 20, part 5; SPEC §3 history, undo).

``person_merge`` moves the doses, findings, verification cases, complaints and certificates of ``merged``
to ``survivor`` (and its pending access changes that still apply; it withdraws the others), applies the
chosen field values, marks ``merged`` as merged into the survivor (kept, never deleted), writes the history
of every change with the merge as its source, re-runs the quality rules and brings the certificates in
line. Everything it changed is stored with the merge as it was before (``snapshot``) and as the merge left
it (``after``), so that ``person_unmerge`` restores both persons exactly, and refuses, naming what, when a
later change touched something it would restore.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, QuerySet
from django.http import Http404
from django.utils.translation import gettext_noop

from vaxreg.accounts.permissions import Capability, capability_require
from vaxreg.certificates.issuing import CertificateRefused, certificate_issue, certificates_revoke
from vaxreg.certificates.keys import KeyNotConfigured
from vaxreg.certificates.models import Certificate
from vaxreg.complaints.models import Complaint
from vaxreg.core import clock
from vaxreg.core.cccd import decode_cccd
from vaxreg.core.history import ChangeSource, audit_event_record, change_records_build, record_changes_bulk
from vaxreg.core.i18n import both_languages
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.models import AuditEvent, SourceType
from vaxreg.core.refusals import Forbidden, Refusal, StaleVersion
from vaxreg.core.text import normalize_text
from vaxreg.core.touched import figures_touched
from vaxreg.core.versioning import version_expect, versioned_update
from vaxreg.corrections.models import AccessChange, AccessChangeState
from vaxreg.linkage.models import MergeSource, PersonMerge
from vaxreg.people.models import IdType, Person
from vaxreg.people.selectors import person_cccd_consistent
from vaxreg.people.services import persons_lock, rows_follow_person
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons
from vaxreg.vaccinations.models import Dose
from vaxreg.verification.models import ACTIVE_STATES, CaseState, VerificationCase

PERSON_ENTITY = "person"
MERGE_ENTITY = "merge"
SURVIVOR, MERGED = "survivor", "merged"

# What a reviewer chooses, per group of fields that belong together: the survivor keeps either its own
# values of the group or the merged record's.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "full_name": ("full_name", "name_key"),
    "birth_date": ("birth_year", "birth_month", "birth_day", "birth_date_raw"),
    "gender": ("gender",),
    "id_number": ("id_type", "id_number", "id_repaired"),
    "phone": ("phone",),
    "address": ("address",),
    "commune": ("commune_id", "legacy_commune_code", "commune_code_raw", "province_id"),
}

# The rows that belong to a person, and the columns of each that a merge may change.
ROW_KINDS: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "dose": (Dose, ("person_id",)),
    "finding": (Finding, ("person_id", "is_open", "closed_at")),
    "verification_case": (VerificationCase, ("person_id", "state", "closed_at", "resolution")),
    "complaint": (Complaint, ("person_id",)),
    "certificate": (Certificate, ("person_id",)),
    # Only the pending ones are moved or withdrawn (``_access_changes_follow``), never by ``_rows_move``.
    "access_change": (AccessChange, ("person_id", "state", "decided_by_id", "decided_at", "decision_note")),
}
# The open state of a finding is the rules' to decide: an undo puts it back when nothing else changed it,
# and the rules' re-run that follows settles the rest; it never blocks an undo.
_RULES_OWN = {("finding", "is_open"), ("finding", "closed_at")}


class MergeRefused(Refusal):
    """A merge or its undo cannot be made as asked."""

    code = "merge_refused"


class MergeForbidden(Forbidden, MergeRefused):
    """The user may not merge these records (role, or a record outside the user's jurisdiction)."""


class MergeStale(StaleVersion, MergeRefused):
    """One of the two records changed since the user compared them."""

    def __init__(self, person: Person) -> None:
        super().__init__(
            f"Hồ sơ #{person.pk} vừa được người khác sửa; hãy so sánh lại trước khi gộp.",
            f"Record #{person.pk} has just been changed by someone else; compare again before merging.",
            current={"id": person.pk, "version": person.version},
        )


class UnmergeBlocked(MergeRefused):
    """A later change touched what the undo would restore; ``changed`` names each such thing."""

    code = "merge_changed_since"
    status = 409

    def __init__(self, changed: list[str]) -> None:
        listed = ", ".join(changed[:10]) + (" …" if len(changed) > 10 else "")
        super().__init__(
            f"Không hoàn tác được: đã có thay đổi sau khi gộp ({listed}).",
            f"The merge cannot be undone: these were changed after it ({listed}).",
        )
        self.changed = changed


# -- what else follows a merge or its undo -------------------------------------------------------------------
# The suspected pairs (DUPLICATE_SUSPECT) close when their two records are merged and come back when the merge
# is undone: the pairs' module registers here, so that merging does not need to know it.

AfterMerge = Callable[[PersonMerge, bool], None]  # (the merge, True when it was just undone)
_after_merge: list[tuple[str, AfterMerge]] = []


def after_merge_register(name: str, handler: AfterMerge) -> None:
    """Run ``handler`` inside every merge and every undo, after the rows moved (once per name)."""
    if all(existing != name for existing, _ in _after_merge):
        _after_merge.append((name, handler))


def _after_merge_run(merge: PersonMerge, *, undone: bool) -> None:
    # Persons, findings and cases of both records moved: both communes' figures are recounted.
    figures_touched(persons=[merge.survivor_id, merge.merged_id])
    for _, handler in _after_merge:
        handler(merge, undone)


# -- the sensible defaults the review page shows ------------------------------------------------------------


def _police_verified(person: Person) -> bool:
    """The latest resolved case carries the identity the police verified, with the record's ID number."""
    case = (
        VerificationCase.objects.filter(person_id=person.pk, state=CaseState.RESOLVED)
        .exclude(verified_identity={})
        .order_by("-closed_at", "-pk")
        .first()
    )
    return case is not None and case.verified_identity.get("id_number", person.id_number) == person.id_number


def _empty(values: tuple[Any, ...]) -> bool:
    return all(v in (None, "", False) for v in values)


def merge_defaults(a: Person, b: Person) -> dict[str, str]:
    """Per field group, whose value should survive when ``b`` is merged into ``a``: ``"survivor"`` (a's)
    or ``"merged"`` (b's).

    A value beats an empty one; between two values, a police-verified record's wins, else the one whose
    CCCD agrees with its gender and birth year, else the most recently changed record's (a tie keeps a's).
    """
    rank_a = (_police_verified(a), person_cccd_consistent(a), a.updated_at)
    rank_b = (_police_verified(b), person_cccd_consistent(b), b.updated_at)
    choices = {}
    for group, attrs in FIELD_GROUPS.items():
        value_a = tuple(getattr(a, f) for f in attrs)
        value_b = tuple(getattr(b, f) for f in attrs)
        if value_a == value_b or _empty(value_b):
            choices[group] = SURVIVOR
        elif _empty(value_a):
            choices[group] = MERGED
        else:
            choices[group] = MERGED if rank_b > rank_a else SURVIVOR
    return choices


# -- snapshots ------------------------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _python(model: type[models.Model], column: str, value: Any) -> Any:
    field = model._meta.get_field(column[:-3] if column.endswith("_id") else column)
    if isinstance(field, models.DateTimeField | models.DateField) and value is not None:
        return field.to_python(value)
    return value


_PERSON_SKIPPED = {"id", "version", "updated_at"}


def _person_state(person: Person) -> dict[str, Any]:
    return {
        f.attname: _json(getattr(person, f.attname))
        for f in Person._meta.concrete_fields
        if f.attname not in _PERSON_SKIPPED
    }


def _rows_state(
    *, person_ids: list[int] | None = None, ids: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """kind → {row id: {column: value}}: the rows of these persons, or the rows with these ids."""
    state: dict[str, Any] = {}
    for kind, (model, columns) in ROW_KINDS.items():
        rows = model._default_manager.all()
        if person_ids is not None:
            rows = rows.filter(person_id__in=person_ids)
        else:
            rows = rows.filter(pk__in=[int(i) for i in (ids or {}).get(kind, {})])
        state[kind] = {
            str(row["pk"]): {c: _json(row[c]) for c in columns}
            for row in rows.order_by("pk").values("pk", *columns)
        }
    return state


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}


# -- merging --------------------------------------------------------------------------------------------------


def _require_reason(reason: str) -> str:
    text = normalize_text(reason)
    if len(text) < 3:
        raise MergeRefused("Cần ghi lý do gộp.", "A merge needs a reason.", field="reason")
    return text[:1000]


def _may_act(actor: Any, persons: list[int], *, system: bool) -> None:
    if actor is None and system:
        return
    capability_require(actor, Capability.MERGE_PERSONS)
    visible = jurisdiction_of(actor).persons_visible(Person.objects.filter(pk__in=persons)).count()
    if visible != len(set(persons)):
        raise MergeForbidden(
            "Hồ sơ nằm ngoài phạm vi quản lý của bạn.", "A record lies outside your jurisdiction."
        )


def _locked(person_ids: list[int]) -> dict[int, Person]:
    # Always in the same order, so two merges of overlapping pairs wait for each other instead of deadlocking.
    persons = persons_lock(person_ids=person_ids)
    for pid in person_ids:
        if pid not in persons:
            raise MergeRefused(f"Không tìm thấy hồ sơ #{pid}.", f"Record #{pid} does not exist.")
    return persons


def _choices_checked(survivor: Person, merged: Person, field_choices: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(field_choices) - set(FIELD_GROUPS))
    bad = sorted(g for g, side in field_choices.items() if side not in (SURVIVOR, MERGED))
    if unknown or bad:
        names = ", ".join(unknown + bad)
        raise MergeRefused(
            f"Lựa chọn không hợp lệ cho: {names}.", f"Invalid choice for: {names}.", field="field_choices"
        )
    return merge_defaults(survivor, merged) | dict(field_choices)


def _check_pair(survivor: Person, merged: Person) -> None:
    for person in (survivor, merged):
        if person.merged_into_id is not None:
            raise MergeRefused(
                f"Hồ sơ #{person.pk} đã được gộp vào hồ sơ #{person.merged_into_id}.",
                f"Record #{person.pk} was already merged into record #{person.merged_into_id}.",
                code="already_merged",
            )


@dataclass(frozen=True)
class MergeResult:
    merge: PersonMerge
    certificate: Certificate | None


def _history(
    entity: str, rows: Mapping[str, Mapping[str, tuple[Any, Any]]], source: ChangeSource
) -> list[Any]:
    at = clock.now()
    out = []
    for row_id, changes in rows.items():
        if changes:
            out += change_records_build(
                entity=entity, entity_id=int(row_id), changes=changes, source=source, at=at
            )
    return out


def _rows_history(before: Mapping[str, Any], after: Mapping[str, Any], source: ChangeSource) -> list[Any]:
    records = []
    for kind in ROW_KINDS:
        changed = {rid: _diff(before[kind].get(rid, {}), values) for rid, values in after[kind].items()}
        changed = {rid: c for rid, c in changed.items() if rid in before[kind]}
        records += _history(kind, changed, source)
    return records


def _findings_collide(survivor_id: int, merged_id: int, now: dt.datetime) -> None:
    """Close the merged record's open findings that the survivor already has open (one open per code)."""
    open_here = set(
        Finding.objects.filter(person_id=survivor_id, is_open=True).values_list("code", "dose_id")
    )
    clash = [
        pk
        for pk, code, dose_id in Finding.objects.filter(person_id=merged_id, is_open=True).values_list(
            "pk", "code", "dose_id"
        )
        if (code, dose_id) in open_here
    ]
    Finding.objects.filter(pk__in=clash).update(is_open=False, closed_at=now)


def _cases_close_second(survivor_id: int, merged_id: int, now: dt.datetime) -> None:
    """One active case per person: the merged record's active case is closed when the survivor has one
    (the survivor's case goes on), else it moves with the rest."""
    if not VerificationCase.objects.filter(person_id=survivor_id, state__in=ACTIVE_STATES).exists():
        return
    VerificationCase.objects.filter(person_id=merged_id, state__in=ACTIVE_STATES).update(
        state=CaseState.RESOLVED,
        closed_at=now,
        updated_at=now,
        resolution=both_languages(gettext_noop("merged into record #%(id)s"), {"id": survivor_id}),
        version=F("version") + 1,
    )


def _rows_move(survivor_id: int, merged_id: int) -> None:
    now = clock.now()
    _findings_collide(survivor_id, merged_id, now)
    _cases_close_second(survivor_id, merged_id, now)
    for kind, (model, _columns) in ROW_KINDS.items():
        if kind != "access_change":
            model._default_manager.filter(person_id=merged_id).update(person_id=survivor_id)


# A pending change of the merged record's phone, ID or commune (``AccessChange``, waiting for the citizen's
# or the station's second step) would otherwise wait on a record nobody opens any more: the citizen's lookup,
# the station and the searches all lead to the survivor. It was asked against the merged record's values
# (``old_values``), and confirming applies it only while the record still has them. So a change whose old
# values are the survivor's after the merge (the two records shared them, or the reviewer kept the merged
# record's) moves to the survivor: confirmed there, it does exactly what was asked. Any other one would put
# a phone or ID asked against one record's values over another's, and could never be confirmed anyway: it
# is withdrawn (cancelled, the merge named as the reason, by the merge's actor) instead of being left to
# wait. The survivor's own pending changes follow the same rule (the merge may have given it the other
# record's phone). Both are rows of the merge (``ROW_KINDS``): the undo moves the moved ones back and
# reopens the withdrawn ones. Changes past their time are left to the expiry job; decided ones stay, as
# their record's history.


def _access_changes_follow(
    survivor: Person, merged_id: int, actor_id: int | None, now: dt.datetime
) -> list[int]:
    """Move or withdraw the pending access changes (see above); the ids of those withdrawn."""
    pending = AccessChange.objects.filter(
        person_id__in=[survivor.pk, merged_id], state=AccessChangeState.PENDING, expires_at__gt=now
    ).values_list("pk", "person_id", "old_values")
    moved, withdrawn = [], []
    for pk, person_id, old_values in pending:
        if not all(getattr(survivor, field) == old for field, old in old_values.items()):
            withdrawn.append(pk)
        elif person_id == merged_id:
            moved.append(pk)
    AccessChange.objects.filter(pk__in=moved).update(person_id=survivor.pk)
    AccessChange.objects.filter(pk__in=withdrawn).update(
        state=AccessChangeState.CANCELLED,
        decided_by_id=actor_id,
        decided_at=now,
        decision_note=both_languages(
            gettext_noop(
                "withdrawn: record #%(merged)s was merged into record #%(survivor)s, whose values are no longer "
                "those the change was asked against; ask again on record #%(survivor)s if it is still needed"
            ),
            {"merged": merged_id, "survivor": survivor.pk},
        ),
    )
    return withdrawn


def _survivor_values(survivor: Person, merged: Person, choices: Mapping[str, str]) -> list[str]:
    changed = []
    for group, side in choices.items():
        if side != MERGED:
            continue
        for attr in FIELD_GROUPS[group]:
            if getattr(survivor, attr) != getattr(merged, attr):
                setattr(survivor, attr, getattr(merged, attr))
                changed.append(attr)
    return changed


def _issue_if_qualifies(person_id: int, actor_id: int | None) -> Certificate | None:
    try:
        return certificate_issue(person_id=person_id, actor_id=actor_id)
    except (CertificateRefused, KeyNotConfigured):
        return None


def _stale(person: Person) -> MergeStale:
    return MergeStale(person)


@transaction.atomic
def person_merge(
    *,
    survivor: Person,
    merged: Person,
    field_choices: Mapping[str, str],
    actor: Any,
    reason: str,
    source: str = MergeSource.REVIEW,
) -> MergeResult:
    """Merge ``merged`` into ``survivor`` (both as the user compared them: their versions are checked).

    ``field_choices`` maps field groups (``FIELD_GROUPS``) to ``"survivor"`` or ``"merged"``; a group not
    named takes ``merge_defaults``. ``actor`` None only for the automatic merges (``source="auto-merge"``).
    """
    reason = _require_reason(reason)
    source = MergeSource(source)
    if survivor.pk == merged.pk:
        raise MergeRefused(
            "Không gộp một hồ sơ với chính nó.", "A record cannot be merged with itself.", code="same_person"
        )
    _may_act(actor, [survivor.pk, merged.pk], system=source == MergeSource.AUTO)
    persons = _locked([survivor.pk, merged.pk])
    s, m = persons[survivor.pk], persons[merged.pk]
    version_expect(s, survivor.version, _stale)
    version_expect(m, merged.version, _stale)
    _check_pair(s, m)
    choices = _choices_checked(s, m, field_choices)
    actor_id = actor.pk if actor is not None else None
    now = clock.now()
    before = {"persons": {str(s.pk): _person_state(s), str(m.pk): _person_state(m)}}
    before["rows"] = _rows_state(person_ids=[s.pk, m.pk])
    merge = PersonMerge.objects.create(
        survivor=s, merged=m, source=source, reason=reason, field_choices=choices, snapshot=before,
        actor_id=actor_id, merged_at=now,
    )  # fmt: skip
    history_source = ChangeSource(type=SourceType.MERGE, id=str(merge.pk), reason=reason, actor_id=actor_id)

    revoked = certificates_revoke(person_id=s.pk, actor_id=actor_id) + certificates_revoke(
        person_id=m.pk, actor_id=actor_id
    )
    _rows_move(s.pk, m.pk)
    changed = _survivor_values(s, m, choices)
    s.updated_at = m.updated_at = now
    versioned_update(s, fields=s.fields_with_home([*changed, "updated_at"]), stale=_stale)
    rows_follow_person(person_ids=[s.pk])  # the merged record's, and the survivor's if it moved
    m.merged_into_id = s.pk
    versioned_update(m, fields=["merged_into", "updated_at"], stale=_stale)
    withdrawn = _access_changes_follow(s, m.pk, actor_id, now)
    quality_check_persons(person_ids=[s.pk])
    certificate = _issue_if_qualifies(s.pk, actor_id)
    if certificate is not None and revoked:
        Certificate.objects.filter(pk__in=[c.pk for c in revoked]).update(replaced_by=certificate)

    after = {"persons": {str(s.pk): _person_state(s), str(m.pk): _person_state(m)}}
    after["rows"] = _rows_state(person_ids=[s.pk, m.pk])
    merge.after, merge.certificate = after, certificate
    merge.save(update_fields=["after", "certificate"])
    _after_merge_run(merge, undone=False)

    records = _history(PERSON_ENTITY, {
        str(s.pk): {**_diff(before["persons"][str(s.pk)], after["persons"][str(s.pk)]), "merged_from": (None, str(m.pk))},
        str(m.pk): _diff(before["persons"][str(m.pk)], after["persons"][str(m.pk)]),
    }, history_source)  # fmt: skip
    records += _rows_history(before["rows"], after["rows"], history_source)
    record_changes_bulk(records)
    audit_event_record(
        action=AuditEvent.Action.PERSONS_MERGED,
        actor_id=actor_id,
        object_type=MERGE_ENTITY,
        object_id=str(merge.pk),
        detail={
            "survivor": s.pk,
            "merged": m.pk,
            "source": source.value,
            "moved": {kind: sum(1 for r in after["rows"][kind].values() if r["person_id"] == s.pk)
                      - sum(1 for r in before["rows"][kind].values() if r["person_id"] == s.pk)
                      for kind in ROW_KINDS},
            "certificates_revoked": [c.uvci for c in revoked],
            "certificate_issued": certificate.uvci if certificate else None,
            "access_changes_withdrawn": withdrawn,
        },
    )  # fmt: skip
    return MergeResult(merge=merge, certificate=certificate)


# -- undoing a merge ------------------------------------------------------------------------------------------


def _changed_since(merge: PersonMerge, persons: Mapping[int, Person]) -> list[str]:
    """What a later change touched among the things the undo would restore, as people read it."""
    before, after = merge.snapshot, merge.after
    conflicts = []
    for pid, values in after["persons"].items():
        person = persons[int(pid)]
        now_values = _person_state(person)
        for attr in _diff(before["persons"][pid], values):
            if now_values.get(attr) != values[attr]:
                conflicts.append(f"#{pid}.{attr}")
    now_rows = _rows_state(ids=after["rows"])
    for kind, rows in after["rows"].items():
        for rid, values in rows.items():
            old = before["rows"][kind].get(rid)
            if old is None:
                continue
            current = now_rows[kind].get(rid)
            for column in _diff(old, values):
                if (kind, column) in _RULES_OWN:
                    continue
                if current is None or current[column] != values[column]:
                    conflicts.append(f"{kind} #{rid}")
                    break
    # A change the merge moved and that was confirmed on the survivor since put its values there: handing it
    # back to the other record would tell a wrong story of whose phone or ID it changed.
    for rid, values in after["rows"].get("access_change", {}).items():
        old = before["rows"]["access_change"].get(rid)
        confirmed = now_rows["access_change"].get(rid, {}).get("state") == AccessChangeState.CONFIRMED
        if old is not None and old["person_id"] != values["person_id"] and confirmed:
            conflicts.append(f"access_change #{rid}")
    return conflicts


def _rows_restore(merge: PersonMerge) -> None:
    before, after = merge.snapshot["rows"], merge.after["rows"]
    now_rows = _rows_state(ids=after)
    now = clock.now()
    # The findings the merge's re-run of the rules opened were about the merged record: closed first, so a
    # finding put back open cannot meet an open twin.
    born = [int(rid) for rid in after["finding"] if rid not in before["finding"]]
    Finding.objects.filter(pk__in=born, is_open=True).update(is_open=False, closed_at=now)
    updates: list[tuple[type[models.Model], int, dict[str, Any]]] = []
    for kind, (model, _columns) in ROW_KINDS.items():
        for rid, old in before.get(kind, {}).items():  # a merge made before a kind was added has none
            values = after[kind].get(rid, {})
            restore = {}
            for column in _diff(old, values):
                if (kind, column) in _RULES_OWN and now_rows[kind].get(rid, {}).get(column) != values[column]:
                    continue  # the rules changed it since: their re-run decides
                restore[column] = _python(model, column, old[column])
            if restore:
                if kind == "verification_case" and "state" in restore:
                    restore |= {"updated_at": now, "version": F("version") + 1}
                updates.append((model, int(rid), restore))
    # Closings before openings: no moment with two open findings of one code on one person.
    updates.sort(key=lambda u: u[2].get("is_open", False) is True)
    for model, rid, values in updates:
        model._default_manager.filter(pk=rid).update(**values)


def _persons_restore(merge: PersonMerge, persons: Mapping[int, Person]) -> None:
    now = clock.now()
    for pid, old in merge.snapshot["persons"].items():
        person = persons[int(pid)]
        changed = list(_diff(old, merge.after["persons"][pid]))
        for attr in changed:
            setattr(person, attr, _python(Person, attr, old[attr]))
        person.updated_at = now
        versioned_update(person, fields=person.fields_with_home([*changed, "updated_at"]), stale=_stale)


@transaction.atomic
def person_unmerge(*, merge: PersonMerge, actor: Any, reason: str) -> PersonMerge:
    """Undo a merge: both persons, and every row the merge moved or changed, as they were before it.

    A new change with its own history (source: the merge); certificates cannot be un-revoked, so the
    survivor's current one is revoked and each person gets a new one when they qualify. Refused, naming
    what, when a later change touched anything it would restore.
    """
    reason = _require_reason(reason)
    merge = PersonMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.is_undone:
        raise MergeRefused(
            "Lần gộp này đã được hoàn tác.", "This merge has already been undone.", code="already_undone"
        )
    _may_act(actor, [merge.survivor_id], system=False)
    persons = _locked([merge.survivor_id, merge.merged_id])
    survivor = persons[merge.survivor_id]
    if survivor.merged_into_id is not None:
        raise UnmergeBlocked([f"#{survivor.pk} → #{survivor.merged_into_id}"])
    conflicts = _changed_since(merge, persons)
    if conflicts:
        raise UnmergeBlocked(conflicts)
    actor_id = actor.pk if actor is not None else None
    history_source = ChangeSource(
        type=SourceType.MERGE,
        id=str(merge.pk),
        reason=both_languages(gettext_noop("merge undone: %(reason)s"), {"reason": reason}),
        actor_id=actor_id,
    )
    current = {"persons": {pid: _person_state(p) for pid, p in ((str(k), v) for k, v in persons.items())}}
    current["rows"] = _rows_state(person_ids=list(persons))
    revoked = certificates_revoke(person_id=survivor.pk, actor_id=actor_id)
    _rows_restore(merge)
    _persons_restore(merge, persons)
    rows_follow_person(person_ids=sorted(persons))
    quality_check_persons(person_ids=sorted(persons))
    issued = [c for pid in sorted(persons) if (c := _issue_if_qualifies(pid, actor_id)) is not None]

    restored = {"persons": {str(k): _person_state(v) for k, v in persons.items()}}
    restored["rows"] = _rows_state(ids=current["rows"])
    records = _history(PERSON_ENTITY, {
        pid: _diff(current["persons"][pid], values) for pid, values in restored["persons"].items()
    }, history_source)  # fmt: skip
    records += _history(
        PERSON_ENTITY, {str(merge.survivor_id): {"merged_from": (str(merge.merged_id), None)}}, history_source
    )
    records += _rows_history(current["rows"], restored["rows"], history_source)
    record_changes_bulk(records)
    merge.undone_at, merge.undone_by_id, merge.undo_reason = clock.now(), actor_id, reason
    merge.save(update_fields=["undone_at", "undone_by", "undo_reason"])
    _after_merge_run(merge, undone=True)
    audit_event_record(
        action=AuditEvent.Action.PERSONS_UNMERGED,
        actor_id=actor_id,
        object_type=MERGE_ENTITY,
        object_id=str(merge.pk),
        detail={
            "survivor": merge.survivor_id,
            "merged": merge.merged_id,
            "certificates_revoked": [c.uvci for c in revoked],
            "certificates_issued": [c.uvci for c in issued],
        },
    )
    return merge


# -- the optional auto-merge band ----------------------------------------------------------------------------


def _shares_valid_cccd(a: Person, b: Person) -> bool:
    return (
        a.id_type == b.id_type == IdType.CCCD
        and a.id_number == b.id_number
        and decode_cccd(a.id_number) is not None
    )


def _auto_survivor(a: Person, b: Person) -> tuple[Person, Person]:
    """(survivor, merged): the police-verified record, else the CCCD-consistent one, else the one with more
    doses, else the older record."""

    def rank(p: Person) -> tuple[bool, bool, int, int]:
        return (
            _police_verified(p),
            person_cccd_consistent(p),
            Dose.objects.filter(person_id=p.pk).count(),
            -p.pk,
        )

    return (a, b) if rank(a) >= rank(b) else (b, a)


def persons_auto_merge(*, pairs: Iterable[tuple[int, int, float]]) -> list[PersonMerge]:
    """Merge without review the pairs (person id, person id, match probability) above the upper threshold
    that share a valid CCCD, when ``VAXREG_LINKAGE_AUTO_MERGE`` is on (off: nothing happens).

    The linkage run calls this with its scored pairs. Each merge is its own transaction, made by the system
    (no actor) with source ``auto-merge`` and the default field choices: undoable like any merge, and
    listed for audit (``merges_for_user(source="auto-merge")``). A pair that cannot be merged (one record
    already merged, changed meanwhile) is left to the review queue.
    """
    if not settings.VAXREG_LINKAGE_AUTO_MERGE:
        return []
    threshold = settings.VAXREG_LINKAGE_AUTO_MERGE_ABOVE
    done = []
    for first, second, probability in pairs:
        if probability <= threshold or first == second:
            continue
        persons = {p.pk: p for p in Person.objects.filter(pk__in=[first, second], merged_into__isnull=True)}
        if len(persons) != 2 or not _shares_valid_cccd(persons[first], persons[second]):
            continue
        survivor, merged = _auto_survivor(persons[first], persons[second])
        try:
            result = person_merge(
                survivor=survivor,
                merged=merged,
                field_choices={},
                actor=None,
                reason=both_languages(
                    gettext_noop("merged automatically: same CCCD, probability %(p)s"),
                    {"p": f"{probability:.4f}"},
                ),
                source=MergeSource.AUTO,
            )
        except Refusal:
            continue
        done.append(result.merge)
    return done


# -- reads ----------------------------------------------------------------------------------------------------


def merges_for_user(*, user: Any, source: str = "", survivor_id: int | None = None) -> QuerySet[PersonMerge]:
    """The merges whose survivor the user may read, newest first (auto-merges: ``source="auto-merge"``)."""
    survivors = jurisdiction_of(user).persons_visible(Person.objects.all()).values("pk")
    merges = PersonMerge.objects.filter(survivor__in=survivors).select_related("certificate")
    if source:
        merges = merges.filter(source=source)
    if survivor_id is not None:
        merges = merges.filter(survivor_id=survivor_id)
    return merges.order_by("-merged_at", "-pk")


def access_merge_by_id(*, user: Any, merge_id: int) -> PersonMerge:
    """The merge if the user may read its survivor; otherwise ``Http404`` (absent and hidden look alike)."""
    merge = merges_for_user(user=user).filter(pk=merge_id).first()
    if merge is None:
        raise Http404(f"merge {merge_id}")
    return merge


def merge_of_merged(*, person: Person) -> PersonMerge | None:
    """The live merge that took this record into another one (its page says where it went)."""
    return PersonMerge.objects.filter(merged_id=person.pk, undone_at__isnull=True).first()
