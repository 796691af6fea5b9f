"""Merges on the person page: a merged record says where it went, a survivor lists the records merged into
it with "Undo merge" for those who may. The section is registered on the person page through
``people.hooks``; the undo is an action form (``core.pages.form_action``)."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vaxreg.accounts.permissions import Capability, requires, user_can
from vaxreg.core.pages import form_action
from vaxreg.linkage.forms import UndoMergeForm
from vaxreg.linkage.merging import access_merge_by_id, merge_of_merged, person_unmerge
from vaxreg.linkage.models import PersonMerge
from vaxreg.people.models import Person


def merges_section(request: HttpRequest, person: Person) -> dict[str, Any] | None:
    """The person page's section of merges (nothing when the record was never merged)."""
    went = merge_of_merged(person=person) if person.merged_into_id else None
    merges = list(
        PersonMerge.objects.filter(survivor_id=person.pk)
        .select_related("merged", "actor", "undone_by")
        .order_by("-merged_at", "-pk")
    )
    if went is None and not merges:
        return None
    return {
        "merged_into": went,
        "merges": merges,
        "may_undo": user_can(request.user, Capability.MERGE_PERSONS),
        "undo_form": UndoMergeForm(),
    }


@require_POST
@requires(Capability.MERGE_PERSONS)
def merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    merge = access_merge_by_id(user=request.user, merge_id=merge_id)
    form = UndoMergeForm(request.POST)

    def act(data: dict[str, Any]) -> str:
        person_unmerge(merge=merge, actor=request.user, reason=data["reason"])
        return _("The merge was undone: both records are as they were before it.")

    return form_action(
        request,
        form,
        act,
        done=lambda: redirect("web:person", person_id=merge.survivor_id),
        again=lambda status: render(
            request, "linkage/merge_undo.html", {"merge": merge, "undo_form": form}, status=status
        ),
    )
