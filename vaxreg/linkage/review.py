"""The review of suspected duplicates: the queue and one pair as people read them, and the decisions taken
from them (issue 20, part 4).

Reads: ``pairs_for_user`` keeps the pairs whose two persons the user may both read (a pair spanning two
communes shows to both stations and to the province); ``access_pair_by_id`` reads one of them by id; the
evidence the engine stored for a pair is put in words with its weight (``evidence_rows``).

Writes: a decision on a pair goes through the linkage and merge services (``pair_decide``, ``person_merge``,
``person_unmerge``), after the same checks the pages and the API share here: the role may review
(``MERGE_PERSONS``) and the pair lies in the user's reach.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Exists, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from vaxreg.accounts.permissions import Capability, capability_require
from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.i18n import in_language
from vaxreg.core.jurisdiction import Scope, jurisdiction_of
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.linkage.engine import COMPARISONS, model_load
from vaxreg.linkage.merging import MergeResult, person_merge
from vaxreg.linkage.models import PairState, PersonMerge, SuspectedPair
from vaxreg.linkage.services import PairRefusal, findings_sync, pair_decide
from vaxreg.people.models import IdType, Person, VerificationState
from vaxreg.places.models import Commune
from vaxreg.vaccinations.models import Dose

if TYPE_CHECKING:
    from vaxreg.accounts.models import User

QUEUE_PAGE_SIZE = 25
BULK_MAX = 200

# -- the evidence in words -------------------------------------------------------------------------------------

COMPARISON_NAMES: dict[str, Any] = {
    "surname": gettext_lazy("Family name"),
    "given_names": gettext_lazy("Full name"),
    "birth_date": gettext_lazy("Date of birth"),
    "id_number": gettext_lazy("CCCD/CMND"),
    "household": gettext_lazy("Phone and commune"),
    "gender": gettext_lazy("Gender"),
    "doses": gettext_lazy("Doses"),
}

# What each level the engine stores means, per comparison ("else": the values differ).
EVIDENCE_WORDS: dict[tuple[str, str], Any] = {
    ("surname", "null"): gettext_lazy("a name is missing"),
    ("surname", "same"): gettext_lazy("same family name"),
    ("surname", "one_edit"): gettext_lazy("family names one letter apart"),
    ("surname", "else"): gettext_lazy("family names differ"),
    ("given_names", "null"): gettext_lazy("a name is missing"),
    ("given_names", "exact"): gettext_lazy("same full name"),
    ("given_names", "diacritics"): gettext_lazy("names differ only in diacritics"),
    ("given_names", "one_edit"): gettext_lazy("names one letter apart or two letters swapped"),
    ("given_names", "middle_dropped"): gettext_lazy("same given name, middle name dropped"),
    ("given_names", "middle_differs"): gettext_lazy("same given name, other middle name"),
    ("given_names", "else"): gettext_lazy("given names differ"),
    ("birth_date", "null"): gettext_lazy("a birth date is missing"),
    ("birth_date", "exact"): gettext_lazy("same birth date"),
    ("birth_date", "swapped"): gettext_lazy("birth day and month swapped"),
    ("birth_date", "one_digit"): gettext_lazy("birth dates one digit or one day apart"),
    ("birth_date", "year_only"): gettext_lazy("same birth year, one record has only the year"),
    ("birth_date", "same_year"): gettext_lazy("same birth year only"),
    ("birth_date", "else"): gettext_lazy("birth dates differ"),
    ("id_number", "null"): gettext_lazy("an ID number is missing"),
    ("id_number", "same"): gettext_lazy("same CCCD"),
    ("id_number", "kinds_differ"): gettext_lazy("a CCCD beside an old CMND"),
    ("id_number", "leading_zeros"): gettext_lazy("same ID without its leading zeros"),
    ("id_number", "one_digit"): gettext_lazy("ID numbers one digit apart or two digits swapped"),
    ("id_number", "else"): gettext_lazy("ID numbers differ"),
    ("household", "null"): gettext_lazy("no phone or commune to compare"),
    ("household", "phone_and_commune"): gettext_lazy("same household phone and commune"),
    ("household", "phone"): gettext_lazy("same household phone"),
    ("household", "commune"): gettext_lazy("same commune"),
    ("household", "else"): gettext_lazy("other phone and commune"),
    ("gender", "null"): gettext_lazy("a gender is missing"),
    ("gender", "same"): gettext_lazy("same gender"),
    ("gender", "else"): gettext_lazy("genders differ"),
    ("doses", "null"): gettext_lazy("a record has no numbered dose"),
    ("doses", "follow_on_same_vaccine"): gettext_lazy(
        "one record's doses continue the other's with the same vaccine at the usual interval"
    ),
    ("doses", "follow_on_interval"): gettext_lazy(
        "one record's doses continue the other's at the usual interval"
    ),
    ("doses", "follow_on"): gettext_lazy("one record's doses continue the other's"),
    ("doses", "apart"): gettext_lazy("no dose number in both, dates out of order"),
    ("doses", "else"): gettext_lazy("both records hold a dose of the same number"),
}


@dataclass(frozen=True)
class EvidenceRow:
    """One comparison of a pair: what it compares, the level in words, and its weight (log2 of how much
    more often the level is seen between records of one person than between two people)."""

    comparison: str
    level: str
    name: str
    words: str
    weight: float | None

    @property
    def for_the_pair(self) -> bool | None:
        """Whether the comparison speaks for one person (None: neither way). Without a weight, any level
        but a missing value or a difference does."""
        if self.weight is None:
            return None if self.level == "null" else self.level != "else"
        return None if abs(self.weight) < 0.05 else self.weight > 0


def _engine_words(comparison: str, level: str) -> str:
    for c in COMPARISONS:
        if c.name == comparison:
            for lv in c.levels:
                if lv.key == level:
                    return in_language(lv.words_vi, lv.words_en)
    return level


def evidence_words(comparison: str, level: str) -> str:
    """The level in the reader's language (the engine's own words for a level this page does not know)."""
    words = EVIDENCE_WORDS.get((comparison, level))
    return str(words) if words is not None else _engine_words(comparison, level)


@cache
def _model_weights() -> dict[tuple[str, str], float]:
    """(comparison, level) → the stored model's weight, log2(m/u), for pairs stored without their own."""
    weights: dict[tuple[str, str], float] = {}
    for comparison in model_load().get("comparisons", []):
        name = comparison.get("output_column_name", "")
        for level in comparison.get("comparison_levels", []):
            key = "null" if level.get("is_null_level") else level.get("label_for_charts", "")
            m, u = level.get("m_probability"), level.get("u_probability")
            if key == "null":
                weights[(name, key)] = 0.0
            elif m and u:
                weights[(name, key)] = math.log2(m / u)
    return weights


def evidence_rows(pair: SuspectedPair) -> list[EvidenceRow]:
    """Each comparison of the pair in words, strongest evidence first."""
    evidence = pair.evidence or {}
    levels: Mapping[str, str] = evidence.get("levels") or {}
    stored: Mapping[str, float] = evidence.get("weights") or {}
    model = _model_weights()
    rows = []
    for c in COMPARISONS:
        level = levels.get(c.name)
        if level is None:
            continue
        weight = stored.get(c.name, model.get((c.name, level)))
        rows.append(
            EvidenceRow(
                comparison=c.name,
                level=level,
                name=str(COMPARISON_NAMES.get(c.name, c.name)),
                words=evidence_words(c.name, level),
                weight=round(weight, 2) if weight is not None else None,
            )
        )
    rows.sort(key=lambda r: -(r.weight if r.weight is not None else math.inf if r.for_the_pair else 0.0))
    return rows


def evidence_summary(pair: SuspectedPair, *, limit: int = 3) -> list[str]:
    """The strongest reasons for the pair, in words, for the queue's rows."""
    return [r.words for r in evidence_rows(pair) if r.for_the_pair][:limit]


# -- the queue ------------------------------------------------------------------------------------------------

BANDS: dict[str, tuple[float, float]] = {
    "very_high": (0.99, 1.01),
    "high": (0.95, 0.99),
    "review": (0.0, 0.95),
}
BAND_LABELS: dict[str, Any] = {
    "very_high": gettext_lazy("99% and above"),
    "high": gettext_lazy("95% to 99%"),
    "review": gettext_lazy("below 95%"),
}
STATE_LABELS: dict[str, Any] = {
    PairState.OPEN: pgettext_lazy("duplicate pair", "to review"),
    PairState.MERGED: pgettext_lazy("duplicate pair", "merged"),
    PairState.NOT_SAME: pgettext_lazy("duplicate pair", "not the same person"),
    PairState.SKIPPED: pgettext_lazy("duplicate pair", "skipped"),
}


def state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


@dataclass(frozen=True)
class PairFilter:
    band: str = ""  # a key of BANDS, or "" for every probability
    commune: str = ""  # a commune code: pairs with a person living there
    state: str = PairState.OPEN  # a PairState, or "" for every state
    same_id: bool = False  # only pairs whose ID numbers are the same


def pairs_for_user(*, user: Any) -> QuerySet[SuspectedPair]:
    """The pairs whose two persons the user may both read."""
    jurisdiction = jurisdiction_of(user)
    if jurisdiction.scope is Scope.NOTHING:
        return SuspectedPair.objects.none()
    pairs = SuspectedPair.objects.all()
    if not jurisdiction.reads_everything:
        pairs = pairs.filter(jurisdiction.person_q(prefix="person_a__")).filter(
            jurisdiction.person_q(prefix="person_b__")
        )
    return pairs


def pair_queue(*, user: Any, filters: PairFilter) -> QuerySet[SuspectedPair]:
    """The queue: the user's pairs as filtered, most probable first."""
    pairs = pairs_for_user(user=user)
    if filters.state:
        pairs = pairs.filter(state=filters.state)
    if filters.state == PairState.OPEN:
        # A record merged since the pair was scored is reviewed through its survivor.
        pairs = pairs.filter(person_a__merged_into__isnull=True, person_b__merged_into__isnull=True)
    if filters.band in BANDS:
        low, high = BANDS[filters.band]
        pairs = pairs.filter(probability__gte=low, probability__lt=high)
    if filters.commune:
        pairs = pairs.filter(
            Q(person_a__commune_id=filters.commune) | Q(person_b__commune_id=filters.commune)
        )
    if filters.same_id:
        pairs = pairs.filter(evidence__levels__id_number="same")
    return pairs.select_related("person_a__commune", "person_b__commune").order_by("-probability", "pk")


@dataclass(frozen=True)
class QueueRow:
    pair: SuspectedPair
    reasons: list[str]
    state: str


def pair_queue_page(*, user: Any, filters: PairFilter, page_number: Any) -> tuple[Page, list[QueueRow]]:
    """One page of the queue: two queries (the count, then the pairs with both persons and communes)."""
    page = Paginator(pair_queue(user=user, filters=filters), QUEUE_PAGE_SIZE).get_page(page_number)
    rows = [QueueRow(pair=p, reasons=evidence_summary(p), state=state_label(p.state)) for p in page]
    return page, rows


def queue_communes(*, user: Any) -> list[Commune]:
    """The communes of the persons in the user's open pairs: the choices of the commune filter."""
    pairs = pairs_for_user(user=user).filter(state=PairState.OPEN)
    return list(
        Commune.objects.filter(
            Q(pk__in=pairs.values("person_a__commune_id")) | Q(pk__in=pairs.values("person_b__commune_id"))
        )
        .select_related("province")
        .order_by("province_id", "name")
    )


def access_pair_by_id(*, user: Any, pair_id: int) -> SuspectedPair:
    """A pair the user may read (both persons in reach), else 404: outside looks like not existing."""
    pair = (
        pairs_for_user(user=user)
        .select_related("person_a__commune__province", "person_b__commune__province", "decided_by")
        .filter(pk=pair_id)
        .first()
    )
    if pair is None:
        raise Http404(f"pair {pair_id}")
    return pair


def person_has_merges_or_pairs(person: Person) -> bool:
    """Whether the record took part in a merge or has an open suspected pair, in one query."""
    merges = PersonMerge.objects.filter(Q(survivor=person) | Q(merged=person))
    pairs = SuspectedPair.objects.filter(Q(person_a=person) | Q(person_b=person), state=PairState.OPEN)
    found = (
        Person.objects.filter(pk=person.pk)
        .annotate(has_merges=Exists(merges), has_pairs=Exists(pairs))
        .values_list("has_merges", "has_pairs")
        .first()
    )
    return bool(found and any(found))


def open_pairs_of_person(*, user: Any, person: Person) -> list[SuspectedPair]:
    return list(
        pairs_for_user(user=user)
        .filter(Q(person_a=person) | Q(person_b=person), state=PairState.OPEN)
        .order_by("-probability", "pk")[:20]
    )


# -- the default survivor ---------------------------------------------------------------------------------------


def survivor_default(a: Person, b: Person, *, doses: Mapping[int, int] | None = None) -> Person:
    """Which record should survive a merge: a verified one, else the one with a CCCD, else the one with more
    doses, else the older record."""

    def rank(p: Person) -> tuple[bool, bool, int, int]:
        return (
            p.verification_state == VerificationState.VERIFIED,
            p.id_type == IdType.CCCD and bool(p.id_number),
            (doses or {}).get(p.pk, 0),
            -p.pk,
        )

    return a if rank(a) >= rank(b) else b


# -- decisions ---------------------------------------------------------------------------------------------------

MERGE, NOT_SAME, SKIP = "merge", "not_same", "skip"
DECISIONS = (MERGE, NOT_SAME, SKIP)


class ReviewRefusal(PairRefusal):
    code = "pair_refused"


def _pair_open(pair: SuspectedPair) -> None:
    if pair.state != PairState.OPEN:
        raise ReviewRefusal(
            "Cặp hồ sơ này đã được quyết định.", "This pair has already been decided.", status=409
        )


def _reason(reason: str, *, required: bool) -> str:
    text = " ".join((reason or "").split())
    if required and len(text) < 3:
        raise ReviewRefusal("Cần ghi lý do.", "A reason is needed.", field="reason")
    return text[:500]


@transaction.atomic
def pair_merge(
    *,
    user: User,
    pair_id: int,
    survivor_id: int,
    reason: str,
    field_choices: Mapping[str, str] | None = None,
    versions: Mapping[int, int] | None = None,
) -> MergeResult:
    """Same person: merge the pair's other record into ``survivor_id`` (``field_choices`` per field group,
    "survivor" or "merged"; the defaults for the rest) and record the decision on the pair. ``versions``
    (person id → version) are those the user compared; a record changed since is refused (409)."""
    capability_require(user, Capability.MERGE_PERSONS)
    pair = access_pair_by_id(user=user, pair_id=pair_id)
    _pair_open(pair)
    if survivor_id not in (pair.person_a_id, pair.person_b_id):
        raise ReviewRefusal(
            "Hồ sơ giữ lại phải là một trong hai hồ sơ của cặp.",
            "The record kept must be one of the pair's two records.",
            field="survivor",
        )
    survivor, merged = (
        (pair.person_a, pair.person_b) if survivor_id == pair.person_a_id else (pair.person_b, pair.person_a)
    )
    for person in (survivor, merged):
        if versions and person.pk in versions:
            person.version = versions[person.pk]
    # The pair is marked merged by the merge itself (``pairs_follow_merge``).
    return person_merge(
        survivor=survivor,
        merged=merged,
        field_choices=dict(field_choices or {}),
        actor=user,
        reason=_reason(reason, required=True),
    )


def pair_mark(*, user: User, pair_id: int, decision: str, reason: str = "") -> SuspectedPair:
    """Not the same person (a reason needed: it is remembered until one of them changes), or skip."""
    capability_require(user, Capability.MERGE_PERSONS)
    if decision not in (NOT_SAME, SKIP):
        raise ReviewRefusal(
            f"Quyết định không hợp lệ: {decision}", f"Not a decision: {decision}", field="decision"
        )
    pair = access_pair_by_id(user=user, pair_id=pair_id)
    _pair_open(pair)
    state = PairState.NOT_SAME if decision == NOT_SAME else PairState.SKIPPED
    return pair_decide(
        pair_id=pair.pk, state=state, actor=user, reason=_reason(reason, required=decision == NOT_SAME)
    )


def pair_decision_take(
    *,
    user: User,
    pair_id: int,
    decision: str,
    reason: str,
    survivor_id: int | None = None,
    field_choices: Mapping[str, str] | None = None,
    versions: Mapping[int, int] | None = None,
) -> SuspectedPair:
    """One decision on one pair, as the API takes it: merge (default survivor unless named), not the same,
    or skip. Answers the pair as it is afterwards."""
    if decision == MERGE:
        pair = access_pair_by_id(user=user, pair_id=pair_id)
        if survivor_id is None:
            survivor_id = _default_survivor_of(pair).pk
        pair_merge(
            user=user,
            pair_id=pair_id,
            survivor_id=survivor_id,
            reason=reason,
            field_choices=field_choices,
            versions=versions,
        )
    else:
        pair_mark(user=user, pair_id=pair_id, decision=decision, reason=reason)
    return access_pair_by_id(user=user, pair_id=pair_id)


def dose_counts(person_ids: Iterable[int]) -> dict[int, int]:
    counts: dict[int, int] = dict.fromkeys(person_ids, 0)
    for pid in Dose.objects.filter(person_id__in=list(counts)).values_list("person_id", flat=True):
        counts[pid] += 1
    return counts


def _default_survivor_of(pair: SuspectedPair) -> Person:
    ids = [pair.person_a_id, pair.person_b_id]
    return survivor_default(pair.person_a, pair.person_b, doses=dose_counts(ids))


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (pair id, the reason in words)


def pairs_bulk_decide(*, user: User, pair_ids: Iterable[int], decision: str, reason: str) -> BulkResult:
    """The same decision on several pairs: each merge (defaults for the survivor and every field) or each
    "not the same" is its own decision, audited and undoable like one taken on the pair's page; a pair
    refused does not stop the others."""
    capability_require(user, Capability.MERGE_PERSONS)
    if decision not in (MERGE, NOT_SAME):
        raise ReviewRefusal(
            f"Quyết định không hợp lệ: {decision}", f"Not a decision: {decision}", field="decision"
        )
    _reason(reason, required=True)
    ids = sorted(set(pair_ids))[:BULK_MAX]
    result = BulkResult()
    for pair_id in ids:
        try:
            pair_decision_take(user=user, pair_id=pair_id, decision=decision, reason=reason)
        except Http404:
            result.refused.append((pair_id, gettext("not found, or outside your jurisdiction")))
        except Refusal as refusal:
            result.refused.append((pair_id, refusal.message()))
        else:
            result.done.append(pair_id)
    return result


def pairs_follow_merge(merge: PersonMerge, undone: bool) -> None:
    """Registered on the merges (``after_merge_register``): the suspected pair of the two records is decided
    "merged" when they are merged, whoever merged them (review, API, auto-merge), and comes back to the
    queue, audited, when the merge is undone."""
    a, b = sorted((merge.survivor_id, merge.merged_id))
    pair = SuspectedPair.objects.select_for_update().filter(person_a_id=a, person_b_id=b).first()
    if pair is None:
        return
    if not undone:
        if pair.state != PairState.MERGED:
            if pair.state != PairState.OPEN:
                SuspectedPair.objects.filter(pk=pair.pk).update(state=PairState.OPEN)
            pair_decide(pair_id=pair.pk, state=PairState.MERGED, actor=merge.actor, reason=merge.reason[:500])
        return
    if pair.state == PairState.MERGED:
        pair.state, pair.decided_by_id, pair.decided_at = PairState.OPEN, merge.undone_by_id, clock.now()
        pair.decision_reason = merge.undo_reason[:500]
        pair.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
        audit_event_record(
            action=AuditEvent.Action.DUPLICATE_PAIR_DECIDED,
            actor_id=merge.undone_by_id,
            object_type="suspected_pair",
            object_id=str(pair.pk),
            detail={"state": PairState.OPEN, "reason": pair.decision_reason, "undone_merge": merge.pk},
        )
        findings_sync(person_ids=[a, b])
