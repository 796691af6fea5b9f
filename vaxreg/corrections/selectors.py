"""Reads of the access-field changes that wait for a second step. The callers have already read the person
(or the complaint) through their own scoped selector; these only list what concerns it."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import pgettext_lazy

from vaxreg.core import clock
from vaxreg.core.models import SourceType
from vaxreg.corrections.models import AccessChange, AccessChangeState
from vaxreg.people.models import mask_id_number
from vaxreg.places.models import Commune

# As they stand inside a sentence (lower case): the pages, the closure's outcome and the citizen's SMS.
ACCESS_FIELD_NAMES = {
    "phone": pgettext_lazy("access field", "phone number"),
    "id_type": pgettext_lazy("access field", "ID type"),
    "id_number": pgettext_lazy("access field", "ID number"),
    "commune_id": pgettext_lazy("access field", "commune of residence"),
}


@dataclass(frozen=True)
class AccessChangeValue:
    field: str
    name: str  # in the active language
    shown: str  # the new value as the reader may see it


def access_change_values(change: AccessChange, *, mask_phone: bool) -> list[AccessChangeValue]:
    """What a change would set, field by field: ID numbers masked like every list, the commune by its name,
    the phone masked too for a reader who is not staff (``mask_phone``)."""

    def shown(field: str, value: Any) -> str:
        if not value:
            return "—"
        if field == "commune_id":
            return Commune.objects.filter(pk=value).values_list("name", flat=True).first() or str(value)
        if field == "id_number" or (field == "phone" and mask_phone):
            return mask_id_number(str(value))
        return str(value)

    return [
        AccessChangeValue(field, str(ACCESS_FIELD_NAMES[field]), shown(field, value))
        for field, value in change.changes.items()
        if field != "id_type"
    ]


def access_changes_pending_of_person(*, person_id: int) -> QuerySet[AccessChange]:
    return AccessChange.objects.filter(
        person_id=person_id, state=AccessChangeState.PENDING, expires_at__gt=clock.now()
    ).order_by("requested_at", "pk")


def access_changes_of_source(*, source_type: SourceType, source_id: str) -> QuerySet[AccessChange]:
    """Every change asked from one source (a complaint's tracking code), whatever became of it."""
    return AccessChange.objects.filter(source_type=source_type, source_id=source_id).order_by(
        "requested_at", "pk"
    )
