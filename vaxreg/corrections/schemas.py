"""The corrections a client may send through the API, as input schemas: one optional member per field a
correction may change, each with the values the record can hold, and nothing else.

The correction service checks the same again (and what a schema cannot say: a birth date that exists, a
commune or vaccine that is in the lists); these schemas let the OpenAPI document say the rest exactly.
"""

from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints, model_validator

from vaxreg.core.api_schema import IsoDate, JsonNumber, OneOf, text_rules
from vaxreg.people.models import Gender, IdType
from vaxreg.vaccinations.fields import DOSE_NUMBERS, MAX_DOSE_NUMBER, MIN_BIRTH_YEAR
from vaxreg.vaccinations.models import DoseStatus

BirthYear = Annotated[int, Field(ge=MIN_BIRTH_YEAR, le=9999), JsonNumber]
BirthMonth = Annotated[int, Field(ge=1, le=12), JsonNumber]
BirthDay = Annotated[int, Field(ge=1, le=31), JsonNumber]
DoseNumber = Annotated[
    int, Field(ge=min(DOSE_NUMBERS), le=MAX_DOSE_NUMBER), JsonNumber
]  # 1, 2 primary; 3, 4 boosters (SPEC §3)
CommuneCode = Annotated[str, StringConstraints(pattern=r"^(\d{5})?$")]  # a 2025 commune, or "" for none
GenderIn = Annotated[str, OneOf(Gender.values)]


def _schema_of_changes(schema: dict[str, Any]) -> None:
    # A field left out stays as it is: the defaults below are placeholders, not values anyone sends.
    for member in schema.get("properties", {}).values():
        member.pop("default", None)
    schema["minProperties"] = 1


class _Changes(Schema):
    """At least one field, and only known ones: a misspelt field is refused rather than ignored."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_schema_of_changes)

    @model_validator(mode="after")
    def _something_changes(self) -> Any:
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self

    def as_changes(self) -> dict[str, Any]:
        """The fields the client named, as the correction service takes them."""
        return self.model_dump(exclude_unset=True)


class IdentityIn(Schema):
    """Who a person is: what the police verify, and what a correction of the person may change too."""

    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[str, text_rules(200)] = ""
    birth_year: BirthYear | None = None
    birth_month: BirthMonth | None = None
    birth_day: BirthDay | None = None
    gender: GenderIn = ""
    id_number: Annotated[str, text_rules(32)] = ""


class PersonChangesIn(_Changes, IdentityIn):
    id_type: Annotated[str, OneOf(IdType.values)] = ""
    phone: Annotated[str, text_rules(32)] = ""
    address: Annotated[str, text_rules(300)] = ""
    commune_id: CommuneCode | None = None


class DoseChangesIn(_Changes):
    vaccine_id: Annotated[str, text_rules(32)] | None = None
    lot_number: Annotated[str, text_rules(64)] = ""
    vaccination_date: IsoDate = None  # type: ignore[assignment]  # required once named: a dose has a date
    dose_number: DoseNumber | None = None
    status: Annotated[str, OneOf(DoseStatus.values)] = DoseStatus.VALID
