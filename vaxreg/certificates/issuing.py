"""Issuing vaccination certificates (SPEC §8), and issuing them again when a correction made them stale.

A certificate is issued only to a verified identity whose doses are all signed off (the rule is
``selectors.identity_missing`` and ``selectors.doses_missing``); otherwise the refusal names what is
missing. The payload is the EU DCC 1.3.0 one, signed as HCERT with the configured Document Signer.
"""

import base64
import datetime as dt
import logging
from typing import Any

from django.db import transaction

from vaxreg.certificates.dcc import DccDose, dgc_vaccination_payload, uvci_new, uvci_sha256_hex
from vaxreg.certificates.hcert import hcert_encode
from vaxreg.certificates.keys import KeyNotConfigured, signing_key
from vaxreg.certificates.models import Certificate, RevocationReason
from vaxreg.certificates.selectors import Missing, certificate_current, certificate_doses, certificate_missing
from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.people.models import Person
from vaxreg.people.services import persons_lock
from vaxreg.vaccinations.models import Dose

logger = logging.getLogger(__name__)

VALIDITY = dt.timedelta(days=365)  # SPEC §8: exp 12 months after issue
CERTIFICATE_ENTITY = "certificate"


class CertificateRefused(Refusal):
    """The person does not qualify yet; ``missing`` says what is lacking, in both languages."""

    code = "certificate_refused"
    status = 422

    def __init__(self, missing: list[Missing]) -> None:
        super().__init__(
            "Chưa cấp được chứng nhận: " + " ".join(m.message_vi for m in missing),
            "The certificate cannot be issued yet: " + " ".join(m.message_en for m in missing),
        )
        self.missing = missing


def _name_parts(full_name: str) -> tuple[str, str]:
    """Vietnamese names put the family name first: "Nguyễn Thị Đào" → ("Nguyễn", "Thị Đào")."""
    words = full_name.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def _birth_date_iso(person: Person) -> str:
    if person.birth_year is None:
        return ""
    if person.birth_month is None:
        return f"{person.birth_year:04d}"
    if person.birth_day is None:
        return f"{person.birth_year:04d}-{person.birth_month:02d}"
    return f"{person.birth_year:04d}-{person.birth_month:02d}-{person.birth_day:02d}"


def _dcc_doses(doses: list[Dose]) -> list[DccDose]:
    out = []
    for position, dose in enumerate(doses, start=1):
        vaccine = dose.vaccine
        assert vaccine is not None  # doses_missing refuses doses without a known vaccine
        number = dose.dose_number or position
        # DCC: a primary-series dose counts against the series (1/2, 2/2); a booster against itself (3/3).
        total = vaccine.primary_doses if number <= vaccine.primary_doses else number
        out.append(
            DccDose(
                date=dose.vaccination_date,
                mp=vaccine.eu_product,
                ma=vaccine.eu_manufacturer,
                vp=vaccine.eu_prophylaxis or "J07BX03",
                dose_number=number,
                total_doses=total,
            )
        )
    return out


def certificate_payload(*, person: Person, doses: list[Dose], uvci: str) -> dict[str, Any]:
    family, given = _name_parts(person.full_name)
    return dgc_vaccination_payload(
        family_name=family,
        given_name=given,
        birth_date_iso=_birth_date_iso(person),
        doses=_dcc_doses(doses),
        uvci=uvci,
    )


def _signed_content(payload: dict[str, Any]) -> dict[str, Any]:
    """What a certificate says about its holder, without its own identifier."""
    return {**payload, "v": [{k: v for k, v in entry.items() if k != "ci"} for entry in payload.get("v", [])]}


def _issue(
    *, person: Person, doses: list[Dose], alg: str | None, actor_id: int | None, replaces: list[Certificate]
) -> Certificate:
    key = signing_key(alg)
    issued_at = clock.now().replace(microsecond=0)  # the token keeps whole seconds
    expires_at = issued_at + VALIDITY
    uvci = uvci_new()
    payload = certificate_payload(person=person, doses=doses, uvci=uvci)
    certificate = Certificate.objects.create(
        person=person,
        uvci=uvci,
        uvci_sha256=uvci_sha256_hex(uvci),
        alg=key.alg,
        kid=base64.b64encode(key.kid).decode("ascii"),
        hcert=hcert_encode(payload=payload, key=key, issued_at=issued_at, expires_at=expires_at),
        payload=payload,
        dose_ids=[d.pk for d in doses],
        issued_at=issued_at,
        expires_at=expires_at,
        issued_by_id=actor_id,
    )
    audit_event_record(
        action=AuditEvent.Action.CERTIFICATE_ISSUED,
        actor_id=actor_id,
        object_type=CERTIFICATE_ENTITY,
        object_id=str(certificate.pk),
        detail={
            "person": person.pk,
            "uvci": uvci,
            "alg": key.alg,
            "kid": certificate.kid,
            "replaces": [c.uvci for c in replaces],
        },
    )
    return certificate


def _revoke(certificates: list[Certificate], *, reason: RevocationReason, actor_id: int | None) -> None:
    now = clock.now()
    for certificate in certificates:
        certificate.revoked_at = now
        certificate.revoked_reason = reason
        certificate.save(update_fields=["revoked_at", "revoked_reason"])
        audit_event_record(
            action=AuditEvent.Action.CERTIFICATE_REVOKED,
            actor_id=actor_id,
            object_type=CERTIFICATE_ENTITY,
            object_id=str(certificate.pk),
            detail={"person": certificate.person_id, "uvci": certificate.uvci, "reason": reason},
        )


def _link(old: list[Certificate], new: Certificate) -> None:
    for certificate in old:
        certificate.replaced_by = new
        certificate.save(update_fields=["replaced_by"])


def _current_for_update(person_id: int) -> list[Certificate]:
    return list(Certificate.objects.select_for_update().filter(person_id=person_id, revoked_at__isnull=True))


@transaction.atomic
def certificate_issue(*, person_id: int, alg: str | None = None, actor_id: int | None = None) -> Certificate:
    """Issue a new certificate for the person; a current one is revoked as superseded and points to it.

    Raises ``CertificateRefused`` when the identity is not verified or a dose is not signed off, and
    ``KeyNotConfigured`` when no signing key is set up.
    """
    person = persons_lock(person_ids=[person_id])[person_id]  # one issue per person at a time
    doses = certificate_doses(person_id=person.pk)
    missing = certificate_missing(person=person, doses=doses)
    if missing:
        raise CertificateRefused(missing)
    old = _current_for_update(person.pk)
    _revoke(old, reason=RevocationReason.SUPERSEDED, actor_id=actor_id)
    certificate = _issue(person=person, doses=doses, alg=alg, actor_id=actor_id, replaces=old)
    _link(old, certificate)
    return certificate


@transaction.atomic
def certificates_revoke(
    *, person_id: int, actor_id: int | None, reason: RevocationReason = RevocationReason.CORRECTED
) -> list[Certificate]:
    """Revoke the person's current certificate without issuing another (a merge moves the record away,
    or joins it to another one): each revocation is audited and goes on the published list."""
    old = _current_for_update(person_id)
    _revoke(old, reason=reason, actor_id=actor_id)
    return old


@transaction.atomic
def certificate_get_or_issue(*, person_id: int, actor_id: int | None = None) -> Certificate:
    """The person's current certificate, or a new one when there is none still valid ("get my
    certificate": asking twice gives the same certificate)."""
    # Two taps at once: the second waits here and then finds the first one's certificate.
    persons_lock(person_ids=[person_id])
    current = certificate_current(person_id=person_id)
    if current is not None:
        return current
    return certificate_issue(person_id=person_id, actor_id=actor_id)


@transaction.atomic
def certificates_reissue_after_correction(*, person_id: int, actor_id: int | None) -> Certificate | None:
    """Bring the person's certificate in line with a corrected record (runs inside the correction).

    When what the certificate says (name, birth date, doses) is unchanged, it stays valid. Otherwise it is
    revoked ("corrected") and, if the person still qualifies, a new one is issued with the same algorithm
    and the old one points to it. A missing signing key never fails the correction: the old certificate
    is revoked all the same and a new one can be asked for later.
    """
    old = _current_for_update(person_id)
    if not old:
        return None
    person = Person.objects.get(pk=person_id)
    doses = certificate_doses(person_id=person_id)
    qualifies = not certificate_missing(person=person, doses=doses)
    if qualifies and len(old) == 1:
        fresh = certificate_payload(person=person, doses=doses, uvci=old[0].uvci)
        if _signed_content(fresh) == _signed_content(old[0].payload) and old[0].dose_ids == [
            d.pk for d in doses
        ]:
            return old[0]
    _revoke(old, reason=RevocationReason.CORRECTED, actor_id=actor_id)
    if not qualifies:
        return None
    try:
        new = _issue(person=person, doses=doses, alg=old[0].alg, actor_id=actor_id, replaces=old)
    except KeyNotConfigured:
        logger.warning(
            "certificate of person %s revoked after a correction; no key to issue a new one", person_id
        )
        return None
    _link(old, new)
    return new


def certificates_after_correction(person_id: int, actor_id: int | None) -> None:
    certificates_reissue_after_correction(person_id=person_id, actor_id=actor_id)
