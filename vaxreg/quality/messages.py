"""A finding's message, made when it is read: the rule's template filled with the values the rule found.

A stored finding keeps no ID or phone number in its text. A rule writes its message as a template in each
language, with a placeholder for every value read from the record ("Số giấy tờ {id_number} còn có ở
{other_persons} người khác…"), and the values apart, by name (``Finding.detail``). Wherever a message is
shown (pages, API, exports) it is filled here, with ID and phone numbers masked as every list masks them; a
reader who needs the full ID number goes through the audited full-ID read of ``vaxreg.people.selectors``.
"""

import datetime as dt
import string
from collections.abc import Mapping, Sequence
from typing import Any

from vaxreg.people.models import mask_id_number

# The values of a finding that identify a person: never shown in full in a message.
MASKED_VALUES = frozenset({"id_number", "as_typed", "phone"})
# "{vaccination_date:date}": an ISO date of the detail, written dd/mm/yyyy.
DATE_FORMAT = "date"
MISSING_VALUE = "?"


def date_text(value: Any) -> str:
    """A date, or an ISO date as a finding's detail holds it, written dd/mm/yyyy; anything else as it is."""
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


class _MessageFormatter(string.Formatter):
    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        # A finding stored by an older rule may lack a value its template names: the message still reads.
        value = kwargs.get(key, MISSING_VALUE) if isinstance(key, str) else MISSING_VALUE
        if key in MASKED_VALUES and value != MISSING_VALUE:
            return mask_id_number(str(value))
        return value

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == DATE_FORMAT:
            return date_text(value)
        return str(super().format_field(value, format_spec))


_FORMATTER = _MessageFormatter()


def finding_message(template: str, detail: Mapping[str, Any] | None) -> str:
    """The message a reader sees: ``template`` filled from ``detail``, ID and phone numbers masked."""
    return _FORMATTER.vformat(template, (), detail or {})
