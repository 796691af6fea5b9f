"""Display labels of stored codes, in the reader's language (gettext)."""

from typing import Any

from django.utils.translation import gettext_lazy as _

# The same English msgids as accounts.models.Role's choices (core sits below accounts, so they are not imported).
ROLE = {
    "national": _("Ministry of Health"),
    "province": _("Provincial health department"),
    "commune": _("Commune health station"),
    "facility": _("Vaccination facility"),
    "police": _("Commune police"),
    "admin": _("Administrator"),
}

GENDER = {"M": _("Male"), "F": _("Female"), "O": _("Other"), "": _("Unknown")}

ID_TYPE = {
    "CCCD": _("Citizen ID (CCCD)"),
    "CMND": _("Old ID card (CMND)"),
    "PASSPORT": _("Passport"),
    "INVALID": _("Invalid number"),
    "": _("None"),
}

VERIFICATION_STATE = {
    "unverified": _("Not verified"),
    "verified": _("Verified"),
    "unverifiable": _("Cannot be verified"),
}

DOSE_STATUS = {"valid": _("Valid"), "entered_in_error": _("Entered in error")}

BATCH_STATUS = {
    "queued": _("Queued"),
    "running": _("Importing"),
    "done": _("Done"),
    "refused": _("Refused"),
    "failed": _("Failed"),
}

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
    "province": _("Province"),
    "verification_state": _("Verification"),
    "vaccine": _("Vaccine"),
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

KINDS: dict[str, dict[str, Any]] = {
    "role": ROLE,
    "gender": GENDER,
    "id_type": ID_TYPE,
    "verification_state": VERIFICATION_STATE,
    "dose_status": DOSE_STATUS,
    "batch_status": BATCH_STATUS,
    "source_type": SOURCE_TYPE,
    "entity": ENTITY,
    "field": FIELD,
}


def label(kind: str, code: str | None) -> str:
    value = KINDS[kind].get(code or "")
    return str(value) if value is not None else (code or "")
