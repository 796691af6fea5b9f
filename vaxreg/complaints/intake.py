"""Intake of a citizen's complaint (SPEC §7): checks, routing to where the dose was given, joining; and
the one read a citizen may make of it afterwards (tracking code + phone)."""

import datetime as dt
import hmac
import secrets
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_noop

from vaxreg.complaints.antiflood import phone_quota_hit
from vaxreg.complaints.attachments import ProofFile, proofs_count_check, proofs_store
from vaxreg.complaints.common import ENTITY, ComplaintInvalid, complaint_history_write, notice_queue
from vaxreg.complaints.models import OPEN_STATES, Complaint, ComplaintState, Notice, RejectReason
from vaxreg.core import clock
from vaxreg.core.cccd import USABLE_ID_KINDS, parse_id_number
from vaxreg.core.dates import DateParseError, parse_full_date, parse_partial_date
from vaxreg.core.genders import is_recognised_gender, parse_gender
from vaxreg.core.i18n import both_languages, both_languages_lazy, label_halves
from vaxreg.core.models import ChangeRecord
from vaxreg.core.phones import normalize_phone
from vaxreg.core.text import fold, normalize_text
from vaxreg.people.models import Person
from vaxreg.places.models import Commune, Facility, Province
from vaxreg.vaccinations.fields import (
    MAX_DOSE_NUMBER,
    birth_date_in_bounds,
    dose_number_in_range,
    vaccination_date_in_bounds,
    vaccine_alias_map,
    vaccine_resolve,
)
from vaxreg.vaccinations.models import Dose

DEADLINE = dt.timedelta(hours=48)
MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_LOT = 40
MAX_CLAIMED_DOSES = 3
# Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand off a phone cannot be
# misread; 16 characters are 80 random bits, grouped by four.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
_LOOKALIKES = str.maketrans("OIL", "011")
CHANNEL_WEB = both_languages_lazy(gettext_noop("web form"))
CHANNEL_API = "API"


def tracking_code_new() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def tracking_code_normalize(text: str) -> str:
    """The stored form of a code as a citizen may type it: any case, with or without dashes or spaces,
    O for 0 and I or L for 1."""
    compact = "".join(ch for ch in str(text or "") if ch.isascii() and ch.isalnum())
    if len(compact) != CODE_LENGTH:
        return "".join(str(text or "").split())[:32]
    upper = compact.upper().translate(_LOOKALIKES)
    return "-".join(upper[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def _matched_person(id_number: str) -> Person | None:
    parsed = parse_id_number(id_number) if id_number else None
    if parsed is None or parsed.kind not in USABLE_ID_KINDS:
        return None
    # Only what routing reads (the home too: a person's doses are found by it): every public submission
    # runs this.
    return (
        Person.objects.filter(id_number=parsed.number, merged_into__isnull=True)
        .only("pk", "province_id", "home")
        .order_by("pk")
        .first()
    )


@dataclass(frozen=True)
class Intake:
    category: int
    full_name: str
    phone: str
    birth_date: str = ""
    gender: str = ""
    id_number: str = ""
    province_code: str | None = None
    commune_code: str | None = None
    facility_code: str | None = None  # None: "không rõ", the citizen does not know
    claimed_doses: tuple[Mapping[str, Any], ...] = ()
    description: str = ""


@dataclass
class _Clean:
    """The intake once checked: what is stored."""

    full_name: str
    birth_date: str
    gender: str
    id_number: str
    phone: str
    province: Province | None = None
    commune: Commune | None = None
    facility: Facility | None = None
    claimed_doses: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""


def _one_line(value: object) -> str:
    """NFC text on one line, without control characters (a NUL byte cannot even be stored)."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in str(value or ""))
    return normalize_text(text)


def _multi_line(value: object) -> str:
    """Like _one_line, but the citizen's line breaks are kept."""
    text = unicodedata.normalize("NFC", str(value or "")).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _short(value: object) -> str:
    text = _one_line(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _name(intake: Intake) -> str:
    name = _one_line(intake.full_name)
    if not name or len(name) > MAX_NAME:
        raise ComplaintInvalid(
            f"Họ tên bắt buộc, tối đa {MAX_NAME} ký tự (đã nhập {len(name)} ký tự).",
            f"The full name is required, at most {MAX_NAME} characters (got {len(name)}).",
            field="full_name",
        )
    return name


def _birth_date(raw: str, *, required: bool) -> str:
    text = _one_line(raw)
    if not text:
        if required:
            raise ComplaintInvalid(
                "Ngày sinh bắt buộc (dd/mm/yyyy, hoặc chỉ năm sinh).",
                "The birth date is required (dd/mm/yyyy, or just the year).",
                field="birth_date",
            )
        return ""
    try:
        partial = parse_partial_date(text[:40])
    except DateParseError as exc:
        raise ComplaintInvalid(exc.message_vi, exc.message_en, field="birth_date") from exc
    if partial is None or not birth_date_in_bounds(partial, today=clock.today()):
        raise ComplaintInvalid(
            f"Ngày sinh «{_short(text)}» phải từ năm 1900 đến hôm nay.",
            f"The birth date “{_short(text)}” must be between 1900 and today.",
            field="birth_date",
        )
    return str(partial)


def _gender(raw: str, *, required: bool) -> str:
    if not is_recognised_gender(raw):
        raise ComplaintInvalid(
            "Giới tính không hợp lệ: chọn Nam, Nữ hoặc Khác.",
            "Unknown gender: choose male, female or other.",
            field="gender",
        )
    gender = parse_gender(raw)
    if required and not gender:
        raise ComplaintInvalid("Hãy chọn giới tính.", "Choose a gender.", field="gender")
    return gender


def _id_number(raw: str) -> str:
    text = _one_line(raw)
    if not text:
        return ""
    parsed = parse_id_number(text[:64])
    if parsed.kind not in USABLE_ID_KINDS:
        raise ComplaintInvalid(
            f"Số giấy tờ «{_short(text)}» không hợp lệ: CCCD 12 chữ số, CMND 9 chữ số hoặc số hộ chiếu.",
            f"ID number “{_short(text)}” is not valid: a 12-digit CCCD, a 9-digit CMND or a passport number.",
            field="id_number",
        )
    return parsed.number


def _phone(raw: str) -> str:
    national, valid = normalize_phone(_one_line(raw)[:40])
    if not valid:
        raise ComplaintInvalid(
            "Số điện thoại không hợp lệ: 10 chữ số bắt đầu bằng 0 (hoặc +84).",
            "The phone number is not valid: 10 digits starting with 0 (or +84).",
            field="phone",
        )
    return national


def _place_refused(field_name: str, vi: str, en: str) -> ComplaintInvalid:
    return ComplaintInvalid(vi, en, field=field_name)


_facilities: dict[str, tuple[float, Facility]] = {}


def _facility_by_code(code: str) -> Facility | None:
    """The facility with its commune and province, kept ``VAXREG_INTAKE_CACHE_SECONDS`` (a minute) per
    process: most public submissions name one, and the facility list changes rarely (a change saved in this
    process is seen at once, see ``_facilities_forget``; a new code is always looked up)."""
    now = time.monotonic()
    hit = _facilities.get(code)
    if hit is not None and now - hit[0] < settings.VAXREG_INTAKE_CACHE_SECONDS:
        return hit[1]
    facility = Facility.objects.select_related("commune", "province").filter(code=code).first()
    if facility is not None and settings.VAXREG_INTAKE_CACHE_SECONDS > 0:  # an unknown code is asked again
        if len(_facilities) > 20_000:
            _facilities.clear()
        _facilities[code] = (now, facility)
    return facility


@receiver([post_save, post_delete], sender=Facility, dispatch_uid="complaints-facilities-forget")
def _facilities_forget(**_: Any) -> None:
    _facilities.clear()


def _places(intake: Intake, clean: _Clean) -> None:
    """Province → commune → facility, each checked against the reference data and against each other."""
    province_code = _one_line(intake.province_code)[:40]
    commune_code = _one_line(intake.commune_code)[:40]
    facility_code = _one_line(intake.facility_code).upper()[:40]
    if facility_code:
        facility = _facility_by_code(facility_code)
        if facility is None:
            raise _place_refused(
                "facility_code",
                f"Mã cơ sở tiêm «{_short(facility_code)}» không có trong danh mục.",
                f"Facility code “{_short(facility_code)}” is not in the facility list.",
            )
        if province_code and facility.province_id != province_code:
            raise _place_refused(
                "facility_code",
                f"Cơ sở tiêm {facility.code} không thuộc tỉnh/thành phố đã chọn.",
                f"Facility {facility.code} is not in the chosen province.",
            )
        if commune_code and facility.commune_id != commune_code:
            raise _place_refused(
                "facility_code",
                f"Cơ sở tiêm {facility.code} không thuộc xã/phường đã chọn.",
                f"Facility {facility.code} is not in the chosen commune.",
            )
        clean.facility, clean.commune, clean.province = facility, facility.commune, facility.province
        return
    if commune_code:
        commune = Commune.objects.select_related("province").filter(code=commune_code).first()
        if commune is None:
            raise _place_refused(
                "commune_code",
                f"Mã xã/phường «{_short(commune_code)}» không có trong danh mục.",
                f"Commune code “{_short(commune_code)}” is not in the list of communes.",
            )
        if province_code and commune.province_id != province_code:
            raise _place_refused(
                "commune_code",
                f"Xã/phường {commune.name} không thuộc tỉnh/thành phố đã chọn.",
                f"The commune {commune.name} is not in the chosen province.",
            )
        clean.commune, clean.province = commune, commune.province
        return
    if province_code:
        clean.province = Province.objects.filter(code=province_code).first()
        if clean.province is None:
            raise _place_refused(
                "province_code",
                f"Mã tỉnh/thành phố «{_short(province_code)}» không có trong danh mục.",
                f"Province code “{_short(province_code)}” is not in the list of provinces.",
            )


_catalogue: dict[str, str] = {}
_catalogue_loaded_at = float("-inf")


def _catalogue_keys(*, fresh: bool = False) -> dict[str, str]:
    """The catalogue's alias map (``vaccine_alias_map``), kept ``VAXREG_INTAKE_CACHE_SECONDS`` per process like
    the facilities: every public submission needs it, and the catalogue changes a few times a year."""
    global _catalogue, _catalogue_loaded_at
    ttl = settings.VAXREG_INTAKE_CACHE_SECONDS
    if fresh or time.monotonic() - _catalogue_loaded_at >= ttl:
        _catalogue, _catalogue_loaded_at = vaccine_alias_map(), time.monotonic()
    return _catalogue


def _vaccine_codes(names: set[str]) -> dict[str, str]:
    """Catalogue code by what the citizen typed or picked: a code, a name or an alias ("AZ", "Pfizer"),
    resolved as the dose import resolves it."""
    if not names:
        return {}
    found = {n: vaccine_resolve(n, alias_map=_catalogue_keys()) for n in names}
    if any(code is None for code in found.values()):
        keys = _catalogue_keys(fresh=True)  # a vaccine added since the last load is found at once
        found = {n: vaccine_resolve(n, alias_map=keys) for n in names}
    return {n: code for n, code in found.items() if code is not None}


def _dose_refused(index: int, part: str, vi: str, en: str) -> ComplaintInvalid:
    return ComplaintInvalid(
        f"Mũi khai báo thứ {index + 1}: {vi}",
        f"Claimed dose {index + 1}: {en}",
        field=f"claimed_doses.{index}.{part}",
    )


def _claimed_dose(index: int, row: Mapping[str, Any]) -> dict[str, Any] | None:
    values = {key: _one_line(row.get(key)) for key in ("date", "vaccine", "dose_number", "lot")}
    if not any(values.values()):
        return None  # a row the citizen left blank
    date = ""
    if values["date"]:
        try:
            day = parse_full_date(values["date"][:40])
        except DateParseError as exc:
            raise _dose_refused(index, "date", exc.message_vi, exc.message_en) from exc
        if day is None or not vaccination_date_in_bounds(day, today=clock.today()):
            raise _dose_refused(
                index,
                "date",
                f"ngày tiêm «{_short(values['date'])}» phải từ 01/01/2021 đến hôm nay.",
                f"the vaccination date “{_short(values['date'])}” must be between 01/01/2021 and today.",
            )
        date = day.isoformat()
    number = None
    if values["dose_number"]:
        try:
            number = int(values["dose_number"][:3])
        except ValueError:
            number = 0
        if not dose_number_in_range(number):
            raise _dose_refused(
                index,
                "dose_number",
                f"mũi số phải từ 1 đến {MAX_DOSE_NUMBER}.",
                f"the dose number must be 1 to {MAX_DOSE_NUMBER}.",
            )
    if len(values["lot"]) > MAX_LOT:
        raise _dose_refused(
            index,
            "lot",
            f"số lô tối đa {MAX_LOT} ký tự.",
            f"the lot number has at most {MAX_LOT} characters.",
        )
    return {"date": date, "vaccine": values["vaccine"][:100], "dose_number": number, "lot": values["lot"]}


def _claimed_doses(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if len(rows) > MAX_CLAIMED_DOSES:
        raise ComplaintInvalid(
            f"Khai báo tối đa {MAX_CLAIMED_DOSES} mũi tiêm.",
            f"At most {MAX_CLAIMED_DOSES} claimed doses.",
            field="claimed_doses",
        )
    doses = [(i, d) for i, row in enumerate(rows) if (d := _claimed_dose(i, row)) is not None]
    codes = _vaccine_codes({d["vaccine"] for _, d in doses if d["vaccine"]})
    for index, dose in doses:
        if dose["vaccine"]:
            if dose["vaccine"] not in codes:
                raise _dose_refused(
                    index,
                    "vaccine",
                    f"vắc xin «{_short(dose['vaccine'])}» không có trong danh mục.",
                    f"the vaccine “{_short(dose['vaccine'])}” is not in the catalogue.",
                )
            dose["vaccine"] = codes[dose["vaccine"]]
    return [d for _, d in doses]


def _description(raw: str) -> str:
    text = _multi_line(raw)
    if len(text) > MAX_DESCRIPTION:
        raise ComplaintInvalid(
            f"Nội dung tối đa {MAX_DESCRIPTION} ký tự (đã nhập {len(text)}).",
            f"The description has at most {MAX_DESCRIPTION} characters (got {len(text)}).",
            field="description",
        )
    return text


def intake_clean(intake: Intake, *, identity_required: bool = False) -> _Clean:
    """Check everything the citizen sent; ComplaintInvalid naming the first field that is wrong."""
    if not isinstance(intake.category, int) or intake.category not in range(1, 6):
        raise ComplaintInvalid("Hãy chọn loại phản ánh.", "Choose the kind of complaint.", field="category")
    clean = _Clean(
        full_name=_name(intake),
        birth_date=_birth_date(intake.birth_date, required=identity_required),
        gender=_gender(intake.gender, required=identity_required),
        id_number=_id_number(intake.id_number),
        phone=_phone(intake.phone),
    )
    _places(intake, clean)
    clean.claimed_doses = _claimed_doses(intake.claimed_doses)
    clean.description = _description(intake.description)
    return clean


def _latest_dose_facility(person: Person) -> Facility | None:
    latest = (
        Dose.objects.filter(person=person)
        .select_related("facility")
        .order_by("-vaccination_date", "-pk")
        .first()
    )
    return latest.facility if latest else None


@dataclass(frozen=True)
class _Route:
    facility: Facility | None
    province: str | None
    why: str = ""  # said in the history when the complaint does not go where the citizen named


def _route(clean: _Clean, person: Person | None) -> _Route:
    """Who handles the complaint. Without a matched record: the facility the citizen names, else the health
    department of the province they name. With one: only a unit that sees that record by the ordinary rules
    (its doses or its residence) — the named facility when the record has a dose there, else the facility
    of its latest dose, else the health department of its province. A complaint never opens a record to a
    unit: whoever names a facility reads, there, only what the citizen wrote."""
    named = clean.facility
    if person is None:
        province = named.province_id if named else (clean.province.code if clean.province else None)
        if named is None and province is None:
            raise ComplaintInvalid(
                "Hãy chọn tỉnh/thành phố nơi tiêm để phản ánh đến đúng nơi xử lý.",
                "Choose the province where you were vaccinated, so the complaint reaches who handles it.",
                field="province_code",
            )
        return _Route(named, province)
    if named is not None and Dose.objects.filter(person=person, facility=named).exists():
        return _Route(named, named.province_id)
    facility = _latest_dose_facility(person)
    province = facility.province_id if facility else person.province_id
    if facility is None and province is None:
        # A record no unit answers for (no dose, no residence): the named unit handles what the citizen
        # wrote, without the record.
        return _route(clean, None)
    differs = (named is not None and facility != named) or (
        named is None and clean.province is not None and province != clean.province.code
    )
    why = (
        both_languages(
            gettext_noop("sent to the unit that holds this person's record (where vaccinated or resident)")
        )
        if differs
        else ""
    )
    return _Route(facility, province, why)


def _earlier_to_join(clean: _Clean, category: int) -> Complaint | None:
    """The first open complaint this one joins: same ID number and category, and the same identity (name,
    birth date, gender) and phone — a complaint that differs in any of them stands on its own, so nobody can
    capture another citizen's complaint (and its handler) by filing first with their ID number. Stored
    complaints hold these values in the form ``intake_clean`` gives them, so all but the name (compared
    folded) are compared by the database."""
    if not clean.id_number:
        return None
    earlier = (
        Complaint.objects.filter(
            id_number=clean.id_number, category=category, state__in=OPEN_STATES,
            birth_date=clean.birth_date, gender=clean.gender, phone=clean.phone,
        )
        .only("pk", "full_name", "handler_facility_id", "handler_province_id", "due_at")
        .order_by("received_at", "pk")
    )  # fmt: skip
    name = fold(clean.full_name)
    return next((c for c in earlier[:20] if fold(c.full_name) == name), None)


@transaction.atomic
def complaint_submit(
    *, intake: Intake, proofs: Sequence[ProofFile] = (), from_public: bool = False, channel: str = ""
) -> Complaint:
    """Record a citizen's complaint, route it, and give back its unguessable tracking code.

    Routing (``_route``): to a unit that sees the matched record by the ordinary rules, never one the
    complaint alone would open it to. A second open complaint with the same ID number, category, identity
    and phone joins the first (``_earlier_to_join``): it is kept, and points at the one being handled.

    ``from_public``: sent by a citizen through the form or the API, so birth date and gender are required
    and the per-phone quota is taken (inside this transaction: a refused complaint gives it back).
    ``proofs`` are files already checked by ``attachments.proof_check``.
    """
    clean = intake_clean(intake, identity_required=from_public)
    proofs_count_check(len(proofs))
    if from_public:
        phone_quota_hit(phone=clean.phone)
    person = _matched_person(clean.id_number)
    route = _route(clean, person)
    now = clock.now()
    earlier = _earlier_to_join(clean, intake.category)
    complaint = Complaint.objects.create(
        tracking_code=tracking_code_new(),
        category=intake.category,
        full_name=clean.full_name,
        birth_date=clean.birth_date,
        gender=clean.gender,
        id_number=clean.id_number,
        phone=clean.phone,
        province=clean.province,
        commune=clean.commune,
        facility=clean.facility,
        claimed_doses=clean.claimed_doses,
        description=clean.description,
        person=person,
        handler_facility_id=earlier.handler_facility_id
        if earlier
        else (route.facility.pk if route.facility else None),
        handler_province_id=earlier.handler_province_id if earlier else route.province,
        rerouted=bool(route.why) and earlier is None,
        joined_to=earlier,
        state=ComplaintState.JOINED if earlier else ComplaintState.OPEN,
        received_at=now,
        due_at=earlier.due_at if earlier else now + DEADLINE,
    )
    attachments = proofs_store(complaint=complaint, proofs=proofs)
    changes: dict[str, tuple[Any, Any]] = {"state": (None, complaint.state)}
    changes |= {f"attachment_{a.position}": (None, f"{a.content_type} {a.sha256}") for a in attachments}
    complaint_history_write(
        complaint,
        changes,
        actor_id=None,
        reason=both_languages(gettext_noop("received"))
        + (f" ({channel})" if channel else "")
        + (f" — {route.why}" if route.why and not earlier else ""),
    )
    notice_queue(
        complaint,
        Notice.Kind.RECEIVED,
        both_languages(
            gettext_noop("Complaint received; tracking code %(code)s."), {"code": complaint.tracking_code}
        ),
    )
    return complaint


# -- what the citizen may read back ------------------------------------------------------------------------


def complaint_for_citizen(*, tracking_code: str, phone: str) -> Complaint | None:
    """The complaint with this code, only when ``phone`` is the one it was sent with (compared in national
    form); None otherwise, whichever of the two was wrong."""
    code = tracking_code_normalize(tracking_code)
    national, _valid = normalize_phone(_one_line(phone)[:40])
    if not code or not national:
        return None
    as_typed = "".join(str(tracking_code).split())[:32]  # codes made before the grouped form
    complaint = (
        Complaint.objects.select_related("joined_to").filter(tracking_code__in={code, as_typed}).first()
    )
    stored = complaint.phone if complaint is not None else "-"
    if not hmac.compare_digest(normalize_phone(stored)[0].encode(), national.encode()) or complaint is None:
        return None
    return complaint


def complaint_deferral_reason(complaint: Complaint) -> str:
    """Why the handler deferred the complaint: kept with the change that set the new date."""
    return (
        ChangeRecord.objects.filter(entity=ENTITY, entity_id=complaint.pk, field="deferred_until")
        .order_by("-at", "-pk")
        .values_list("reason", flat=True)
        .first()
        or ""
    )


REJECT_REASONS_EN = {
    RejectReason.PROOF_INCOMPLETE: "The proof lacks the date, the dose or the vaccine",
    RejectReason.NAME_CONTRADICTS: "The name contradicts the proof",
    RejectReason.PERSONAL_PHOTO: "A personal photo instead of a certificate",
    RejectReason.DATA_MISMATCH: "Dose, birth date, vaccination date or vaccine do not match",
    RejectReason.UNREADABLE: "Key fields are cropped or blurred",
    RejectReason.NOTHING_MATCHES: "Nothing matches",
    RejectReason.NAME_INCOMPLETE: "The name is incomplete or without diacritics",
    RejectReason.HAND_EDITED: "The form was edited by hand",
}


@dataclass(frozen=True)
class CitizenStatus:
    """What the citizen sees of their complaint; a joined complaint shows the one it joined."""

    tracking_code: str
    category: int
    full_name: str
    description: str
    received_at: dt.datetime
    state: str
    state_vi: str
    state_en: str
    joined: bool
    due_at: dt.datetime
    outcome: str
    deferred_until: dt.date | None
    deferral_reason: str
    reject_reason: str
    reject_reason_vi: str
    reject_reason_en: str

    def as_json(self) -> dict[str, Any]:
        return {
            "tracking_code": self.tracking_code,
            "state": self.state,
            "state_vi": self.state_vi,
            "state_en": self.state_en,
            "joined": self.joined,
            "received_at": self.received_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "outcome": self.outcome,
            "deferred_until": self.deferred_until.isoformat() if self.deferred_until else None,
            "deferral_reason": self.deferral_reason,
            "reject_reason": self.reject_reason,
            "reject_reason_vi": self.reject_reason_vi,
            "reject_reason_en": self.reject_reason_en,
        }


def citizen_status(complaint: Complaint) -> CitizenStatus:
    handled = complaint.joined_to or complaint
    state_vi, state_en = label_halves(ComplaintState(handled.state).label)
    reason = handled.reject_reason
    deferred = handled.state == ComplaintState.DEFERRED
    return CitizenStatus(
        tracking_code=complaint.tracking_code,
        category=complaint.category,
        full_name=complaint.full_name,
        description=complaint.description,
        received_at=complaint.received_at,
        state=handled.state,
        state_vi=state_vi,
        state_en=state_en or state_vi,
        joined=complaint.joined_to_id is not None,
        due_at=handled.due_at,
        outcome=handled.outcome,
        deferred_until=handled.deferred_until if deferred else None,
        deferral_reason=complaint_deferral_reason(handled) if deferred else "",
        reject_reason=reason,
        reject_reason_vi=RejectReason(reason).label if reason in RejectReason.values else "",
        reject_reason_en=REJECT_REASONS_EN.get(RejectReason(reason), "")
        if reason in RejectReason.values
        else "",
    )
