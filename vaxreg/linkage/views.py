"""The duplicates review pages (issue 20, part 4): the queue, one pair side by side with the evidence in
words, its decisions and the bulk decision; and merges on the person page: a merged record says where it
went, a survivor lists the records merged into it with "Undo merge" for those who may, and a record with
open suspected pairs links to them (a section registered through ``people.hooks``).

Views parse, call one service of ``review`` and render; a refused decision shows the page again with the
reason (``core.pages``), a done one redirects with a message: after a merge, to the survivor's person page.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.core.i18n import in_language
from vaxreg.core.labels import label
from vaxreg.core.pages import form_action
from vaxreg.core.refusals import Refusal
from vaxreg.linkage.forms import BulkForm, MergeForm, NotSameForm, QueueFilterForm, SkipForm, UndoMergeForm
from vaxreg.linkage.merging import (
    FIELD_GROUPS,
    SURVIVOR,
    access_merge_by_id,
    merge_defaults,
    merge_of_merged,
    person_unmerge,
)
from vaxreg.linkage.models import PairState, PersonMerge, SuspectedPair
from vaxreg.linkage.review import (
    NOT_SAME,
    SKIP,
    access_pair_by_id,
    dose_counts,
    evidence_rows,
    open_pairs_of_person,
    pair_mark,
    pair_merge,
    pair_queue_page,
    pairs_bulk_decide,
    person_has_merges_or_pairs,
    queue_communes,
    state_label,
    survivor_default,
)
from vaxreg.people.models import Person
from vaxreg.people.selectors import person_doses, person_history, person_history_rows
from vaxreg.quality.models import Finding, Severity
from vaxreg.verification.web_selectors import code_label

# -- the queue ----------------------------------------------------------------------------------------------------


def _queue_context(request: HttpRequest, bulk_form: BulkForm | None = None) -> dict[str, Any]:
    user = request.user
    form = QueueFilterForm(request.GET or None, communes=queue_communes(user=user))
    filters = form.to_filter()
    page, rows = pair_queue_page(user=user, filters=filters, page_number=request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "rows": rows,
        "querystring": query.urlencode(),
        "here": request.get_full_path(),
        "bulk_form": bulk_form or BulkForm(),
        "selectable": filters.state == PairState.OPEN,
    }


@require_GET
@requires(Capability.MERGE_PERSONS)
def queue_view(request: HttpRequest) -> HttpResponse:
    return render(request, "linkage/queue.html", _queue_context(request))


@require_POST
@requires(Capability.MERGE_PERSONS)
def bulk_view(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    back = reverse("linkage:queue")
    if not form.is_valid():
        messages.error(request, gettext("Tick at least one pair, choose a decision and write a reason."))
        return redirect(back)
    try:
        result = pairs_bulk_decide(
            user=request.user,  # type: ignore[arg-type]
            pair_ids=form.cleaned_data["pair_ids"],
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
        )
    except Refusal as refusal:
        messages.error(request, refusal.message())
        return redirect(back)
    if result.done:
        count = len(result.done)
        messages.success(
            request, ngettext("%(count)s pair decided.", "%(count)s pairs decided.", count) % {"count": count}
        )
    for pair_id, why in result.refused:
        messages.error(request, gettext("Pair #%(pair)s: %(reason)s") % {"pair": pair_id, "reason": why})
    return redirect(back)


# -- one pair -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompareRow:
    group: str
    label: str
    a: str
    b: str

    @property
    def differ(self) -> bool:
        return self.a != self.b


def _commune_text(person: Person) -> str:
    if person.commune_id and person.commune:
        return f"{person.commune.name}, {person.commune.province.short_name}"
    return person.province_id or ""


def _compare_rows(a: Person, b: Person, doses: Mapping[int, int]) -> list[CompareRow]:
    def row(group: str, text: str, value: Callable[[Person], Any]) -> CompareRow:
        return CompareRow(group, text, str(value(a) or "—"), str(value(b) or "—"))

    return [
        row("full_name", gettext("Full name"), lambda p: p.full_name),
        row("birth_date", gettext("Date of birth"), lambda p: p.birth_date_display),
        row("gender", gettext("Gender"), lambda p: label("gender", p.gender) if p.gender else ""),
        row("id_number", gettext("ID type"), lambda p: label("id_type", p.id_type) if p.id_type else ""),
        row("id_number", gettext("ID number"), lambda p: p.id_number_masked),
        row("phone", gettext("Phone"), lambda p: p.phone),
        row("address", gettext("Address"), lambda p: p.address),
        row("commune", gettext("Commune of residence"), _commune_text),
        row("", gettext("Verification"), lambda p: label("verification_state", p.verification_state)),
        row("", gettext("Doses"), lambda p: str(doses.get(p.pk, 0))),
    ]


@dataclass(frozen=True)
class FindingRow:
    code: str
    label: str
    blocking: bool
    message: str


def _findings(person: Person) -> list[FindingRow]:
    return [
        FindingRow(
            f.code,
            code_label(f.code),
            f.severity == Severity.BLOCKING,
            in_language(f.message_vi, f.message_en),
        )
        for f in Finding.objects.filter(person_id=person.pk, is_open=True).order_by("severity", "code", "pk")
    ]


def _sides(pair: SuspectedPair, survivor: Person) -> dict[str, str]:
    """merge_defaults (survivor / merged) as the form's sides ("a" / "b")."""
    a_survives = survivor.pk == pair.person_a_id
    merged = pair.person_b if a_survives else pair.person_a
    defaults = merge_defaults(survivor, merged)
    keep_survivor, keep_merged = ("a", "b") if a_survives else ("b", "a")
    return {g: keep_survivor if defaults.get(g) == SURVIVOR else keep_merged for g in FIELD_GROUPS}


def _pair_page(
    request: HttpRequest,
    pair_id: int,
    *,
    merge_form: MergeForm | None = None,
    not_same_form: NotSameForm | None = None,
    skip_form: SkipForm | None = None,
    status: int = 200,
) -> HttpResponse:
    pair = access_pair_by_id(user=request.user, pair_id=pair_id)
    a, b = pair.person_a, pair.person_b
    doses = dose_counts([a.pk, b.pk])
    can_decide = (
        pair.state == PairState.OPEN
        and a.merged_into_id is None
        and b.merged_into_id is None
        and user_can(request.user, Capability.MERGE_PERSONS)
    )
    if can_decide and merge_form is None:
        survivor = survivor_default(a, b, doses=doses)
        merge_form = MergeForm(
            a=a,
            b=b,
            sides=_sides(pair, survivor),
            initial={"survivor": survivor.pk, "version_a": a.version, "version_b": b.version},
        )
    context = {
        "pair": pair,
        "a": a,
        "b": b,
        "state": state_label(pair.state),
        "evidence": evidence_rows(pair),
        "compare": _compare_rows(a, b, doses),
        "doses_a": person_doses(a),
        "doses_b": person_doses(b),
        "findings_a": _findings(a),
        "findings_b": _findings(b),
        "history_a": person_history_rows(person_history(a, limit=30)),
        "history_b": person_history_rows(person_history(b, limit=30)),
        "can_decide": can_decide,
        "merge_form": merge_form,
        "not_same_form": not_same_form or NotSameForm(),
        "skip_form": skip_form or SkipForm(),
    }
    return render(request, "linkage/pair.html", context, status=status)


@require_GET
@requires(Capability.MERGE_PERSONS)
def pair_view(request: HttpRequest, pair_id: int) -> HttpResponse:
    return _pair_page(request, pair_id)


@require_POST
@requires(Capability.MERGE_PERSONS)
def pair_merge_view(request: HttpRequest, pair_id: int) -> HttpResponse:
    pair = access_pair_by_id(user=request.user, pair_id=pair_id)
    form = MergeForm(request.POST, a=pair.person_a, b=pair.person_b)
    survivor: dict[str, int] = {}

    def act(data: dict[str, Any]) -> str:
        result = pair_merge(
            user=request.user,  # type: ignore[arg-type]
            pair_id=pair.pk,
            survivor_id=data["survivor"],
            field_choices=form.field_choices(),
            versions=form.versions(),
            reason=data["reason"],
        )
        survivor["id"] = result.merge.survivor_id
        return gettext("Record #%(merged)s merged into record #%(survivor)s.") % {
            "merged": result.merge.merged_id,
            "survivor": result.merge.survivor_id,
        }

    return form_action(
        request,
        form,
        act,
        done=lambda: redirect("web:person", survivor["id"]),
        again=lambda status: _pair_page(request, pair_id, merge_form=form, status=status),
    )


def _mark_view(request: HttpRequest, pair_id: int, decision: str) -> HttpResponse:
    form: NotSameForm | SkipForm = (
        NotSameForm(request.POST) if decision == NOT_SAME else SkipForm(request.POST)
    )

    def act(data: dict[str, Any]) -> str:
        pair = pair_mark(user=request.user, pair_id=pair_id, decision=decision, reason=data["reason"])  # type: ignore[arg-type]
        if decision == NOT_SAME:
            return gettext("Pair #%(pair)s marked as two different people.") % {"pair": pair.pk}
        return gettext("Pair #%(pair)s skipped.") % {"pair": pair.pk}

    def again(status: int) -> HttpResponse:
        if decision == NOT_SAME:
            return _pair_page(request, pair_id, not_same_form=form, status=status)  # type: ignore[arg-type]
        return _pair_page(request, pair_id, skip_form=form, status=status)  # type: ignore[arg-type]

    return form_action(request, form, act, done=lambda: redirect("linkage:queue"), again=again)


@require_POST
@requires(Capability.MERGE_PERSONS)
def pair_not_same_view(request: HttpRequest, pair_id: int) -> HttpResponse:
    return _mark_view(request, pair_id, NOT_SAME)


@require_POST
@requires(Capability.MERGE_PERSONS)
def pair_skip_view(request: HttpRequest, pair_id: int) -> HttpResponse:
    return _mark_view(request, pair_id, SKIP)


# -- merges on the person page ------------------------------------------------------------------------------------


def merges_section(request: HttpRequest, person: Person) -> dict[str, Any] | None:
    """The person page's section of merges and suspected pairs (one query, and nothing shown, when the
    record has neither), with the record's current certificate."""
    user: Any = request.user
    if not person_has_merges_or_pairs(person):
        return None
    went = merge_of_merged(person=person) if person.merged_into_id else None
    merges = list(
        PersonMerge.objects.filter(survivor_id=person.pk)
        .select_related("merged", "actor", "undone_by")
        .order_by("-merged_at", "-pk")
    )
    may_review = user_can(user, Capability.MERGE_PERSONS)
    pairs = open_pairs_of_person(user=user, person=person) if may_review else []
    if went is None and not merges and not pairs:
        return None
    return {
        "merged_into": went,
        "merges": merges,
        "open_pairs": pairs,
        "certificates": list(person.certificates.filter(revoked_at__isnull=True).order_by("-issued_at")),
        "may_undo": may_review,
        "undo_form": UndoMergeForm(),
    }


@require_POST
@requires(Capability.MERGE_PERSONS)
def merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    merge = access_merge_by_id(user=request.user, merge_id=merge_id)
    form = UndoMergeForm(request.POST)

    def act(data: dict[str, Any]) -> str:
        # The pair of the two records comes back to the queue with it (review.pairs_follow_merge).
        person_unmerge(merge=merge, actor=request.user, reason=data["reason"])
        return gettext("The merge was undone: both records are as they were before it.")

    return form_action(
        request,
        form,
        act,
        done=lambda: redirect("web:person", person_id=merge.survivor_id),
        again=lambda status: render(
            request, "linkage/merge_undo.html", {"merge": merge, "undo_form": form}, status=status
        ),
    )
