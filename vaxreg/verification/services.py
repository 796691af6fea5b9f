"""Verification cases (SPEC §6): opened for persons with blocking findings, worked by the commune health
station, escalated to the commune police, resolved. Every change of a case is one action here that also
writes the person's history (source: the case), so the person page tells the whole story.

States::

    open → in_progress → resolved
    in_progress → escalated → matched | not_found → resolved | unverifiable
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from vaxreg.accounts.models import User
from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core import clock
from vaxreg.core.history import ChangeSource, change_records_build, record_change, record_changes_bulk
from vaxreg.core.i18n import both_languages, label_both
from vaxreg.core.models import SourceType
from vaxreg.core.refusals import Forbidden, Refusal, StaleVersion
from vaxreg.core.text import normalize_text
from vaxreg.core.touched import Rows, figures_touched
from vaxreg.core.versioning import version_expect, versioned_update
from vaxreg.corrections.services import CorrectionRefused, CorrectionResult, dose_correct, person_correct
from vaxreg.people.models import Person, VerificationState
from vaxreg.places.models import Commune
from vaxreg.quality.models import Finding, Severity
from vaxreg.vaccinations.models import Dose
from vaxreg.verification.models import (
    ACTIVE_STATES,
    CaseState,
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    VerificationCase,
)
from vaxreg.verification.selectors import access_case_by_id

NO_BLOCKING_LEFT = gettext_noop("no blocking finding left")

CASE_FIELD = "verification_case"  # the history field under which a person's case steps are written
_IN_CHUNK = 900

TRANSITIONS: dict[str, set[str]] = {
    CaseState.OPEN: {CaseState.IN_PROGRESS, CaseState.ESCALATED, CaseState.RESOLVED},
    CaseState.IN_PROGRESS: {CaseState.ESCALATED, CaseState.RESOLVED},
    CaseState.ESCALATED: {CaseState.MATCHED, CaseState.NOT_FOUND},
    CaseState.MATCHED: {CaseState.RESOLVED, CaseState.UNVERIFIABLE},
    CaseState.NOT_FOUND: {CaseState.RESOLVED, CaseState.UNVERIFIABLE},
    CaseState.RESOLVED: set(),
    CaseState.UNVERIFIABLE: set(),
}

POLICE_RESULTS = ("MATCH", "MISMATCH", "NOT_FOUND")
VERIFIED_FIELDS = ("full_name", "birth_year", "birth_month", "birth_day", "gender", "id_number")
MIN_JUSTIFICATION = 10


class CaseActionRefused(Refusal):
    """The action does not fit the case's state, or the user's role; said in both languages."""


class CaseActionForbidden(Forbidden, CaseActionRefused):
    """The user's role or unit may not do this to the case (the API answers 403)."""


class CaseChanged(StaleVersion, CaseActionRefused):
    """Someone else updated the case since the user read it; ``current`` is its state and version now."""

    def __init__(self, case: VerificationCase) -> None:
        super().__init__(
            "Hồ sơ vừa được người khác cập nhật; hãy tải lại trang.",
            "Someone else has just updated this case; reload the page.",
            current={"state": case.state, "version": case.version},
        )


def _label(state: str) -> str:
    return label_both(CaseState(state).label)


def _history(
    case: VerificationCase, changes: Mapping[str, tuple[Any, Any]], *, actor_id: int | None, reason: str
) -> None:
    record_change(
        entity="person",
        entity_id=case.person_id,
        changes={f"{CASE_FIELD}.{name}": values for name, values in changes.items()},
        source=ChangeSource(type=SourceType.CASE, id=str(case.pk), reason=reason, actor_id=actor_id),
    )
    # Cases count in their commune; the person's verification state in the commune of residence.
    figures_touched(
        communes=[case.commune_id],
        provinces=[] if case.commune_id else [case.province_id],
        persons=[case.person_id],
    )


def _move(
    case: VerificationCase, to: CaseState, *, actor_id: int | None, reason: str, extra: Iterable[str] = ()
) -> None:
    if to not in TRANSITIONS[case.state]:
        raise CaseActionRefused(
            f"Hồ sơ đang ở trạng thái “{_label(case.state)}”, không chuyển sang “{_label(to)}” được.",
            f"The case is “{_label(case.state)}”; it cannot move to “{_label(to)}”.",
        )
    now = clock.now()
    old = case.state
    case.state = to
    case.updated_at = now
    fields = ["state", "updated_at", *extra]
    if to == CaseState.ESCALATED:
        case.escalated_at = now
        fields.append("escalated_at")
    if to in (CaseState.RESOLVED, CaseState.UNVERIFIABLE):
        case.closed_at = now
        fields.append("closed_at")
    versioned_update(case, fields=fields, stale=CaseChanged)
    _history(case, {"state": (old, to)}, actor_id=actor_id, reason=reason)


def _blocking_codes(person_ids: list[int]) -> dict[int, list[str]]:
    codes: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(person_ids), _IN_CHUNK):
        rows = Finding.objects.filter(
            person_id__in=person_ids[start : start + _IN_CHUNK], is_open=True, severity=Severity.BLOCKING
        ).values_list("person_id", "code")
        for person_id, code in rows:
            codes[person_id].add(code)
    return {pid: sorted(c) for pid, c in codes.items()}


# -- opening and keeping cases in line with the findings -----------------------------------------------


@dataclass
class SyncResult:
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    skipped: list[int] = field(default_factory=list)  # persons with no commune and no dose to place them


def _places_of(person_ids: list[int]) -> dict[int, tuple[str | None, int | None]]:
    """person → (commune of residence or else of the latest dose's facility, facility of the latest dose)."""
    places: dict[int, tuple[str | None, int | None]] = {}
    for start in range(0, len(person_ids), _IN_CHUNK):
        part = person_ids[start : start + _IN_CHUNK]
        residence = dict(Person.objects.filter(pk__in=part).values_list("pk", "commune_id"))
        latest: dict[int, tuple[Any, int, str]] = {}
        for person_id, date, facility_id, commune_id in Dose.objects.filter(person_id__in=part).values_list(
            "person_id", "vaccination_date", "facility_id", "facility__commune_id"
        ):
            if person_id not in latest or date >= latest[person_id][0]:
                latest[person_id] = (date, facility_id, commune_id)
        for pid in part:
            dose = latest.get(pid)
            places[pid] = (residence.get(pid) or (dose[2] if dose else None), dose[1] if dose else None)
    return places


@transaction.atomic
def cases_sync(*, person_ids: Iterable[int]) -> SyncResult:
    """Open a case for each of these persons with a blocking finding and no active case; keep the rule
    codes of active cases current; resolve untouched (``open``) cases whose blocking findings are all gone.

    Idempotent: running it twice changes nothing the second time.
    """
    ids = sorted(set(person_ids))
    result = SyncResult()
    if not ids:
        return result
    blocking = _blocking_codes(ids)
    active: dict[int, VerificationCase] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        for case in VerificationCase.objects.filter(
            person_id__in=ids[start : start + _IN_CHUNK], state__in=ACTIVE_STATES
        ):
            active[case.person_id] = case
    now = clock.now()
    to_open = [pid for pid in ids if pid in blocking and pid not in active]
    places = _places_of(to_open)
    provinces = dict(
        Commune.objects.filter(pk__in={c for c, _ in places.values() if c}).values_list("pk", "province_id")
    )
    new_cases = []
    for pid in to_open:
        commune_id, facility_id = places[pid]
        if commune_id is None:
            result.skipped.append(pid)
            continue
        new_cases.append(
            VerificationCase(
                person_id=pid,
                commune_id=commune_id,
                province_id=provinces[commune_id],
                facility_id=facility_id,
                codes=blocking[pid],
                opened_at=now,
                updated_at=now,
            )
        )
    created = VerificationCase.objects.bulk_create(new_cases, batch_size=500)
    history = []
    for case in created:  # both databases return the new ids from a bulk insert
        history += change_records_build(
            entity="person",
            entity_id=case.person_id,
            changes={f"{CASE_FIELD}.state": (None, CaseState.OPEN)},
            source=ChangeSource(type=SourceType.CASE, id=str(case.pk), reason=", ".join(case.codes)),
            at=now,
        )
    record_changes_bulk(history)
    figures_touched(
        communes={case.commune_id for case in created},
        provinces={case.province_id for case in created if not case.commune_id},  # counted in its province
        rows=[Rows.CASES],
    )
    result.opened = len(created)

    for pid, case in active.items():
        codes = blocking.get(pid, [])
        if not codes and case.state == CaseState.OPEN:
            case.codes = []
            case.resolution = both_languages(NO_BLOCKING_LEFT)
            _move(
                case, CaseState.RESOLVED, actor_id=None, reason=case.resolution, extra=["codes", "resolution"]
            )
            Person.objects.filter(pk=pid).update(verification_state=VerificationState.VERIFIED)
            result.resolved += 1
        elif codes != case.codes:
            case.codes = codes
            case.updated_at = now
            case.save(update_fields=["codes", "updated_at"])
            result.updated += 1
    return result


def cases_sync_all(*, batch_size: int = 5000, province_code: str | None = None) -> SyncResult:
    """``cases_sync`` over every person with an open blocking finding and every active case, in batches
    of person ids, each committed on its own (a periodic job or `vaxreg verification sync`)."""
    total = SyncResult()
    last = 0
    while True:
        findings = Finding.objects.filter(is_open=True, severity=Severity.BLOCKING, person_id__gt=last)
        cases = VerificationCase.objects.filter(state=CaseState.OPEN, person_id__gt=last)
        if province_code:
            # A finding's home is its person's province: no join with the persons to pick a province's.
            findings = findings.filter(home=province_code)
            cases = cases.filter(province_id=province_code)
        ids = sorted(
            set(findings.order_by("person_id").values_list("person_id", flat=True).distinct()[:batch_size])
            | set(cases.order_by("person_id").values_list("person_id", flat=True)[:batch_size])
        )[:batch_size]
        if not ids:
            return total
        part = cases_sync(person_ids=ids)
        total.opened += part.opened
        total.updated += part.updated
        total.resolved += part.resolved
        total.skipped += part.skipped
        last = ids[-1]


# -- the work of the health station ----------------------------------------------------------------------


def _require_station(user: User, case: VerificationCase) -> None:
    if not user_can(user, Capability.CASE_WORK) or user.commune_id != case.commune_id:
        raise CaseActionForbidden(
            "Chỉ trạm y tế xã của hồ sơ mới làm được việc này.",
            "Only the case's commune health station can do this.",
        )


def _active_station_case(*, actor: User, case_id: int) -> VerificationCase:
    """The case, locked, if the actor's station works it and it is still open."""
    case = access_case_by_id(user=actor, case_id=case_id, for_update=True)
    _require_station(actor, case)
    if not case.is_active:
        raise CaseActionRefused("Hồ sơ đã đóng.", "The case is closed.")
    return case


def _start_if_open(case: VerificationCase, *, actor: User, reason: str) -> None:
    if case.state == CaseState.OPEN:
        _move(case, CaseState.IN_PROGRESS, actor_id=actor.pk, reason=reason)


@transaction.atomic
def cases_assign(*, actor: User, case_ids: Iterable[int], assignee_id: int | None) -> int:
    """Give cases to a health worker of the same station (or take them back with ``None``)."""
    assignee = None
    if assignee_id is not None:
        assignee = User.objects.filter(pk=assignee_id, is_active=True).first()
        if (
            assignee is None
            or not user_can(assignee, Capability.CASE_WORK)
            or assignee.commune_id != actor.commune_id
        ):
            raise CaseActionRefused(
                "Chỉ giao được cho cán bộ của trạm mình.",
                "Cases can only be assigned to staff of your own station.",
            )
    count = 0
    for case_id in sorted(set(case_ids)):
        case = access_case_by_id(user=actor, case_id=case_id, for_update=True)
        _require_station(actor, case)
        if case.assigned_to_id == assignee_id or not case.is_active:
            continue
        old = case.assigned_to.username if case.assigned_to else None
        case.assigned_to = assignee
        case.updated_at = clock.now()
        versioned_update(case, fields=["assigned_to", "updated_at"], stale=CaseChanged)
        _history(
            case,
            {"assigned_to": (old, assignee.username if assignee else None)},
            actor_id=actor.pk,
            reason=both_languages(gettext_noop("assignment")),
        )
        count += 1
    return count


@transaction.atomic
def contact_attempt_log(
    *, actor: User, case_id: int, channel: str, outcome: str, note: str = ""
) -> ContactAttempt:
    """Record one attempt to reach the citizen; the first one puts the case in progress."""
    case = _active_station_case(actor=actor, case_id=case_id)
    if channel not in ContactChannel.values or outcome not in ContactOutcome.values:
        raise CaseActionRefused(
            "Kênh hoặc kết quả liên lạc không hợp lệ.", "Unknown contact channel or outcome."
        )
    attempt = ContactAttempt.objects.create(
        case=case,
        at=clock.now(),
        actor=actor,
        channel=channel,
        outcome=outcome,
        note=normalize_text(note)[:2000],
    )
    _start_if_open(case, actor=actor, reason=both_languages(gettext_noop("contacting the citizen")))
    _history(
        case,
        {
            "contact": (
                None,
                f"{label_both(ContactChannel(channel).label)}: {label_both(ContactOutcome(outcome).label)}",
            )
        },
        actor_id=actor.pk,
        reason=attempt.note or both_languages(gettext_noop("contact attempt")),
    )
    return attempt


def _refresh_codes(case: VerificationCase) -> None:
    codes = _blocking_codes([case.person_id]).get(case.person_id, [])
    if codes != case.codes:
        case.codes = codes
        case.save(update_fields=["codes"])


@transaction.atomic
def case_person_correct(
    *, actor: User, case_id: int, expected_version: int, changes: Mapping[str, Any], reason: str
) -> CorrectionResult:
    """Correct the case's person in place (the correction service, with the case as source)."""
    case = _active_station_case(actor=actor, case_id=case_id)
    return _case_correct(
        case,
        actor,
        functools.partial(person_correct, person_id=case.person_id),
        expected_version,
        changes,
        reason,
    )


def _case_correct(
    case: VerificationCase,
    actor: User,
    correct: Callable[..., CorrectionResult],
    expected_version: int,
    changes: Mapping[str, Any],
    reason: str,
) -> CorrectionResult:
    result = correct(
        expected_version=expected_version,
        changes=changes,
        reason=reason,
        actor_id=actor.pk,
        source_type=SourceType.CASE,
        source_id=str(case.pk),
    )
    if result.changed:
        _start_if_open(case, actor=actor, reason=both_languages(gettext_noop("correcting")))
        _refresh_codes(case)
    return result


@transaction.atomic
def case_dose_correct(
    *, actor: User, case_id: int, dose_id: int, expected_version: int, changes: Mapping[str, Any], reason: str
) -> CorrectionResult:
    case = _active_station_case(actor=actor, case_id=case_id)
    if not Dose.objects.filter(pk=dose_id, person_id=case.person_id).exists():
        raise CorrectionRefused("Mũi tiêm không thuộc người này.", "The dose is not this person's.")
    return _case_correct(
        case, actor, functools.partial(dose_correct, dose_id=dose_id), expected_version, changes, reason
    )


@transaction.atomic
def case_escalate(
    *, actor: User, case_id: int, reason: str, expected_version: int | None = None
) -> VerificationCase:
    """Hand the case to the commune police (the person cannot be reached, or the identity needs the register)."""
    case = access_case_by_id(user=actor, case_id=case_id, for_update=True)
    _require_station(actor, case)
    version_expect(case, expected_version, CaseChanged)
    text = normalize_text(reason)
    if len(text) < 3:
        raise CaseActionRefused("Cần ghi lý do chuyển công an.", "Say why the case goes to the police.")
    _move(case, CaseState.ESCALATED, actor_id=actor.pk, reason=text[:1000])
    return case


@transaction.atomic
def case_resolve(
    *, actor: User, case_id: int, justification: str = "", expected_version: int | None = None
) -> VerificationCase:
    """Close the case as done: no blocking finding may be left, unless a written justification says why."""
    case = access_case_by_id(user=actor, case_id=case_id, for_update=True)
    _require_station(actor, case)
    version_expect(case, expected_version, CaseChanged)
    left = _blocking_codes([case.person_id]).get(case.person_id, [])
    text = normalize_text(justification)
    if left and len(text) < MIN_JUSTIFICATION:
        raise CaseActionRefused(
            f"Còn lỗi chặn ({', '.join(left)}): sửa hết, hoặc ghi rõ lý do (ít nhất {MIN_JUSTIFICATION} ký tự).",
            f"Blocking findings are left ({', '.join(left)}): fix them, or write a justification "
            f"(at least {MIN_JUSTIFICATION} characters).",
        )
    case.resolution = text[:2000] or both_languages(NO_BLOCKING_LEFT)
    _move(case, CaseState.RESOLVED, actor_id=actor.pk, reason=case.resolution, extra=["resolution"])
    Person.objects.filter(pk=case.person_id).update(verification_state=VerificationState.VERIFIED)
    return case


@transaction.atomic
def case_mark_unverifiable(*, actor: User, case_id: int, reason: str) -> VerificationCase:
    """Close a case the police could not settle: the record stays as it is, marked unverifiable."""
    case = access_case_by_id(user=actor, case_id=case_id, for_update=True)
    _require_station(actor, case)
    text = normalize_text(reason)
    if len(text) < MIN_JUSTIFICATION:
        raise CaseActionRefused(
            f"Cần ghi lý do (ít nhất {MIN_JUSTIFICATION} ký tự).",
            f"A reason is needed (at least {MIN_JUSTIFICATION} characters).",
        )
    case.resolution = text[:2000]
    _move(case, CaseState.UNVERIFIABLE, actor_id=actor.pk, reason=case.resolution, extra=["resolution"])
    Person.objects.filter(pk=case.person_id).update(verification_state=VerificationState.UNVERIFIABLE)
    return case


# -- the police --------------------------------------------------------------------------------------------


def _verified_changes(person: Person, verified: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if verified.get("birth_year") not in (None, ""):
        # A verified birth date replaces the whole recorded one: a year alone clears a recorded day and month.
        for name in ("birth_month", "birth_day"):
            value = verified.get(name)
            value = None if value in (None, "") else int(value)
            if value != getattr(person, name):
                changes[name] = value
    for name in VERIFIED_FIELDS:
        if name in changes:
            continue
        if name in verified and verified[name] not in (None, ""):
            value = verified[name]
            if name.startswith("birth_"):
                value = int(value)
            if value != getattr(person, name):
                changes[name] = value
    return changes


@transaction.atomic
def case_police_result(
    *,
    actor: User,
    case_id: int,
    result: str,
    verified: Mapping[str, Any] | None = None,
    note: str = "",
    source_id: str = "",
) -> VerificationCase:
    """The commune police's answer for an escalated case.

    MATCH / MISMATCH: the register knows the person; its identity (name, birth date, gender, ID) is kept on
    the case and written to the person through the correction service (source: police). When no blocking
    finding is left the case resolves at once; otherwise it waits, matched, for the health station.
    NOT_FOUND: the register does not know them; the station decides between resolved and unverifiable.
    """
    case = access_case_by_id(user=actor, case_id=case_id, for_update=True)
    if not user_can(actor, Capability.CASE_POLICE) or actor.commune_id != case.commune_id:
        raise CaseActionForbidden(
            "Chỉ công an xã của hồ sơ mới ghi được kết quả xác minh.",
            "Only the case's commune police can record a verification result.",
        )
    if result not in POLICE_RESULTS:
        raise CaseActionRefused(
            f"Kết quả “{result}” không hợp lệ (MATCH, MISMATCH, NOT_FOUND).",
            f"Result “{result}” is not valid (MATCH, MISMATCH, NOT_FOUND).",
        )
    if case.state != CaseState.ESCALATED:
        raise CaseActionRefused(
            f"Hồ sơ đang ở trạng thái “{_label(case.state)}”, không chờ kết quả của công an.",
            f"The case is “{_label(case.state)}”; it is not waiting for the police.",
        )
    verified = dict(verified or {})
    reason = normalize_text(note)[:1000] or f"{both_languages(gettext_noop('police result'))}: {result}"
    if result == "NOT_FOUND":
        case.police_result = result
        _move(case, CaseState.NOT_FOUND, actor_id=actor.pk, reason=reason, extra=["police_result"])
        return case
    person = Person.objects.get(pk=case.person_id)
    changes = _verified_changes(person, verified)
    case.police_result = result
    case.verified_identity = {
        k: verified.get(k) for k in VERIFIED_FIELDS if verified.get(k) not in (None, "")
    }
    _move(
        case,
        CaseState.MATCHED,
        actor_id=actor.pk,
        reason=reason,
        extra=["police_result", "verified_identity"],
    )
    if changes:
        person_correct(
            person_id=person.pk,
            expected_version=person.version,
            changes=changes,
            reason=f"{both_languages(gettext_noop('verified by the police against the population register'))}. {reason}",
            actor_id=actor.pk,
            source_type=SourceType.POLICE,
            source_id=(source_id or str(case.pk))[:64],
        )
    if not _blocking_codes([case.person_id]):
        case.resolution = both_languages(gettext_noop("verified by the police, no blocking finding left"))
        case.codes = []
        _move(
            case, CaseState.RESOLVED, actor_id=actor.pk, reason=case.resolution, extra=["resolution", "codes"]
        )
        Person.objects.filter(pk=case.person_id).update(verification_state=VerificationState.VERIFIED)
    else:
        _refresh_codes(case)
    return case
