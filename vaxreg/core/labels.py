"""Display labels of stored codes, in the reader's language (gettext)."""

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

SOURCE_TYPE = {
    "import": _("Import"),
    "correction": _("Correction"),
    "police": _("Police result"),
    "complaint": _("Complaint"),
    "merge": _("Merge of two records"),
    "system": _("System"),
}

ENTITY = {"person": _("Person"), "dose": _("Dose")}

FIELD = {
    "full_name": _("Full name"),
    "birth_date": _("Date of birth"),
    "birth_year": _("Year of birth"),
    "birth_month": _("Month of birth"),
    "birth_day": _("Day of birth"),
    "gender": _("Gender"),
    "id_type": _("ID type"),
    "id_number": _("ID number"),
    "phone": _("Phone"),
    "address": _("Address"),
    "commune": _("Commune of residence"),
    "commune_id": _("Commune of residence"),
    "province": _("Province"),
    "verification_state": _("Verification"),
    "vaccine": _("Vaccine"),
    "vaccine_id": _("Vaccine"),
    "lot_number": _("Lot"),
    "vaccination_date": _("Vaccination date"),
    "dose_number": _("Dose no."),
    "facility": _("Facility"),
    "status": _("Status"),
    "created": _("Created"),
    "person_id": _("Record of the person"),
    "merged_from": _("Merged from record"),
    "merged_into_id": _("Merged into record"),
}

# The kinds core owns; the apps above register theirs (`labels_register` in their AppConfig.ready), so that a
# stored code's label is written once, beside the code, in the app that owns it.
KINDS: dict[str, Mapping[str, Any]] = {
    "source_type": SOURCE_TYPE,
    "entity": ENTITY,
    "field": FIELD,
}


def labels_register(kind: str, labels: Mapping[str, Any]) -> None:
    """Make ``label(kind, code)`` (and the templates' ``code|label:"kind"``) read ``labels``."""
    KINDS[kind] = labels


def labels_extend(kind: str, labels: Mapping[str, Any]) -> None:
    """Add the codes an app above core writes to one of core's kinds (a field name in the history, a
    source type), keeping core's own."""
    KINDS[kind] = {**KINDS[kind], **labels}


# How a stored history value of a field reads, for the fields whose values are codes (a gender, a case
# state); registered by the app that writes the field. Other values read as stored.
HISTORY_VALUES: dict[str, Callable[[str], str]] = {}


def history_value_register(field: str, format_value: Callable[[str], str]) -> None:
    HISTORY_VALUES[field] = format_value


def history_value(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    format_value = HISTORY_VALUES.get(field)
    return format_value(value) if format_value else value


def label(kind: str, code: str | None) -> str:
    value = KINDS[kind].get(code or "")
    return str(value) if value is not None else (code or "")
