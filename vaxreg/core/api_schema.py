"""What every router of the JSON API shares: the one error body, and the input types its schemas use.

Every error is ``{code, message_vi, message_en, field}``: a stable code for programs, the message in
Vietnamese and English for people, and the input to fix when one is to blame. An invalid request adds
``detail`` (each invalid input), a record someone else changed adds ``current`` (what is stored now).

The input types say in the OpenAPI document exactly what the server accepts, no more and no less: a JSON
body's numbers are JSON numbers (``"2"`` or ``true`` is not a dose number), dates are ``YYYY-MM-DD`` text, ids
fit the database's integers, and text has a length limit and no NUL character (PostgreSQL cannot store one).
It lives in core so that the apps' routers and the API root share it without importing upwards.
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import core_schema


class ErrorOut(Schema):
    code: str
    message_vi: str
    message_en: str
    field: str = ""
    detail: list[dict[str, Any]] | None = None
    current: dict[str, Any] | None = None


class QueryIn(Schema):
    """The parameters of a query string (``Query[...]``): a parameter the operation does not have is refused
    (422, naming it) rather than ignored, so that a misspelt filter never answers as if there were none."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_other_parameters(cls, data: Any, info: ValidationInfo) -> Any:
        # ninja hands the model only the parameters it knows: the others are taken from the request itself,
        # for extra="forbid" to name them.
        request = (info.context or {}).get("request")
        if request is None or not isinstance(data, dict):
            return data
        return {**{name: request.GET[name] for name in request.GET if name not in cls.model_fields}, **data}


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error statuses an operation answers, for its ``response=`` declaration."""
    return dict.fromkeys(statuses, ErrorOut)


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message_vi: str,
    message_en: str,
    field: str = "",
    **extra: Any,
) -> HttpResponse:
    body = {"code": code, "message_vi": message_vi, "message_en": message_en, "field": field, **extra}
    return api.create_response(request, body, status=status)


# Primary keys are 64-bit (BigAutoField): a larger number cannot name a record, and SQLite cannot even
# compare with it.
MAX_RECORD_ID = 2**63 - 1


def _json_whole_number(value: Any) -> Any:
    # JSON has one kind of number, and 2.0 is the whole number 2 (JSON Schema's "integer"); but true, "2"
    # and null are not numbers, which pydantic alone would take for 1, 2 and (with a default) nothing.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a whole number is expected (a JSON number, not text or true/false)")
    return value


# ``Annotated[int, Field(...), JsonNumber]``: a whole number in a JSON body (after ``Field``, so that the
# document shows its bounds as JSON Schema's minimum and maximum).
JsonNumber = BeforeValidator(_json_whole_number)

# An id in the path or the query string (text there, read as a number).
RecordId = Annotated[int, Field(ge=1, le=MAX_RECORD_ID)]
# An id in a JSON body.
BodyRecordId = Annotated[int, Field(ge=1, le=MAX_RECORD_ID), JsonNumber]
# A version an action expects (optimistic locking): any whole number the database can hold.
BodyVersion = Annotated[int, Field(ge=0, le=2**31 - 1), JsonNumber]


def text_rules(max_length: int | None, *, at_least: int = 0) -> StringConstraints:
    """``Annotated[str, text_rules(n)]``: at most ``n`` characters (``None``: the schema sets no length) and
    no NUL; ``at_least`` characters that are not white space, for text that must say something."""
    char = r"[^\x00]*"
    said = "".join(char + r"[^\x00\s]" for _ in range(at_least))
    return StringConstraints(max_length=max_length, pattern=f"^{said}{char}$")


# YYYY-MM-DD in the years 1900-2999: every date this record keeps, and none a day's arithmetic overflows.
ISO_DATE_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_ISO_DATE = re.compile(ISO_DATE_PATTERN)


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("a date is written YYYY-MM-DD, in the years 1900 to 2999")


# A calendar date as text (pydantic alone would also take a number of seconds, or a date-time).
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date_text),
    WithJsonSchema({"type": "string", "format": "date", "pattern": ISO_DATE_PATTERN}),
]


@dataclass(frozen=True)
class OneOf:
    """``Annotated[str, OneOf(values)]``: one of the given strings exactly, listed as the schema's enum."""

    values: tuple[str, ...]

    def __init__(self, values: Iterable[str]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.literal_schema(list(self.values))
