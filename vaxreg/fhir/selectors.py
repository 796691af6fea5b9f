"""Reads for a facility system: the persons it gave a dose to (its jurisdiction) and all their doses.

A record merged into another one (linkage) is never listed: its doses moved to the record it was merged
into, and so did the facility's view of the citizen. Read by its id, it answers where it went, to a token
that reads that record (``patient_get``).
"""

import re

from django.db.models import QuerySet

from vaxreg.fhir.mapping import ID_TYPE_OF_SYSTEM
from vaxreg.fhir.models import ApiToken
from vaxreg.fhir.tokens import token_jurisdiction
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose

MAX_SEARCH_RESULTS = 100
MAX_MERGE_CHAIN = 50  # records merged into records merged into …: a bound, not a limit ever met
_ID_SEPARATORS = re.compile(r"[\s.\-]")


def _persons(token: ApiToken) -> QuerySet[Person]:
    """The live persons the token reads (a merged record is read only through ``patient_get``)."""
    persons = Person.objects.filter(merged_into__isnull=True).select_related("commune", "province")
    return token_jurisdiction(token).persons_visible(persons)


def patients_by_identifier(*, token: ApiToken, system: str | None, value: str) -> list[Person]:
    """``system`` None: any kind of ID number; one of the ID systems of ``mapping``: that kind only; any other
    system: nothing (FHIR search semantics). Spaces, dots and dashes typed into a number are ignored."""
    compact = _ID_SEPARATORS.sub("", value)
    persons = _persons(token).filter(id_number__in={compact, compact.upper()})
    if system is not None:
        id_type = ID_TYPE_OF_SYSTEM.get(system)
        if id_type is None:
            return []
        persons = persons.filter(id_type=id_type)
    return list(persons.order_by("pk")[:MAX_SEARCH_RESULTS])


def patient_get(*, token: ApiToken, person_id: int) -> Person | None:
    """The person if the token's facility may read it; outside and missing look the same (None).

    A record merged into another one comes back (with ``merged_into_id``) when the token reads the live
    record at the end of its merges: the doses that made it the facility's moved there with the merge."""
    person = _persons(token).filter(pk=person_id).first()
    if person is not None:
        return person
    merged = Person.objects.filter(pk=person_id, merged_into__isnull=False).first()
    if merged is None or merged.merged_into_id is None:
        return None
    live: int = merged.merged_into_id
    for _ in range(MAX_MERGE_CHAIN):
        onward = Person.objects.filter(pk=live).values_list("merged_into_id", flat=True).first()
        if onward is None:
            return merged if _persons(token).filter(pk=live).exists() else None
        live = onward
    return None


def patients_replaced(*, person_ids: list[int]) -> dict[int, list[int]]:
    """person id → the ids of the records merged into it, oldest first (its Patient's ``replaces`` links)."""
    replaced: dict[int, list[int]] = {}
    merged = Person.objects.filter(merged_into_id__in=person_ids).order_by("pk")
    for survivor_id, merged_id in merged.values_list("merged_into_id", "pk"):
        replaced.setdefault(survivor_id, []).append(merged_id)
    return replaced


def immunizations_of_patient(*, token: ApiToken, person_id: int) -> list[Dose]:
    """Every dose of a visible person, wherever given (as the facility's staff see them), oldest first."""
    doses = token_jurisdiction(token).doses_visible(
        Dose.objects.filter(person_id=person_id, person__merged_into__isnull=True)
    )
    return list(doses.select_related("vaccine", "facility").order_by("vaccination_date", "dose_number", "pk"))


def immunization_get(*, token: ApiToken, dose_id: int) -> Dose | None:
    doses = token_jurisdiction(token).doses_visible(Dose.objects.filter(pk=dose_id))
    return doses.select_related("vaccine", "facility").first()
