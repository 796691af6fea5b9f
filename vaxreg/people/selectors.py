"""Reads of persons, always through the reader's jurisdiction."""

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from vaxreg.core.cccd import cccd_birth_year_mismatch, cccd_gender_mismatch, decode_cccd
from vaxreg.core.history import audit_event_record
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.core.labels import history_value, label
from vaxreg.core.models import AuditEvent, ChangeRecord
from vaxreg.core.pages import HistoryRow
from vaxreg.core.phones import normalize_phone
from vaxreg.core.text import fold, normalize_text
from vaxreg.core.touched import BaseUnits, UnitCount
from vaxreg.people.models import IdType, Person, VerificationState, mask_id_number
from vaxreg.vaccinations.models import Dose

PERSON_ENTITY = "person"
DOSE_ENTITY = "dose"
MASKED_FIELDS = {"id_number"}

_ID_CHARS = re.compile(r"[\s.\-]")
_LETTERS = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class HistoryEntry:
    """One changed field as shown to a reader: ID numbers masked (the full one is read only through the
    audited ``person_full_id_number``)."""

    entity: str
    entity_id: int
    field: str
    old_value: str | None
    new_value: str | None
    actor: Any
    at: dt.datetime
    reason: str
    source_type: str
    source_id: str

    @classmethod
    def of(cls, record: ChangeRecord) -> "HistoryEntry":
        masked = record.field in MASKED_FIELDS
        return cls(
            entity=record.entity,
            entity_id=record.entity_id,
            field=record.field,
            old_value=mask_id_number(record.old_value or "") if masked else record.old_value,
            new_value=mask_id_number(record.new_value or "") if masked else record.new_value,
            actor=record.actor,
            at=record.at,
            reason=record.reason,
            source_type=record.source_type,
            source_id=record.source_id,
        )


class PersonNotVisible(Http404):
    """The person does not exist or lies outside the reader's jurisdiction: both look the same."""


def phone_search_key(text: str) -> str:
    """A typed phone number in the stored form "0xxxxxxxxx", or "" when it cannot be one."""
    national, valid = normalize_phone(text)
    return national if valid else ""


def persons_for_user(*, user: Any) -> QuerySet[Person]:
    return jurisdiction_of(user).persons_visible(Person.objects.all())


def _prefix_range(key: str) -> Q:
    """``name_key`` starts with ``key``, written as a range the b-tree index can serve under any collation
    (PostgreSQL uses an index for ``LIKE 'x%'`` only under the "C" collation)."""
    upper = key[:-1] + chr(ord(key[-1]) + 1)
    return Q(name_key__gte=key, name_key__lt=upper, name_key__startswith=key)


def person_search(*, user: Any, q: str, limit: int = 50) -> list[Person]:
    """Persons whose full ID number or phone number is ``q`` exactly, then those whose name (with or without
    diacritics) starts with ``q``, then those with a later name word starting with ``q``; only inside the
    user's jurisdiction.

    Each kind of match is its own query so that each can use its index; the word match has no index (it
    scans) and runs only when the others leave room under ``limit``.
    """
    text = normalize_text(q)
    if not text:
        return []
    # A record merged into another one is found through its survivor only.
    scoped = (
        persons_for_user(user=user).filter(merged_into__isnull=True).select_related("commune", "province")
    )
    queries: list[QuerySet[Person]] = []
    if any(ch.isdigit() for ch in text):
        compact = _ID_CHARS.sub("", text)
        exact = Q(id_number__in={compact, compact.upper()})
        phone = phone_search_key(text)
        if phone:
            exact |= Q(phone=phone)
        queries.append(scoped.filter(exact).order_by("name_key", "pk"))
    if _LETTERS.search(text):
        key = fold(text)
        queries.append(scoped.filter(_prefix_range(key)).order_by("name_key", "pk"))
        # Unordered: ordering would tempt the planner into walking the whole name index for a rare word.
        queries.append(scoped.filter(name_key__contains=f" {key}").order_by())
    found: dict[int, Person] = {}
    for queryset in queries:
        if len(found) >= limit:
            break
        batch = sorted(queryset[:limit], key=lambda p: (p.name_key, p.pk))
        for person in batch:
            found.setdefault(person.pk, person)
    return list(found.values())[:limit]


def person_get_for_user(*, user: Any, person_id: int) -> Person:
    """The person if the user may read it (access_person_by_id); otherwise ``PersonNotVisible``."""
    person = (
        persons_for_user(user=user)
        .select_related("commune__province", "province", "created_batch")
        .filter(pk=person_id)
        .first()
    )
    if person is None:
        raise PersonNotVisible(f"person {person_id}")
    return person


def person_doses(person: Person) -> list[Dose]:
    """All doses of a person the reader may see, in the order they were given."""
    return list(
        Dose.objects.filter(person=person)
        .select_related("vaccine", "facility")
        .order_by("vaccination_date", "dose_number", "pk")
    )


def person_history(person: Person, *, limit: int = 500) -> list[HistoryEntry]:
    """Every recorded change of the person and its doses, newest first."""
    dose_ids = Dose.objects.filter(person=person).values("pk")
    records = (
        ChangeRecord.objects.filter(
            Q(entity=PERSON_ENTITY, entity_id=person.pk) | Q(entity=DOSE_ENTITY, entity_id__in=dose_ids)
        )
        .select_related("actor")
        .order_by("-at", "-pk")[:limit]
    )
    return [HistoryEntry.of(record) for record in records]


def person_history_rows(entries: Iterable[HistoryEntry]) -> list[HistoryRow]:
    """History entries as the history table shows them (``web/kit/history_table.html``), on the person page
    and the case page alike: field names, coded values and sources in the reader's language."""
    return [
        HistoryRow(
            at=e.at,
            record=label("entity", e.entity) + (f" #{e.entity_id}" if e.entity == DOSE_ENTITY else ""),
            field=label("field", e.field),
            old_value=history_value(e.field, e.old_value),
            new_value=history_value(e.field, e.new_value),
            actor=e.actor,
            reason=e.reason,
            source=f"{label('source_type', e.source_type)} {e.source_id or ''}".strip(),
        )
        for e in entries
    ]


def person_full_id_number(*, user: Any, person_id: int) -> tuple[Person, str]:
    """The unmasked ID number; a read that is always written to the audit log (SPEC §2)."""
    person = person_get_for_user(user=user, person_id=person_id)
    return person, person_full_id_read(user=user, person=person)


def person_full_id_read(*, user: Any, person: Person, via: dict[str, Any] | None = None) -> str:
    """The unmasked ID number of a person the caller has already found the user may read (through its own
    scoped selector, e.g. a verification case); the read is always written to the audit log, with ``via``
    saying through what the person was reached. Every full-ID read of a person comes through here."""
    audit_event_record(
        action=AuditEvent.Action.FULL_ID_READ,
        actor_id=user.pk,
        object_type=PERSON_ENTITY,
        object_id=str(person.pk),
        detail={"id_type": person.id_type, **(via or {})},
    )
    return person.id_number


def person_cccd_consistent(person: Person) -> bool:
    """The record holds a CCCD that decodes and agrees with its gender and birth year: the identity a
    certificate may be issued on without a police check, and the values a merge keeps by default."""
    number = person.id_number
    return (
        person.id_type == IdType.CCCD
        and decode_cccd(number) is not None
        and not cccd_gender_mismatch(number, person.gender)
        and not cccd_birth_year_mismatch(number, person.birth_year)
    )


def person_figures(units: BaseUnits) -> Iterator[UnitCount]:
    """Per commune of residence (else province, else nation): the persons (records merged into another
    not counted), and those verified (police-matched or confirmed). One grouped query."""
    grouped = (
        Person.objects.filter(units.placed_q("commune_id", "province_id"), merged_into__isnull=True)
        .values("commune_id", "province_id")
        .annotate(
            persons=Count("pk"),
            verified=Count("pk", filter=Q(verification_state=VerificationState.VERIFIED)),
        )
        .order_by()
    )
    for g in grouped:
        yield g["commune_id"], g["province_id"], "persons", "", g["persons"]
        yield g["commune_id"], g["province_id"], "verified", "", g["verified"]


def person_places(person_ids: Iterable[int]) -> set[tuple[str | None, str | None]]:
    """The (commune, province) pairs these persons live in: the units a change of theirs recounts."""
    ids = sorted(set(person_ids))
    places: set[tuple[str | None, str | None]] = set()
    for start in range(0, len(ids), 2000):
        part = Person.objects.filter(pk__in=ids[start : start + 2000])
        places.update(part.values_list("commune_id", "province_id").distinct().order_by())
    return places
