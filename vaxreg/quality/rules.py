"""The data-quality rules of SPEC §5: one small declarative class per code, pure Python, no ORM.

A rule reads a ``PersonSnapshot`` with its ``DoseSnapshot``s and the catalogue ``Parameters`` and yields
``FindingDraft``s whose messages say, in Vietnamese and English, which values conflict. The scan loads
snapshots in bulk and runs every rule over them; nothing here touches the database.

A message is a template (``vaxreg.quality.messages``): each value read from the record is a placeholder
named after its key in the draft's ``detail`` ("{id_number}", "{vaccination_date:date}"), filled when the
message is read, ID and phone numbers masked; only words of our own (genders, reasons, catalogue names) and
numbers worked out from the detail are written in. So the detail holds every value the message depends on,
and a finding whose detail changes gets its message refreshed.
"""

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, ClassVar, NamedTuple

from vaxreg.core.cccd import CccdInfo, cccd_province_known, decode_cccd
from vaxreg.core.phones import normalize_phone
from vaxreg.core.text import fold, has_vietnamese_diacritics
from vaxreg.quality.models import Severity
from vaxreg.vaccinations.models import Vaccine
from vaxreg.vaccinations.selectors import vaccine_min_age_months, vaccine_min_interval_days

_GENDER_VI = {"M": "nam", "F": "nữ", "O": "khác"}
_GENDER_EN = {"M": "male", "F": "female", "O": "other"}
# Placeholders people type when the name is unknown, folded (no diacritics, lower case).
_PLACEHOLDER_NAMES = frozenset(
    {
        "khong ro",
        "chua co ten",
        "chua ro",
        "khong co",
        "khong ten",
        "chua co",
        "vo danh",
        "x",
        "xx",
        "kr",
        "na",
        "n/a",
    }
)
# Letters (any script) with combining marks (a tone typed on a letter that has no precomposed form, which is
# a typo but not a symbol), spaces, and the hyphen and apostrophe of foreign names; anything else is suspect.
_WORD = r"(?:[^\W\d_][\u0300-\u036f]*)+"
_NAME_OK = re.compile(rf"^{_WORD}(?:[ '\-]{_WORD})*$")


# Named tuples rather than dataclasses: a full scan makes millions of them straight from database rows
# (``_make``), several times faster than calling an ``__init__``.
class DoseSnapshot(NamedTuple):
    id: int
    vaccine_id: str | None
    vaccine_raw: str
    vaccination_date: dt.date
    dose_number: int | None
    person_id: int = 0


class PersonSnapshot(NamedTuple):
    id: int
    full_name: str
    birth_year: int | None
    birth_month: int | None
    birth_day: int | None
    birth_date_raw: str
    gender: str
    id_type: str
    id_number: str
    id_repaired: bool
    phone: str
    home: str  # where its rows are stored (``Person.home``): its findings are written there too


@dataclass(frozen=True)
class Parameters:
    """Rule parameters read from the catalogue (vaxreg.quality.services.parameters_load)."""

    campaign_start: dt.date
    min_birth_year: int
    today: dt.date
    vaccines: dict[str, Vaccine] = field(default_factory=dict)

    @cached_property
    def max_min_age_months(self) -> int:
        """No vaccine of the catalogue, on any date, asks for more months than this."""
        ages = [0]
        for vaccine in self.vaccines.values():
            ages.append(vaccine.min_age_months)
            ages += [step["months"] for step in vaccine.parameters.get("min_age_months_from", [])]
        return max(ages)

    @cached_property
    def _intervals(self) -> dict[tuple[str, int], int | None]:
        return {}

    def min_interval_days(self, vaccine: Vaccine, dose_number: int) -> int | None:
        """``vaccine_min_interval_days``, remembered: the scan asks it for nearly every person."""
        key = (vaccine.code, dose_number)
        memo = self._intervals
        if key not in memo:
            memo[key] = vaccine_min_interval_days(vaccine, dose_number=dose_number)
        return memo[key]


@dataclass(frozen=True, slots=True)
class FindingDraft:
    code: str
    severity: str
    fields: tuple[str, ...]
    template_vi: str
    template_en: str
    detail: dict[str, Any]
    dose_id: int | None = None


Doses = list[DoseSnapshot]


def birth_text(p: PersonSnapshot) -> str:
    if p.birth_year is None:
        return p.birth_date_raw
    if p.birth_month is None:
        return str(p.birth_year)
    if p.birth_day is None:
        return f"{p.birth_month:02d}/{p.birth_year}"
    return f"{p.birth_day:02d}/{p.birth_month:02d}/{p.birth_year}"


def earliest_birth(p: PersonSnapshot) -> dt.date | None:
    """The first day the (possibly partial) birth date allows: a conflict with it is certain."""
    if p.birth_year is None or not 1 <= p.birth_year <= 9999:
        return None
    return dt.date(p.birth_year, p.birth_month or 1, p.birth_day or 1)


def latest_birth(p: PersonSnapshot) -> dt.date | None:
    if p.birth_year is None:
        return None
    month = p.birth_month or 12
    return dt.date(p.birth_year, month, p.birth_day or calendar.monthrange(p.birth_year, month)[1])


def birth_invalid(p: PersonSnapshot, params: Parameters) -> bool:
    """The birth date cannot be read, lies before the earliest valid year, or lies in the future."""
    if p.birth_year is None:
        return bool(p.birth_date_raw)
    first = earliest_birth(p)
    return p.birth_year < params.min_birth_year or first is None or first > params.today


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end`` (age in months on ``end``)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def name_suspect_reason(name: str) -> str | None:
    if not name:
        return None
    if fold(name) in _PLACEHOLDER_NAMES:
        return "placeholder"
    if not _NAME_OK.match(name):
        return "characters"
    if " " not in name:
        return "single_word"
    return None


# Names repeat across millions of persons, and both name rules ask the same two questions of each.
_NAME_MEMO: dict[str, tuple[str | None, bool]] = {}
_NAME_MEMO_SIZE = 1 << 18


def _name_facts(name: str) -> tuple[str | None, bool]:
    """(``name_suspect_reason``, ``has_vietnamese_diacritics``) of a name, remembered."""
    facts = _NAME_MEMO.get(name)
    if facts is None:
        facts = (name_suspect_reason(name), has_vietnamese_diacritics(name))
        if len(_NAME_MEMO) >= _NAME_MEMO_SIZE:
            _NAME_MEMO.clear()
        _NAME_MEMO[name] = facts
    return facts


@lru_cache(maxsize=1 << 16)
def _cccd_head(head: str) -> CccdInfo | None:
    """``decode_cccd`` of a CCCD's first six digits (PPP G YY: province, century and gender, birth year),
    which alone give the province, gender and birth year: a few thousand heads, where numbers are unique."""
    return decode_cccd(head + "000000")


def _cccd_facts(number: str) -> CccdInfo | None:
    """The province, gender and birth year of ``decode_cccd(number)``; the serial is not to be read."""
    if len(number) == 12 and number.isdigit() and number.isascii():
        return _cccd_head(number[:6])
    return decode_cccd(number)


def _date_and_id(d: "DoseSnapshot") -> tuple[dt.date, int]:
    return d.vaccination_date, d.id


def valid_doses_in_order(doses: list[DoseSnapshot]) -> list[DoseSnapshot]:
    return sorted(doses, key=_date_and_id)


class Rule:
    """A rule: its stable code, severity and the template fields it reads; ``check`` yields drafts."""

    code: ClassVar[str]
    severity: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        raise NotImplementedError

    def draft(self, vi: str, en: str, detail: dict[str, Any], dose_id: int | None = None) -> FindingDraft:
        """A finding with the message templates ``vi`` and ``en``, whose placeholders name keys of ``detail``."""
        return FindingDraft(self.code, self.severity, self.fields, vi, en, detail, dose_id)


# --- mandatory citizen fields ---------------------------------------------------------------------


class NameMissing(Rule):
    """The full name, a mandatory citizen field (Công văn 8938), is empty."""

    code, severity, fields = "NAME_MISSING", Severity.BLOCKING, ("full_name",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if not p.full_name.strip():
            yield self.draft("Thiếu họ và tên.", "The full name is missing.", {})


class DobMissing(Rule):
    """The date of birth is empty (a year alone is enough)."""

    code, severity, fields = "DOB_MISSING", Severity.BLOCKING, ("date_of_birth",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if p.birth_year is None and not p.birth_date_raw:
            yield self.draft("Thiếu ngày sinh.", "The date of birth is missing.", {})


class GenderMissing(Rule):
    """The gender is empty or could not be read as Nam / Nữ / Khác."""

    code, severity, fields = "GENDER_MISSING", Severity.BLOCKING, ("gender",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if not p.gender:
            yield self.draft("Thiếu giới tính.", "The gender is missing.", {})


class IdMissing(Rule):
    """No ID number at all: citizens need a CCCD/CMND, foreigners a passport number."""

    code, severity, fields = "ID_MISSING", Severity.BLOCKING, ("id_number",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if not p.id_type and not p.id_number:
            yield self.draft(
                "Thiếu số CCCD/CMND (người nước ngoài: số hộ chiếu).",
                "The ID number is missing (foreigners: the passport number).",
                {},
            )


# --- the ID number --------------------------------------------------------------------------------


class IdFormat(Rule):
    """The ID is neither a 12-digit CCCD, a 9-digit CMND nor a passport number."""

    code, severity, fields = "ID_FORMAT", Severity.BLOCKING, ("id_number",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if p.id_type == "INVALID" or (not p.id_type and p.id_number):
            yield self.draft(
                "Số giấy tờ “{id_number}” không phải CCCD 12 số, CMND 9 số hay số hộ chiếu.",
                "The ID “{id_number}” is not a 12-digit CCCD, a 9-digit CMND or a passport number.",
                {"id_number": p.id_number, "length": len(p.id_number)},
            )


class IdLeadingZeros(Rule):
    """Excel had dropped the CCCD's leading zeros; the import put them back."""

    code, severity, fields = "ID_LEADING_ZEROS", Severity.WARNING, ("id_number",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if p.id_repaired:
            yield self.draft(
                "Số CCCD bị mất số 0 ở đầu và đã được bổ sung thành {id_number}.",
                "The CCCD had lost its leading zeros; they were restored as {id_number}.",
                {"id_number": p.id_number, "as_typed": p.id_number.lstrip("0")},
            )


class IdProvinceCode(Rule):
    """The first three digits of the CCCD are none of the 63 province codes."""

    code, severity, fields = "ID_PROVINCE_CODE", Severity.WARNING, ("id_number",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if p.id_type == "CCCD" and decode_cccd(p.id_number) and not cccd_province_known(p.id_number):
            yield self.draft(
                "Mã tỉnh {cccd_province} ở đầu số CCCD không phải mã tỉnh nào.",
                "The CCCD prefix {cccd_province} is not a known province code.",
                {"cccd_province": p.id_number[:3]},
            )


class IdGenderMismatch(Rule):
    """The CCCD's fourth digit (century and gender) contradicts the stated gender."""

    code, severity, fields = "ID_GENDER_MISMATCH", Severity.BLOCKING, ("id_number", "gender")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        info = decode_cccd(p.id_number) if p.id_type == "CCCD" else None
        if info is None or p.gender not in ("M", "F") or info.gender == p.gender:
            return
        year = ", sinh năm {stated_birth_year}" if p.birth_year else ""
        year_en = ", born {stated_birth_year}" if p.birth_year else ""
        yield self.draft(
            f"CCCD cho biết {_GENDER_VI[info.gender]}, sinh năm {{cccd_birth_year}}; "
            f"hồ sơ ghi {_GENDER_VI[p.gender]}{year}.",
            f"The CCCD says {_GENDER_EN[info.gender]}, born {{cccd_birth_year}}; "
            f"the record says {_GENDER_EN[p.gender]}{year_en}.",
            {
                "cccd_gender": info.gender,
                "stated_gender": p.gender,
                "cccd_birth_year": info.birth_year,
                "stated_birth_year": p.birth_year,
            },
        )


class IdBirthYearMismatch(Rule):
    """The CCCD's century digit and digits 5–6 give another birth year than the stated one."""

    code, severity, fields = "ID_BIRTHYEAR_MISMATCH", Severity.BLOCKING, ("id_number", "date_of_birth")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        info = decode_cccd(p.id_number) if p.id_type == "CCCD" else None
        if info is None or p.birth_year is None or info.birth_year == p.birth_year:
            return
        yield self.draft(
            f"CCCD cho biết {_GENDER_VI[info.gender]}, sinh năm {{cccd_birth_year}}; hồ sơ ghi "
            f"{_GENDER_VI.get(p.gender, 'không rõ giới tính')}, sinh năm {{stated_birth_year}}.",
            f"The CCCD says {_GENDER_EN[info.gender]}, born {{cccd_birth_year}}; the record says "
            f"{_GENDER_EN.get(p.gender, 'gender unknown')}, born {{stated_birth_year}}.",
            {
                "cccd_birth_year": info.birth_year,
                "stated_birth_year": p.birth_year,
                "cccd_gender": info.gender,
                "stated_gender": p.gender,
            },
        )


# --- date of birth, name, phone ---------------------------------------------------------------------


class DobInvalid(Rule):
    """The date of birth cannot be a real one: impossible, in the future, or before the earliest year."""

    code, severity, fields = "DOB_INVALID", Severity.BLOCKING, ("date_of_birth",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if not birth_invalid(p, params):
            return
        text = birth_text(p)
        if p.birth_year is None:
            yield self.draft(
                "Ngày sinh “{date_of_birth}” không phải ngày có thật.",
                "The date of birth “{date_of_birth}” is not a real date.",
                {"date_of_birth": text, "reason": "impossible"},
            )
        elif p.birth_year < params.min_birth_year:
            yield self.draft(
                "Ngày sinh {date_of_birth} trước năm {min_birth_year}.",
                "The date of birth {date_of_birth} is before {min_birth_year}.",
                {"date_of_birth": text, "reason": "too_early", "min_birth_year": params.min_birth_year},
            )
        else:
            yield self.draft(
                "Ngày sinh {date_of_birth} ở sau ngày hôm nay ({today:date}).",
                "The date of birth {date_of_birth} is after today ({today:date}).",
                {"date_of_birth": text, "reason": "future", "today": params.today.isoformat()},
            )


class NameSuspect(Rule):
    """The name has digits or symbols, is a single word, or is a placeholder ("không rõ", "x")."""

    code, severity, fields = "NAME_SUSPECT", Severity.BLOCKING, ("full_name",)
    _WHY: ClassVar[dict[str, tuple[str, str]]] = {
        "placeholder": ("là chữ thay cho tên chưa biết", "is a placeholder for an unknown name"),
        "characters": ("có chữ số hoặc ký hiệu", "contains digits or symbols"),
        "single_word": ("chỉ có một từ", "is a single word"),
    }

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        reason = _name_facts(p.full_name)[0]
        if reason:
            vi, en = self._WHY[reason]
            yield self.draft(
                f"Họ và tên “{{full_name}}” {vi}.",
                f"The name “{{full_name}}” {en}.",
                {"full_name": p.full_name, "reason": reason},
            )


class NameNoDiacritics(Rule):
    """A citizen's name typed without Vietnamese diacritics (passport holders are exempt)."""

    code, severity, fields = "NAME_NO_DIACRITICS", Severity.WARNING, ("full_name",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        name = p.full_name
        # A suspect name already says more; a passport holder's name has no diacritics to lose.
        if not name or p.id_type == "PASSPORT":
            return
        suspect, diacritics = _name_facts(name)
        if suspect or diacritics:
            return
        yield self.draft(
            "Họ và tên “{full_name}” được gõ không dấu.",
            "The name “{full_name}” was typed without diacritics.",
            {"full_name": name},
        )


class PhoneInvalid(Rule):
    """The phone number is not a valid Vietnamese number (10 digits starting with 0, or +84)."""

    code, severity, fields = "PHONE_INVALID", Severity.WARNING, ("phone",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        if p.phone and not normalize_phone(p.phone)[1]:
            yield self.draft(
                "Số điện thoại “{phone}” không phải số Việt Nam hợp lệ.",
                "The phone number “{phone}” is not a valid Vietnamese number.",
                {"phone": p.phone},
            )


# --- doses ----------------------------------------------------------------------------------------


class DoseDateFuture(Rule):
    """A vaccination date after the day of the check (the import or the scan)."""

    code, severity, fields = "DOSE_DATE_FUTURE", Severity.BLOCKING, ("vaccination_date",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        for d in doses:
            if d.vaccination_date > params.today:
                yield self.draft(
                    "Ngày tiêm {vaccination_date:date} ở sau ngày hôm nay ({today:date}).",
                    "The vaccination date {vaccination_date:date} is after today ({today:date}).",
                    {"vaccination_date": d.vaccination_date.isoformat(), "today": params.today.isoformat()},
                    d.id,
                )


class DoseBeforeCampaign(Rule):
    """A vaccination date before the campaign start (catalogue parameter ``campaign_start``)."""

    code, severity, fields = "DOSE_BEFORE_CAMPAIGN", Severity.BLOCKING, ("vaccination_date",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        start = params.campaign_start
        for d in doses:
            if d.vaccination_date < start:
                yield self.draft(
                    "Ngày tiêm {vaccination_date:date} trước ngày bắt đầu chiến dịch ({campaign_start:date}).",
                    "The vaccination date {vaccination_date:date} is before the campaign started "
                    "({campaign_start:date}).",
                    {"vaccination_date": d.vaccination_date.isoformat(), "campaign_start": start.isoformat()},
                    d.id,
                )


class DoseBeforeBirth(Rule):
    """A vaccination date before the (earliest possible) date of birth."""

    code, severity, fields = "DOSE_BEFORE_BIRTH", Severity.BLOCKING, ("vaccination_date", "date_of_birth")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        born = earliest_birth(p)
        if born is None or birth_invalid(p, params):  # DOB_INVALID already says the birth date is wrong
            return
        for d in doses:
            if d.vaccination_date < born:
                yield self.draft(
                    "Ngày tiêm {vaccination_date:date} trước ngày sinh {date_of_birth}.",
                    "The vaccination date {vaccination_date:date} is before the date of birth {date_of_birth}.",
                    {"vaccination_date": d.vaccination_date.isoformat(), "date_of_birth": birth_text(p)},
                    d.id,
                )


class DoseVaccineUnknown(Rule):
    """The vaccine name matches no catalogue entry or alias."""

    code, severity, fields = "DOSE_VACCINE_UNKNOWN", Severity.BLOCKING, ("vaccine",)

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        for d in doses:
            if d.vaccine_id is None and d.vaccine_raw:
                yield self.draft(
                    "Tên vắc xin “{vaccine}” không có trong danh mục.",
                    "The vaccine name “{vaccine}” matches no catalogue entry.",
                    {"vaccine": d.vaccine_raw},
                    d.id,
                )


def _vaccine_key(d: DoseSnapshot) -> str:
    return d.vaccine_id or fold(d.vaccine_raw)


class DoseDuplicate(Rule):
    """The same person, vaccine and date recorded twice: every copy after the first is flagged."""

    code, severity, fields = "DOSE_DUPLICATE", Severity.BLOCKING, ("vaccination_date", "vaccine")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        first: dict[tuple[dt.date, str], DoseSnapshot] = {}
        for d in sorted(doses, key=lambda d: d.id):
            key = (d.vaccination_date, _vaccine_key(d))
            if key not in first:
                first[key] = d
                continue
            yield self.draft(
                "Mũi {vaccine} ngày {vaccination_date:date} được ghi hai lần.",
                "The {vaccine} dose of {vaccination_date:date} is recorded twice.",
                {
                    "vaccination_date": d.vaccination_date.isoformat(),
                    "vaccine": d.vaccine_id or d.vaccine_raw or "?",
                    "same_as_dose": first[key].id,
                },
                d.id,
            )


def distinct_doses(doses: list[DoseSnapshot]) -> list[DoseSnapshot]:
    """Doses in date order with duplicates (same vaccine and date) left out."""
    seen: set[tuple[dt.date, str]] = set()
    result = []
    for d in valid_doses_in_order(doses):
        key = (d.vaccination_date, _vaccine_key(d))
        if key not in seen:
            seen.add(key)
            result.append(d)
    return result


def number_conflicts(doses: list[DoseSnapshot]) -> list[tuple[DoseSnapshot, DoseSnapshot]]:
    """Pairs (earlier, later) whose dose numbers do not increase with the date."""
    return _conflicts_in(distinct_doses(doses))


def _conflicts_in(ordered: list[DoseSnapshot]) -> list[tuple[DoseSnapshot, DoseSnapshot]]:
    """``number_conflicts`` of doses already through ``distinct_doses``."""
    numbered = [d for d in ordered if d.dose_number is not None]
    numbers = [d.dose_number for d in numbered]
    if numbers == sorted(set(numbers)):  # type: ignore[type-var]
        return []  # numbers that grow along the order cannot contradict it (the usual case)
    pairs = []
    for i, later in enumerate(numbered):
        for earlier in numbered[:i]:
            assert earlier.dose_number is not None and later.dose_number is not None
            if earlier.vaccination_date < later.vaccination_date and earlier.dose_number >= later.dose_number:
                pairs.append((earlier, later))
                break
    return pairs


class DoseNumberConflict(Rule):
    """Dose numbers contradict the date order, or one number is given on two dates."""

    code, severity, fields = "DOSE_NUMBER_CONFLICT", Severity.BLOCKING, ("dose_number", "vaccination_date")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        return self.drafts(number_conflicts(doses))

    def drafts(self, conflicts: list[tuple[DoseSnapshot, DoseSnapshot]]) -> Iterator[FindingDraft]:
        for earlier, later in conflicts:
            yield self.draft(
                "Mũi số {dose_number} ngày {vaccination_date:date} đứng sau "
                "mũi số {earlier_dose_number} ngày {earlier_vaccination_date:date}.",
                "Dose {dose_number} on {vaccination_date:date} comes after dose {earlier_dose_number} on "
                "{earlier_vaccination_date:date}.",
                {
                    "dose_number": later.dose_number,
                    "vaccination_date": later.vaccination_date.isoformat(),
                    "earlier_dose_number": earlier.dose_number,
                    "earlier_vaccination_date": earlier.vaccination_date.isoformat(),
                },
                later.id,
            )


class DoseIntervalShort(Rule):
    """Fewer days since the previous dose than the vaccine's minimum for this dose number.

    The dose number is the recorded one; when the recorded numbers conflict (DOSE_NUMBER_CONFLICT) the
    dose's place in date order is used instead, so one wrong number does not also raise this warning.
    """

    code, severity, fields = "DOSE_INTERVAL_SHORT", Severity.WARNING, ("vaccination_date", "dose_number")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        ordered = distinct_doses(doses)
        return self.drafts(ordered, _conflicts_in(ordered), params)

    def drafts(
        self,
        ordered: list[DoseSnapshot],
        conflicts: list[tuple[DoseSnapshot, DoseSnapshot]],
        params: Parameters,
    ) -> Iterator[FindingDraft]:
        """``ordered`` through ``distinct_doses``, ``conflicts`` its ``number_conflicts``."""
        by_position = bool(conflicts) or any(d.dose_number is None for d in ordered)
        for position, (previous, d) in enumerate(zip(ordered, ordered[1:], strict=False), start=2):
            vaccine = params.vaccines.get(d.vaccine_id or "")
            number = position if by_position else d.dose_number
            if vaccine is None or number is None:
                continue
            minimum = params.min_interval_days(vaccine, number)
            days = (d.vaccination_date - previous.vaccination_date).days
            if minimum is not None and days < minimum:
                yield self.draft(
                    f"Mũi {{dose_number}} ({vaccine.name}) tiêm sau mũi trước {{interval_days}} ngày; "
                    "tối thiểu {min_interval_days} ngày.",
                    f"Dose {{dose_number}} ({vaccine.name}) came {{interval_days}} days after the previous one; "
                    "the minimum is {min_interval_days} days.",
                    {
                        "interval_days": days,
                        "min_interval_days": minimum,
                        "dose_number": number,
                        "vaccine": vaccine.code,
                    },
                    d.id,
                )


class DoseAgeIneligible(Rule):
    """Younger on the vaccination day than the vaccine's minimum age then (catalogue thresholds by date)."""

    code, severity, fields = "DOSE_AGE_INELIGIBLE", Severity.WARNING, ("date_of_birth", "vaccine")

    def check(self, p: PersonSnapshot, doses: Doses, params: Parameters) -> Iterator[FindingDraft]:
        born = earliest_birth(p)  # the oldest the person can be: an ineligible age is then certain
        if born is None or birth_invalid(p, params):
            return
        for d in doses:
            vaccine = params.vaccines.get(d.vaccine_id or "")
            if vaccine is None or d.vaccination_date < born:  # before birth: DOSE_BEFORE_BIRTH says it
                continue
            age = months_between(born, d.vaccination_date)
            minimum = vaccine_min_age_months(vaccine, on=d.vaccination_date)
            if age < minimum:
                yield self.draft(
                    f"Ngày {{vaccination_date:date}} người này {age // 12} tuổi {age % 12} tháng; {vaccine.name} "
                    f"khi đó chỉ tiêm từ {minimum // 12} tuổi.",
                    f"On {{vaccination_date:date}} this person was {age // 12} years {age % 12} months old; "
                    f"{vaccine.name} was then given from age {minimum // 12}.",
                    {
                        "age_months": age,
                        "min_age_months": minimum,
                        "vaccine": vaccine.code,
                        "vaccination_date": d.vaccination_date.isoformat(),
                    },
                    d.id,
                )


NAME_MISSING = NameMissing()
DOB_MISSING = DobMissing()
GENDER_MISSING = GenderMissing()
ID_MISSING = IdMissing()
ID_FORMAT = IdFormat()
ID_LEADING_ZEROS = IdLeadingZeros()
ID_PROVINCE_CODE = IdProvinceCode()
ID_GENDER_MISMATCH = IdGenderMismatch()
ID_BIRTHYEAR_MISMATCH = IdBirthYearMismatch()
DOB_INVALID = DobInvalid()
NAME_SUSPECT = NameSuspect()
NAME_NO_DIACRITICS = NameNoDiacritics()
PHONE_INVALID = PhoneInvalid()
DOSE_DATE_FUTURE = DoseDateFuture()
DOSE_BEFORE_CAMPAIGN = DoseBeforeCampaign()
DOSE_BEFORE_BIRTH = DoseBeforeBirth()
DOSE_VACCINE_UNKNOWN = DoseVaccineUnknown()
DOSE_DUPLICATE = DoseDuplicate()
DOSE_NUMBER_CONFLICT = DoseNumberConflict()
DOSE_INTERVAL_SHORT = DoseIntervalShort()
DOSE_AGE_INELIGIBLE = DoseAgeIneligible()

RULES: tuple[Rule, ...] = (
    NAME_MISSING,
    DOB_MISSING,
    GENDER_MISSING,
    ID_MISSING,
    ID_FORMAT,
    ID_LEADING_ZEROS,
    ID_PROVINCE_CODE,
    ID_GENDER_MISMATCH,
    ID_BIRTHYEAR_MISMATCH,
    DOB_INVALID,
    NAME_SUSPECT,
    NAME_NO_DIACRITICS,
    PHONE_INVALID,
    DOSE_DATE_FUTURE,
    DOSE_BEFORE_CAMPAIGN,
    DOSE_BEFORE_BIRTH,
    DOSE_VACCINE_UNKNOWN,
    DOSE_DUPLICATE,
    DOSE_NUMBER_CONFLICT,
    DOSE_INTERVAL_SHORT,
    DOSE_AGE_INELIGIBLE,
)

ID_SHARED = "ID_SHARED"


def id_shared_draft(p: PersonSnapshot, others: int) -> FindingDraft:
    """ID_SHARED is found by a query across persons (services); its message is built here with the rest."""
    return FindingDraft(
        ID_SHARED,
        Severity.BLOCKING,
        ("id_number", "full_name", "date_of_birth"),
        "Số giấy tờ {id_number} còn có ở {other_persons} người khác có họ tên hoặc ngày sinh khác.",
        "The ID {id_number} is also on {other_persons} other person(s) with another name or birth date.",
        {"id_number": p.id_number, "other_persons": others},
    )


def person_evaluate_every_rule(
    p: PersonSnapshot, doses: list[DoseSnapshot], params: Parameters
) -> list[FindingDraft]:
    """Every rule's ``check`` in turn: what ``person_evaluate`` must always return."""
    return [draft for rule in RULES for draft in rule.check(p, doses, params)]


def person_evaluate(p: PersonSnapshot, doses: list[DoseSnapshot], params: Parameters) -> list[FindingDraft]:  # noqa: C901 — one cheap pre-test per rule on the full scan's hot path, in RULES order
    """The drafts of every rule, in ``RULES`` order, as ``person_evaluate_every_rule`` gives them.

    A full scan runs this for millions of persons, almost all of them clean, so a rule's ``check`` runs
    only when a cheap test that every finding of that rule needs (a necessary condition, never a
    sufficient one) passes, and what several rules need (the doses in date order) is worked out once.
    """
    found: list[FindingDraft] = []
    add = found.extend
    name = p.full_name
    if not name.strip():
        add(NAME_MISSING.check(p, doses, params))
    year = p.birth_year
    if year is None and not p.birth_date_raw:
        add(DOB_MISSING.check(p, doses, params))
    if not p.gender:
        add(GENDER_MISSING.check(p, doses, params))
    id_type = p.id_type
    if not id_type:
        if not p.id_number:
            add(ID_MISSING.check(p, doses, params))
        else:
            add(ID_FORMAT.check(p, doses, params))
    elif id_type == "INVALID":
        add(ID_FORMAT.check(p, doses, params))
    if p.id_repaired:
        add(ID_LEADING_ZEROS.check(p, doses, params))
    if id_type == "CCCD":
        info = _cccd_facts(p.id_number)
        if info is not None:
            if info.province_name is None:
                add(ID_PROVINCE_CODE.check(p, doses, params))
            if p.gender in ("M", "F") and info.gender != p.gender:
                add(ID_GENDER_MISMATCH.check(p, doses, params))
            if year is not None and info.birth_year != year:
                add(ID_BIRTHYEAR_MISMATCH.check(p, doses, params))
    # Only a year before the earliest one, outside the calendar, or not yet over can make a birth date
    # invalid (or no year with text that could not be read).
    if (
        bool(p.birth_date_raw)
        if year is None
        else (year < params.min_birth_year or year < 1 or year >= params.today.year)
    ):
        add(DOB_INVALID.check(p, doses, params))
    if name:
        suspect, diacritics = _name_facts(name)
        if suspect:
            add(NAME_SUSPECT.check(p, doses, params))
        elif not diacritics and id_type != "PASSPORT":
            add(NAME_NO_DIACRITICS.check(p, doses, params))
    if p.phone and not normalize_phone(p.phone)[1]:
        add(PHONE_INVALID.check(p, doses, params))
    if doses:
        _doses_evaluate(p, doses, params, found)
    return found


def _doses_evaluate(p: PersonSnapshot, doses: Doses, params: Parameters, found: list[FindingDraft]) -> None:
    add = found.extend
    dates = [d.vaccination_date for d in doses]
    first, last = min(dates), max(dates)
    if last > params.today:
        add(DOSE_DATE_FUTURE.check(p, doses, params))
    if first < params.campaign_start:
        add(DOSE_BEFORE_CAMPAIGN.check(p, doses, params))
    born = earliest_birth(p)
    if born is not None and first < born:
        add(DOSE_BEFORE_BIRTH.check(p, doses, params))
    for d in doses:
        if d.vaccine_id is None and d.vaccine_raw:
            add(DOSE_VACCINE_UNKNOWN.check(p, doses, params))
            break
    if len(doses) > 1:
        if len(set(dates)) < len(dates):  # a duplicate has the date of another dose
            add(DOSE_DUPLICATE.check(p, doses, params))
            ordered = distinct_doses(doses)
        else:  # no two doses on one day: nothing for distinct_doses to leave out
            ordered = valid_doses_in_order(doses)
        conflicts = _conflicts_in(ordered)
        if conflicts:
            add(DOSE_NUMBER_CONFLICT.drafts(conflicts))
        add(DOSE_INTERVAL_SHORT.drafts(ordered, conflicts, params))
    # Age only grows with the date: old enough at the first dose for every vaccine, old enough for all.
    if born is not None and (first < born or months_between(born, first) < params.max_min_age_months):
        add(DOSE_AGE_INELIGIBLE.check(p, doses, params))
