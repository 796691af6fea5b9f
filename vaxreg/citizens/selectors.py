"""What a citizen sees of their own record after the one-time code: doses, verification, certificates."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vaxreg.certificates.models import Certificate
from vaxreg.certificates.selectors import certificate_current, certificate_doses, certificate_missing
from vaxreg.corrections.selectors import (
    AccessChangeValue,
    access_change_values,
    access_changes_pending_of_person,
)
from vaxreg.people.models import Person, VerificationState
from vaxreg.quality.models import Finding, Severity
from vaxreg.vaccinations.models import DaySignOff, Dose
from vaxreg.verification.models import ACTIVE_STATES, CaseState, VerificationCase
from vaxreg.verification.web_selectors import code_label

# A case's state as the citizen needs to hear it.
CASE_WORDS: dict[str, Any] = {
    CaseState.OPEN: _("The commune health station will contact you to check your details."),
    CaseState.IN_PROGRESS: _("The commune health station is checking your details."),
    CaseState.ESCALATED: _("The commune police are checking your details against the population register."),
    CaseState.MATCHED: _("The police verified your identity; the health station is finishing your record."),
    CaseState.NOT_FOUND: _(
        "The police did not find your details; the commune health station will contact you."
    ),
}
STATE_WORDS: dict[str, Any] = {
    VerificationState.VERIFIED: _("Your details are verified."),
    VerificationState.UNVERIFIABLE: _(
        "Your details could not be verified; contact your commune health station."
    ),
}


@dataclass(frozen=True)
class CitizenDose:
    dose: Dose
    signed_off: bool


@dataclass(frozen=True)
class CitizenRecord:
    person: Person
    doses: list[CitizenDose]
    problems: list[str]  # open blocking findings, in plain words
    status: str  # where the verification stands
    certificate: Certificate | None
    certificate_missing: list[tuple[str, str]]


def _status(person: Person, case: VerificationCase | None, problems: list[str]) -> str:
    if case is not None:
        return str(CASE_WORDS[case.state])
    if problems:
        return gettext(
            "Some of your details are missing or wrong; the commune health station will check them."
        )
    if person.verification_state in STATE_WORDS:
        return str(STATE_WORDS[person.verification_state])
    return gettext("Nothing in your record needs checking.")


def citizen_record(*, person_id: int) -> CitizenRecord:
    person = Person.objects.get(pk=person_id)
    doses = certificate_doses(person_id=person_id)
    signed = set(
        DaySignOff.objects.filter(
            facility_id__in={d.facility_id for d in doses}, day__in={d.vaccination_date for d in doses}
        ).values_list("facility_id", "day")
    )
    codes = sorted(
        set(
            Finding.objects.filter(person_id=person_id, is_open=True, severity=Severity.BLOCKING).values_list(
                "code", flat=True
            )
        )
    )
    problems = [code_label(code) for code in codes]
    case = VerificationCase.objects.filter(person_id=person_id, state__in=ACTIVE_STATES).first()
    missing = certificate_missing(person=person, doses=doses)
    return CitizenRecord(
        person=person,
        doses=[CitizenDose(d, (d.facility_id, d.vaccination_date) in signed) for d in doses],
        problems=problems,
        status=_status(person, case, problems),
        certificate=certificate_current(person_id=person_id),
        certificate_missing=[(m.message_vi, m.message_en) for m in missing],
    )


@dataclass(frozen=True)
class CitizenAccessChange:
    """A change of the citizen's phone on record, ID number or commune that waits for their word."""

    id: int
    values: list[AccessChangeValue]
    requested_at: dt.datetime
    expires_at: dt.datetime


def citizen_access_changes(*, person_id: int) -> list[CitizenAccessChange]:
    return [
        CitizenAccessChange(
            id=change.pk,
            values=access_change_values(change, mask_phone=True),
            requested_at=change.requested_at,
            expires_at=change.expires_at,
        )
        for change in access_changes_pending_of_person(person_id=person_id)
    ]
