"""Reads for a facility system: the persons it gave a dose to (its jurisdiction) and all their doses."""

import re

from django.db.models import QuerySet

from vaxreg.fhir.mapping import ID_TYPE_OF_SYSTEM
from vaxreg.fhir.models import ApiToken
from vaxreg.fhir.tokens import token_jurisdiction
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose

MAX_SEARCH_RESULTS = 100
_ID_SEPARATORS = re.compile(r"[\s.\-]")


def _persons(token: ApiToken) -> QuerySet[Person]:
    return token_jurisdiction(token).persons_visible(Person.objects.select_related("commune", "province"))


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
    """The person if the token's facility may read it; outside and missing look the same (None)."""
    return _persons(token).filter(pk=person_id).first()


def immunizations_of_patient(*, token: ApiToken, person_id: int) -> list[Dose]:
    """Every dose of a visible person, wherever given (as the facility's staff see them), oldest first."""
    doses = token_jurisdiction(token).doses_visible(Dose.objects.filter(person_id=person_id))
    return list(doses.select_related("vaccine", "facility").order_by("vaccination_date", "dose_number", "pk"))


def immunization_get(*, token: ApiToken, dose_id: int) -> Dose | None:
    doses = token_jurisdiction(token).doses_visible(Dose.objects.filter(pk=dose_id))
    return doses.select_related("vaccine", "facility").first()
