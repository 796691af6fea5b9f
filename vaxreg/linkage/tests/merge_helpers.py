"""What the merge tests build on: a second record of a world person, complaints, and a full dump of rows."""

import datetime as dt
from typing import Any

from vaxreg.certificates.models import Certificate
from vaxreg.complaints.models import Complaint
from vaxreg.core import clock
from vaxreg.linkage.merging import ROW_KINDS
from vaxreg.people.models import Person
from vaxreg.places.models import Commune

_counter = {"n": 0}


def complaint_make(person: Person, *, commune: Commune | None = None) -> Complaint:
    _counter["n"] += 1
    now = clock.now()
    return Complaint.objects.create(
        tracking_code=f"T-{person.pk}-{_counter['n']}",
        category=3,
        full_name=person.full_name,
        phone=person.phone or "0912000000",
        person=person,
        province_id=person.province_id,
        commune=commune,
        handler_province_id=person.province_id or "01",
        received_at=now,
        due_at=now + dt.timedelta(hours=48),
    )


# Columns an undo does not put back: the record's own clock and lock counter move on with every change, and
# a revoked certificate stays revoked (it is on the published list); the undo re-issues instead.
UNRESTORED = {
    "person": {"updated_at", "version"},
    "verification_case": {"updated_at", "version"},
    "certificate": {"revoked_at", "revoked_reason", "replaced_by_id"},
}


def _row(obj: Any, kind: str) -> dict[str, Any]:
    skip = UNRESTORED.get(kind, set())
    return {
        f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields if f.attname not in skip
    }


def full_dump(person_ids: list[int]) -> dict[str, dict[int, dict[str, Any]]]:
    """Every row of these persons and every row that points to them, column by column."""
    dump: dict[str, dict[int, dict[str, Any]]] = {
        "person": {p.pk: _row(p, "person") for p in Person.objects.filter(pk__in=person_ids)}
    }
    for kind, (model, _columns) in ROW_KINDS.items():
        dump[kind] = {
            obj.pk: _row(obj, kind) for obj in model._default_manager.filter(person_id__in=person_ids)
        }
    return dump


def current_certificate_holders(person_ids: list[int]) -> set[int]:
    return set(
        Certificate.objects.filter(person_id__in=person_ids, revoked_at__isnull=True).values_list(
            "person_id", flat=True
        )
    )
