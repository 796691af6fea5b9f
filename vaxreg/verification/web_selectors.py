"""Reads behind the health station's pages: the worklist and its Excel export, one case with its findings
explained, and the findings export of a commune or a facility.

Every read goes through the verification selectors (``worklist``, ``access_case_by_id``) or the reader's
jurisdiction, so nothing here widens what a user may see; ID numbers leave this module masked.
"""

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.core.paginator import Page, Paginator
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from vaxreg.accounts.models import User
from vaxreg.core.cccd import decode_cccd
from vaxreg.core.history import audit_event_record
from vaxreg.core.i18n import in_language, label_both, label_in_language
from vaxreg.core.labels import label
from vaxreg.core.models import AuditEvent, SourceType
from vaxreg.core.pages import HistoryRow
from vaxreg.core.tables import write_table
from vaxreg.people.models import Person, mask_id_number
from vaxreg.people.selectors import person_history, person_history_rows
from vaxreg.places.models import Facility
from vaxreg.quality.messages import date_text as _dmy
from vaxreg.quality.models import Finding, Severity
from vaxreg.quality.rules import ID_SHARED, RULES
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.selectors import WorklistFilter, case_contacts, cases_for_user, worklist

WORKLIST_PAGE_SIZE = 50
EXPORT_CHUNK = 2_000


# -- words shown to people -----------------------------------------------------------------------------


# What each rule code means, in a few plain words for a list column (SPEC §5).
CODE_LABELS: dict[str, Any] = {
    "NAME_MISSING": _("Name missing"),
    "DOB_MISSING": _("Birth date missing"),
    "GENDER_MISSING": _("Gender missing"),
    "ID_MISSING": _("ID number missing"),
    "ID_FORMAT": _("ID number malformed"),
    "ID_LEADING_ZEROS": _("ID lost its leading zeros"),
    "ID_PROVINCE_CODE": _("Unknown CCCD province code"),
    "ID_GENDER_MISMATCH": _("ID contradicts gender"),
    "ID_BIRTHYEAR_MISMATCH": _("ID contradicts birth year"),
    "ID_SHARED": _("ID shared with another person"),
    "DOB_INVALID": _("Impossible birth date"),
    "NAME_SUSPECT": _("Suspect name"),
    "NAME_NO_DIACRITICS": _("Name without diacritics"),
    "PHONE_INVALID": _("Invalid phone number"),
    "DOSE_DATE_FUTURE": _("Vaccination date in the future"),
    "DOSE_BEFORE_CAMPAIGN": _("Dose before the campaign"),
    "DOSE_BEFORE_BIRTH": _("Dose before birth"),
    "DOSE_VACCINE_UNKNOWN": _("Unknown vaccine"),
    "DOSE_DUPLICATE": _("Dose recorded twice"),
    "DOSE_NUMBER_CONFLICT": _("Dose numbers out of order"),
    "DOSE_INTERVAL_SHORT": _("Doses too close together"),
    "DOSE_AGE_INELIGIBLE": _("Under the vaccine's age"),
    "DUPLICATE_SUSPECT": _("Possibly the same person twice"),
}

# The codes that can open a case, in the order of SPEC §5.
BLOCKING_CODES: tuple[str, ...] = (
    *(rule.code for rule in RULES if rule.severity == Severity.BLOCKING),
    ID_SHARED,
)


def code_label(code: str) -> str:
    return str(CODE_LABELS.get(code, code))


def code_label_vi(code: str) -> str:
    with translation.override("vi"):
        return code_label(code)


def state_label(state: str) -> str:
    try:
        return str(CaseState(state).label)
    except ValueError:
        return state


_GENDER_WORDS = {"M": _("male"), "F": _("female"), "O": _("other")}


def _gender_word(gender: str | None) -> str:
    return str(_GENDER_WORDS.get(gender or "", _("gender unknown")))


# -- the worklist --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorklistRow:
    case: VerificationCase
    codes: list[tuple[str, str]]  # (code, short label)
    state: str


def worklist_page(*, user: User, filters: WorklistFilter, page_number: Any) -> tuple[Page, list[WorklistRow]]:
    """One page of the worklist: two queries (the count, then the rows with person, facility, assignee)."""
    paginator = Paginator(worklist(user=user, filters=filters), WORKLIST_PAGE_SIZE)
    page = paginator.get_page(page_number)
    rows = [
        WorklistRow(case=case, codes=[(c, code_label(c)) for c in case.codes], state=state_label(case.state))
        for case in page.object_list
    ]
    return page, rows


def worklist_facilities(*, user: User) -> list[Facility]:
    """The facilities of the cases the user sees: the choices of the facility filter."""
    ids = cases_for_user(user=user).filter(facility_id__isnull=False).values("facility_id")
    return list(Facility.objects.filter(pk__in=ids).order_by("code"))


WORKLIST_EXPORT_HEADERS = (
    "Mã hồ sơ / case_id",
    "Ngày mở / opened",
    "Họ và tên / full_name",
    "Số giấy tờ (che) / id_number (masked)",
    "Ngày sinh / date_of_birth",
    "Lỗi chặn / blocking findings",
    "Mã lỗi / rule_codes",
    "Trạng thái / state",
    "Cơ sở tiêm / facility_code",
    "Người phụ trách / assigned_to",
)


def _local(at: dt.datetime | None) -> str:
    return timezone.localtime(at).strftime("%d/%m/%Y %H:%M") if at else ""


def worklist_export_rows(*, user: User, filters: WorklistFilter) -> Iterator[list[Any]]:
    cases = worklist(user=user, filters=filters)
    for case in cases.iterator(chunk_size=EXPORT_CHUNK):
        person = case.person
        yield [
            case.pk,
            _local(case.opened_at),
            person.full_name,
            person.id_number_masked,
            person.birth_date_display,
            "; ".join(code_label_vi(c) for c in case.codes),
            ", ".join(case.codes),
            label_both(CaseState(case.state).label),
            case.facility.code if case.facility else "",
            case.assigned_to.username if case.assigned_to else "",
        ]


def _filters_detail(filters: WorklistFilter) -> dict[str, Any]:
    return {k: v for k, v in vars(filters).items() if v not in ("", None)}


def worklist_export_write(*, user: User, filters: WorklistFilter, out: IO[bytes]) -> int:
    """The filtered worklist as an .xlsx (write-only, so memory stays flat); the export is audited. A worklist
    longer than an Excel sheet is refused (``TableTooLong``) rather than cut short."""
    written = write_table(
        WORKLIST_EXPORT_HEADERS,
        worklist_export_rows(user=user, filters=filters),
        fmt="xlsx",
        out=out,
        sheet="Xác minh",
    )
    audit_event_record(
        action=AuditEvent.Action.EXPORT,
        actor_id=user.pk,
        object_type="verification_worklist",
        detail={"format": "xlsx", "rows": written, "filters": _filters_detail(filters)},
    )
    return written


# -- one case --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    label: str
    value: str


@dataclass(frozen=True)
class FindingView:
    """An open finding as a health worker reads it: what is wrong, and the two values that disagree."""

    code: str
    label: str
    blocking: bool
    message: str
    left: Side | None
    right: Side | None
    dose_text: str


def _id_conflict(f: Finding, p: Person) -> tuple[Side, Side]:
    info = decode_cccd(p.id_number)
    cccd_gender = f.detail.get("cccd_gender") or (info.gender if info else "")
    cccd_year = f.detail.get("cccd_birth_year") or (info.birth_year if info else None)
    stated_gender = f.detail.get("stated_gender", p.gender)
    stated_year = f.detail.get("stated_birth_year", p.birth_year)

    def says(gender: str, year: Any) -> str:
        born = gettext("born %(year)s") % {"year": year} if year else gettext("birth year unknown")
        return f"{_gender_word(gender)}, {born}"

    return (
        Side(gettext("The CCCD says"), says(cccd_gender, cccd_year)),
        Side(gettext("the record says"), says(stated_gender, stated_year)),
    )


_NAME_WHY = {
    "placeholder": _("a placeholder for an unknown name"),
    "characters": _("contains digits or symbols"),
    "single_word": _("a single word"),
}
_DOB_WHY = {
    "impossible": _("not a real date"),
    "too_early": _("too early"),
    "future": _("after today"),
}


def _sides(f: Finding, p: Person) -> tuple[Side, Side] | None:  # noqa: C901 — one branch per finding code, each with its own two sides
    d = f.detail or {}
    code = f.code
    if code in ("ID_GENDER_MISMATCH", "ID_BIRTHYEAR_MISMATCH"):
        return _id_conflict(f, p)
    if code == "ID_SHARED":
        return (
            Side(gettext("ID number"), mask_id_number(p.id_number)),
            Side(
                gettext("also on"),
                gettext("%(n)s other person(s) with another name or birth date")
                % {"n": d.get("other_persons", "?")},
            ),
        )
    if code == "ID_FORMAT":
        number = str(d.get("id_number", p.id_number))
        return (
            Side(
                gettext("Number on record"),
                gettext("%(number)s (%(length)s characters)")
                % {"number": mask_id_number(number), "length": len(number)},
            ),
            Side(
                gettext("must be"),
                gettext("a 12-digit CCCD, a 9-digit CMND or a passport number"),
            ),
        )
    if code == "ID_PROVINCE_CODE":
        return (
            Side(gettext("Province code on the CCCD"), str(d.get("cccd_province", ""))),
            Side(gettext("the list"), gettext("has no such code")),
        )
    if code == "DOB_INVALID":
        why = _DOB_WHY.get(str(d.get("reason")), _("not valid"))
        return (
            Side(gettext("Birth date on record"), str(d.get("date_of_birth", ""))),
            Side(gettext("because it is"), str(why)),
        )
    if code == "NAME_SUSPECT":
        why = _NAME_WHY.get(str(d.get("reason")), _("suspect"))
        return (
            Side(gettext("Name on record"), str(d.get("full_name", p.full_name))),
            Side(gettext("because it is"), str(why)),
        )
    if code == "PHONE_INVALID":
        return (
            Side(gettext("Number on record"), str(d.get("phone", p.phone))),
            Side(gettext("must be"), gettext("10 digits starting with 0")),
        )
    day = Side(gettext("Vaccination date"), _dmy(d.get("vaccination_date", "")))
    if code == "DOSE_DATE_FUTURE":
        return day, Side(gettext("today"), _dmy(d.get("today", "")))
    if code == "DOSE_BEFORE_CAMPAIGN":
        return day, Side(gettext("the campaign started"), _dmy(d.get("campaign_start", "")))
    if code == "DOSE_BEFORE_BIRTH":
        return day, Side(gettext("date of birth"), str(d.get("date_of_birth", "")))
    if code == "DOSE_VACCINE_UNKNOWN":
        return (
            Side(gettext("Vaccine name on record"), str(d.get("vaccine", ""))),
            Side(gettext("the catalogue"), gettext("has no such name")),
        )
    if code == "DOSE_DUPLICATE":
        return (
            Side(
                pgettext("verification web_selectors", "Dose"),
                f"{d.get('vaccine', '?')}, {_dmy(d.get('vaccination_date', ''))}",
            ),
            Side(gettext("same as dose"), f"#{d.get('same_as_dose', '?')}"),
        )
    if code == "DOSE_NUMBER_CONFLICT":
        return (
            Side(
                pgettext("verification web_selectors 2", "Dose"),
                f"{d.get('dose_number', '?')}, {_dmy(d.get('vaccination_date', ''))}",
            ),
            Side(
                gettext("comes after dose"),
                f"{d.get('earlier_dose_number', '?')}, {_dmy(d.get('earlier_vaccination_date', ''))}",
            ),
        )
    if code == "DOSE_INTERVAL_SHORT":
        return (
            Side(
                gettext("After the previous dose"),
                gettext("%(n)s days") % {"n": d.get("interval_days")},
            ),
            Side(
                gettext("minimum"),
                gettext("%(n)s days") % {"n": d.get("min_interval_days")},
            ),
        )
    if code == "DOSE_AGE_INELIGIBLE":
        age, minimum = int(d.get("age_months", 0)), int(d.get("min_age_months", 0))
        return (
            Side(
                gettext("Age when vaccinated"),
                gettext("%(years)s years %(months)s months") % {"years": age // 12, "months": age % 12},
            ),
            Side(gettext("minimum"), gettext("%(years)s years") % {"years": minimum // 12}),
        )
    return None


def _dose_text(f: Finding) -> str:
    dose = f.dose
    if dose is None:
        return ""
    vaccine = dose.vaccine.name if dose.vaccine else (dose.vaccine_raw or "?")
    number = dose.dose_number or "?"
    return gettext("Dose %(number)s, %(date)s, %(vaccine)s") % {
        "number": number,
        "date": _dmy(dose.vaccination_date),
        "vaccine": vaccine,
    }


def case_findings(*, case: VerificationCase) -> list[FindingView]:
    """The person's open findings, blocking first, each with the values that disagree side by side."""
    person = case.person
    findings = (
        Finding.objects.filter(person_id=person.pk, is_open=True)
        .select_related("dose__vaccine")
        .order_by("severity", "code", "dose_id", "pk")  # "blocking" sorts before "warning"
    )
    views = []
    for f in findings:
        sides = _sides(f, person)
        views.append(
            FindingView(
                code=f.code,
                label=code_label(f.code),
                blocking=f.severity == Severity.BLOCKING,
                message=in_language(f.message_vi, f.message_en),
                left=sides[0] if sides else None,
                right=sides[1] if sides else None,
                dose_text=_dose_text(f),
            )
        )
    return views


@dataclass(frozen=True)
class ContactRow:
    at: dt.datetime
    actor: Any
    channel: str
    outcome: str
    note: str


def case_contact_rows(*, case: VerificationCase) -> list[ContactRow]:
    return [
        ContactRow(
            at=c.at,
            actor=c.actor,
            channel=label_in_language(c.get_channel_display()),
            outcome=label_in_language(c.get_outcome_display()),
            note=c.note,
        )
        for c in case_contacts(case)
    ]


CASE_HISTORY_SOURCES = {SourceType.CASE, SourceType.CORRECTION, SourceType.POLICE}
CASE_FIELD_PREFIX = "verification_case."

# The history fields and source a case writes, and how their values read (registered with core.labels in
# VerificationConfig.ready, so that the person page and the case page read them alike).
CASE_HISTORY_FIELDS: dict[str, Any] = {
    f"{CASE_FIELD_PREFIX}state": _("Case state"),
    f"{CASE_FIELD_PREFIX}contact": _("Contact"),
    f"{CASE_FIELD_PREFIX}assigned_to": _("Assigned to"),
}
CASE_SOURCE_LABELS: dict[str, Any] = {SourceType.CASE: _("Verification case")}


def contact_history_value(value: str) -> str:
    # Stored as "channel label: outcome label", each "vi / en".
    return ": ".join(label_in_language(part) for part in value.split(": ", 1))


def field_label(name: str) -> str:
    return label("field", name)


def case_history(*, case: VerificationCase) -> list[HistoryRow]:
    """The person's history written by the case, corrections and the police, newest first; ID numbers
    masked by ``person_history``."""
    entries = [e for e in person_history(case.person) if e.source_type in CASE_HISTORY_SOURCES]
    return person_history_rows(entries)


def person_values_display(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Stored person values (as ``StaleRecord.current`` carries them) as (label, text) rows, ID masked."""
    year, month, day = values.get("birth_year"), values.get("birth_month"), values.get("birth_day")
    birth = "/".join(
        f"{v:02d}" if i < 2 else str(v) for i, v in enumerate((day, month, year)) if v is not None
    )
    if day is None and month is not None and year is not None:
        birth = f"{month:02d}/{year}"
    return [
        (str(_("Full name")), str(values.get("full_name") or "—")),
        (str(_("Date of birth")), birth or "—"),
        (str(_("Gender")), label("gender", values.get("gender"))),
        (str(_("ID number")), mask_id_number(str(values.get("id_number") or "")) or "—"),
        (str(_("Phone")), str(values.get("phone") or "—")),
        (str(_("Commune of residence")), str(values.get("commune_id") or "—")),
    ]


def dose_values_display(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(_("Vaccination date")), _dmy(values.get("vaccination_date", "")) or "—"),
        (str(_("Vaccine")), str(values.get("vaccine_id") or "—")),
        (str(_("Dose no.")), str(values.get("dose_number") or "—")),
        (str(_("Lot")), str(values.get("lot_number") or "—")),
    ]


# -- the findings export -----------------------------------------------------------------------------------
