"""Persons: search, record with doses and history (ID numbers masked), and the audited full ID number."""

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from vaxreg.accounts.permissions import Capability, operation_requires
from vaxreg.core.api_schema import QueryIn, RecordId, text_rules
from vaxreg.people.models import Person
from vaxreg.people.selectors import person_doses, person_full_id_number, person_get_for_user, person_history
from vaxreg.people.selectors import person_search as person_search_select
from vaxreg.vaccinations.models import Dose

router = Router(tags=["people"])


class PersonOut(Schema):
    id: int
    full_name: str
    birth_date: str
    gender: str
    id_type: str
    id_number_masked: str
    phone: str
    commune_code: str | None
    province_code: str | None
    verification_state: str

    @staticmethod
    def of(person: Person) -> "PersonOut":
        return PersonOut(
            id=person.pk,
            full_name=person.full_name,
            birth_date=person.birth_date_display,
            gender=person.gender,
            id_type=person.id_type,
            id_number_masked=person.id_number_masked,
            phone=person.phone,
            commune_code=person.commune_id,
            province_code=person.province_id,
            verification_state=person.verification_state,
        )


class DoseOut(Schema):
    id: int
    vaccination_date: dt.date
    dose_number: int | None
    vaccine_code: str | None
    vaccine_name: str
    lot_number: str
    facility_code: str
    facility_name: str
    status: str
    signed_off: bool

    @staticmethod
    def of(dose: Dose) -> "DoseOut":
        return DoseOut(
            id=dose.pk,
            vaccination_date=dose.vaccination_date,
            dose_number=dose.dose_number,
            vaccine_code=dose.vaccine_id,
            vaccine_name=dose.vaccine.name if dose.vaccine else dose.vaccine_raw,
            lot_number=dose.lot_number,
            facility_code=dose.facility.code,
            facility_name=dose.facility.name,
            status=dose.status,
            signed_off=dose.signed_off,
        )


class ChangeOut(Schema):
    entity: str
    entity_id: int
    field: str
    old_value: str | None
    new_value: str | None
    actor: str | None
    at: dt.datetime
    reason: str
    source_type: str
    source_id: str


class PersonDetailOut(PersonOut):
    doses: list[DoseOut]
    history: list[ChangeOut]


class IdNumberOut(Schema):
    id: int
    id_type: str
    id_number: str


class SearchIn(QueryIn):
    q: Annotated[str, text_rules(200)]
    limit: Annotated[int, Field(ge=1, le=200)] = 50


@router.get("", response=list[PersonOut], summary="Search persons by name, ID number or phone")
@operation_requires(Capability.PERSON_READ)
def person_search(request: HttpRequest, params: Query[SearchIn]) -> list[PersonOut]:
    persons = person_search_select(user=request.user, q=params.q, limit=params.limit)
    return [PersonOut.of(p) for p in persons]


@router.get(
    "/{int:person_id}", response=PersonDetailOut, summary="A person with doses and history (ID masked)"
)
@operation_requires(Capability.PERSON_READ)
def person_detail(request: HttpRequest, person_id: RecordId) -> PersonDetailOut:
    person = person_get_for_user(user=request.user, person_id=person_id)
    history = [
        ChangeOut(
            entity=c.entity,
            entity_id=c.entity_id,
            field=c.field,
            old_value=c.old_value,
            new_value=c.new_value,
            actor=c.actor.username if c.actor else None,
            at=c.at,
            reason=c.reason,
            source_type=c.source_type,
            source_id=c.source_id,
        )
        for c in person_history(person)
    ]
    base = PersonOut.of(person).model_dump()
    return PersonDetailOut(**base, doses=[DoseOut.of(d) for d in person_doses(person)], history=history)


@router.get(
    "/{int:person_id}/id-number", response=IdNumberOut, summary="The full ID number (every read is audited)"
)
@operation_requires(Capability.PERSON_FULL_ID_READ)
def person_id_number(request: HttpRequest, person_id: RecordId) -> IdNumberOut:
    person, number = person_full_id_number(user=request.user, person_id=person_id)
    return IdNumberOut(id=person.pk, id_type=person.id_type, id_number=number)
