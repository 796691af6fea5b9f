"""Reads of certificates: what a person still lacks for one, and who may download which."""

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from vaxreg.certificates.models import Certificate
from vaxreg.certificates.pdf import CertificateSheet, SheetDose
from vaxreg.core import clock
from vaxreg.core.jurisdiction import jurisdiction_of
from vaxreg.people.models import Gender, Person, VerificationState
from vaxreg.people.selectors import person_cccd_consistent
from vaxreg.quality.models import Finding, Severity
from vaxreg.vaccinations.models import DaySignOff, Dose, DoseStatus
from vaxreg.verification.models import ACTIVE_STATES, CaseState, VerificationCase


@dataclass(frozen=True)
class Missing:
    """One reason a certificate cannot be issued yet, said to the citizen in both languages."""

    code: str
    message_vi: str
    message_en: str


def certificate_doses(*, person_id: int) -> list[Dose]:
    """The doses a certificate stands for: every valid dose of the person, in the order given."""
    return list(
        Dose.objects.filter(person_id=person_id, status=DoseStatus.VALID)
        .select_related("vaccine", "facility")
        .order_by("vaccination_date", "dose_number", "pk")
    )


def _police_verified_case(person: Person) -> VerificationCase | None:
    cases = VerificationCase.objects.filter(person=person, state=CaseState.RESOLVED).order_by(
        "-closed_at", "-pk"
    )
    for case in cases[:5]:
        identity = case.verified_identity or {}
        if identity and identity.get("id_number", person.id_number) == person.id_number:
            return case
    return None


def identity_missing(*, person: Person) -> list[Missing]:
    """Why the person's identity does not count as verified yet (empty when it does).

    Verified means: nobody is still working on it (no active verification case, not marked unverifiable),
    and either

    - no blocking finding is open and the ID is a CCCD whose gender and birth-year digits agree with the
      record: the cross-check the rules make (SPEC §4, §5), passed with nothing left to doubt; or
    - the latest resolved case carries the identity the commune police verified against the population
      register (SPEC §6), still with the record's ID number; blocking findings that were open when that
      case was resolved were settled in writing by the health station, so only findings opened after it
      stand in the way. This is how a CMND or passport holder qualifies.
    """
    if person.verification_state == VerificationState.UNVERIFIABLE:
        return [
            Missing(
                "identity_unverifiable",
                "Danh tính chưa xác minh được; hãy liên hệ trạm y tế xã/phường nơi bạn ở.",
                "Your identity could not be verified; contact the health station of your commune.",
            )
        ]
    if VerificationCase.objects.filter(person=person, state__in=ACTIVE_STATES).exists():
        return [
            Missing(
                "verification_in_progress",
                "Thông tin của bạn đang được xác minh; chứng nhận được cấp khi xác minh xong.",
                "Your details are being verified; the certificate is issued once that is done.",
            )
        ]
    blocking = list(
        Finding.objects.filter(person=person, is_open=True, severity=Severity.BLOCKING).values_list(
            "code", "opened_at"
        )
    )
    police_case = _police_verified_case(person)
    if police_case is not None and police_case.closed_at is not None:
        blocking = [(code, opened) for code, opened in blocking if opened > police_case.closed_at]
    if blocking:
        codes = ", ".join(sorted({code for code, _ in blocking}))
        return [
            Missing(
                "blocking_findings",
                f"Hồ sơ còn thông tin sai hoặc thiếu cần xác minh ({codes}).",
                f"Your record still has missing or wrong details to verify ({codes}).",
            )
        ]
    if police_case is None and not person_cccd_consistent(person):
        return [
            Missing(
                "identity_not_verified",
                "Chưa có số CCCD hợp lệ và danh tính chưa được công an xác minh.",
                "There is no valid CCCD number and the police have not verified your identity.",
            )
        ]
    if not person.full_name or person.birth_year is None:
        return [
            Missing(
                "identity_incomplete",
                "Hồ sơ thiếu họ tên hoặc năm sinh.",
                "The record lacks the name or birth year.",
            )
        ]
    return []


def doses_missing(*, doses: list[Dose]) -> list[Missing]:
    """Why these doses cannot go on a certificate yet: none at all, an unknown vaccine, or a day the
    facility has not signed off (SPEC §6: signed-off records are the reviewed ones)."""
    if not doses:
        return [Missing("no_doses", "Chưa có mũi tiêm nào được ghi nhận.", "No dose is recorded yet.")]
    missing = []
    for dose in doses:
        if dose.vaccine is None or not dose.vaccine.eu_product:
            missing.append(
                Missing(
                    "vaccine_unknown",
                    f"Mũi tiêm ngày {dose.vaccination_date:%d/%m/%Y} chưa rõ loại vắc xin.",
                    f"The vaccine of the dose on {dose.vaccination_date:%d/%m/%Y} is not known.",
                )
            )
    days = Q()
    for dose in doses:
        days |= Q(facility_id=dose.facility_id, day=dose.vaccination_date)
    signed = set(DaySignOff.objects.filter(days).values_list("facility_id", "day"))
    for dose in doses:
        if (dose.facility_id, dose.vaccination_date) not in signed:
            missing.append(
                Missing(
                    "dose_not_signed_off",
                    f"Mũi tiêm ngày {dose.vaccination_date:%d/%m/%Y} tại {dose.facility.name} chưa được cơ sở "
                    "tiêm ký duyệt.",
                    f"The dose of {dose.vaccination_date:%d/%m/%Y} at {dose.facility.name} is not yet signed "
                    "off by the facility.",
                )
            )
    return missing


def certificate_missing(*, person: Person, doses: list[Dose]) -> list[Missing]:
    """Everything that stands between the person and a certificate (empty: one can be issued)."""
    return identity_missing(person=person) + doses_missing(doses=doses)


def certificates_of_person(*, person_id: int) -> list[Certificate]:
    """The person's certificates, the current one first."""
    return list(
        Certificate.objects.filter(person_id=person_id).order_by(
            F("revoked_at").desc(nulls_first=True), "-issued_at", "-pk"
        )
    )


def certificate_current(*, person_id: int) -> Certificate | None:
    """The person's certificate that is neither revoked nor expired, if any."""
    return (
        Certificate.objects.filter(person_id=person_id, revoked_at__isnull=True, expires_at__gt=clock.now())
        .order_by("-issued_at")
        .first()
    )


def _by_reference(reference: str) -> Q:
    reference = reference.strip()
    if reference.isdigit():
        return Q(pk=int(reference))
    return Q(uvci=reference)


def certificate_for_download(
    *, reference: str, citizen_person_id: int | None, user: Any
) -> Certificate | None:
    """The certificate (by id or UVCI) if this caller may have it: the citizen whose session proved to be
    its person, or a staff user whose jurisdiction covers that person. None otherwise, alike for a
    certificate that does not exist."""
    queryset: QuerySet[Certificate] = Certificate.objects.filter(_by_reference(reference)).select_related(
        "person"
    )
    certificate = queryset.first()
    if certificate is None:
        return None
    if citizen_person_id is not None and certificate.person_id == citizen_person_id:
        return certificate
    jurisdiction = jurisdiction_of(user)
    if jurisdiction.persons_visible(Person.objects.filter(pk=certificate.person_id)).exists():
        return certificate
    return None


def certificate_sheet(*, certificate: Certificate) -> CertificateSheet:
    """What the printed certificate shows: the name and birth date it was signed with, and the doses it
    was issued for (a later correction makes a new certificate rather than changing this one)."""
    person = certificate.person
    name = certificate.payload.get("nam", {})
    dob = str(certificate.payload.get("dob", ""))
    doses = (
        Dose.objects.filter(pk__in=certificate.dose_ids)
        .select_related("vaccine", "facility")
        .order_by("vaccination_date", "dose_number", "pk")
    )
    return CertificateSheet(
        full_name=" ".join(part for part in (name.get("fn"), name.get("gn")) if part),
        birth_date="/".join(reversed(dob.split("-"))) if dob else "",
        gender=Gender(person.gender).label if person.gender in Gender.values else "",
        id_masked=person.id_number_masked,
        doses=tuple(
            SheetDose(
                number=str(dose.dose_number or position),
                date=dose.vaccination_date,
                vaccine=dose.vaccine.name if dose.vaccine else dose.vaccine_raw,
                lot=dose.lot_number,
                place=dose.facility.name,
            )
            for position, dose in enumerate(doses, start=1)
        ),
        uvci=certificate.uvci,
        hcert=certificate.hcert,
        issued_on=timezone.localdate(certificate.issued_at),
        valid_until=timezone.localdate(certificate.expires_at),
        revoked=certificate.is_revoked,
    )
