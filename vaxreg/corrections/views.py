"""The changes awaiting a second step, on the person page: the commune health station confirms (after
checking the papers) or refuses a change of the phone on record, ID number or commune; the user who asked
for it may withdraw it. The section is registered on the person page through ``people.hooks``."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vaxreg.accounts.permissions import Capability, requires
from vaxreg.core.pages import refusal_message
from vaxreg.core.refusals import Refusal
from vaxreg.corrections.models import AccessChange, AccessChangeConfirmer
from vaxreg.corrections.selectors import (
    AccessChangeValue,
    access_change_values,
    access_changes_pending_of_person,
)
from vaxreg.corrections.services import (
    access_change_cancel,
    access_change_confirm,
    access_change_station_may_decide,
)
from vaxreg.people.models import Person
from vaxreg.people.selectors import person_get_for_user


@dataclass(frozen=True)
class AccessChangeRow:
    change: AccessChange
    values: list[AccessChangeValue]
    asked_by_me: bool


def access_changes_section(request: HttpRequest, person: Person) -> dict[str, Any] | None:
    """The person page's section of pending changes (nothing when none waits)."""
    user: Any = request.user
    rows = [
        AccessChangeRow(
            change=change,
            values=access_change_values(change, mask_phone=False),
            asked_by_me=change.requested_by_id == user.pk,
        )
        for change in access_changes_pending_of_person(person_id=person.pk)
    ]
    if not rows:
        return None
    return {
        "access_changes": rows,
        "station_may_decide": access_change_station_may_decide(user=user, person_id=person.pk),
    }


@require_POST
@requires(Capability.PERSON_READ)
def person_access_change(request: HttpRequest, person_id: int, change_id: int) -> HttpResponse:
    person = person_get_for_user(user=request.user, person_id=person_id)
    if not access_changes_pending_of_person(person_id=person.pk).filter(pk=change_id).exists():
        raise Http404(f"access change {change_id}")
    note = request.POST.get("note", "")
    confirm = request.POST.get("decision") == "confirm"
    try:
        if confirm:
            access_change_confirm(
                change_id=change_id, how=AccessChangeConfirmer.STATION, actor=request.user, note=note
            )
        else:
            access_change_cancel(change_id=change_id, actor=request.user, note=note)
    except Refusal as refusal:
        refusal_message(request, refusal)
    else:
        messages.success(request, _("The change was applied.") if confirm else _("The change was dropped."))
    return redirect("web:person", person_id=person.pk)
