"""Synthetic dose records for one province: realistic people and doses, some of them deliberately wrong.

Pure Python, no ORM: ``synth.selectors.synth_place_get`` reads the province's communes and facilities,
and ``DoseFileGenerator`` turns a seed into a stream of persons, each with its dose rows (SPEC §3
template) and the ground truth of the defects injected into them. The stream is memory-flat: nothing
grows with the number of persons except a few bounded counters, and the same seed always yields the
same rows.
"""

import datetime as dt
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random

from vaxreg.core.cccd import build_cccd
from vaxreg.imports.headers import TEMPLATE_HEADERS_KEYS, TEMPLATE_HEADERS_VI
from vaxreg.synth.defects import DefectRates, name_typo
from vaxreg.synth.tables import Tables, strip_diacritics, tables

# The dose import's template (SPEC §3): the file's headers as facilities write them, and the field names by
# which the ground truth names the columns.
HEADERS: tuple[str, ...] = TEMPLATE_HEADERS_VI
FIELDS: tuple[str, ...] = TEMPLATE_HEADERS_KEYS
TRUTH_HEADERS: tuple[str, ...] = (
    "facility_code",
    "source_record_id",
    "person_key",
    "defect",
    "field",
    "original_value",
    "injected_value",
)
NAME, DOB, GENDER, ID, PHONE, ADDRESS, COMMUNE, FACILITY, SRID, VDATE, DOSE_NO, VACCINE, LOT = range(13)

# How a spreadsheet would hold a cell: the CSV is text either way, the .xlsx writer follows these flags.
DOB_DATE_CELL = 1
VDATE_DATE_CELL = 2
ID_NUMBER_CELL = 4

# Defects that need a certain kind of person to be possible without also causing other findings.
_NEEDS_CCCD = frozenset(
    {
        "ID_GENDER_MISMATCH",
        "ID_BIRTHYEAR_MISMATCH",
        "ID_LEADING_ZEROS",
        "ID_SHARED",
        "ID_FORMAT",
        "DUPLICATE_SUSPECT",
    }
)
_NEEDS_FULL_DOB = frozenset({"DOB_SWAPPED", "DOB_INVALID", "DOSE_BEFORE_BIRTH"})
_NEEDS_ADULT = frozenset({"DOSE_BEFORE_CAMPAIGN", "DOSE_BEFORE_BIRTH"})
_NEEDS_TWO_DOSES = frozenset({"DUPLICATE_SUSPECT", "DOSE_NUMBER_CONFLICT", "DOSE_INTERVAL_SHORT"})
# Two-dose vaccines whose catalogue minimum interval is at least 21 days: 7–17 days is short for all of them.
_SHORT_INTERVAL_VACCINES = frozenset({"ASTRAZENECA", "COMIRNATY", "SPIKEVAX", "VEROCELL"})
_ADULT_ONLY_FOR_TEENS = ("VEROCELL", "ASTRAZENECA")
_LATEST_ADULT_BIRTH_YEAR = 2001  # 18 before the campaign started: every date rule applies as an adult
_DONOR_POOL = 64
# A file is generated in blocks of persons, each from its own random stream, so that blocks can run in
# parallel and a file's first persons do not depend on how many follow. Counters that must be unique
# across the file (ID serials, source record ids) interleave the block number with a per-block count.
BLOCK_PERSONS = 10_000
MAX_BLOCKS = 1_000


@dataclass(frozen=True)
class SynthCommune:
    code: str
    name: str
    urban: bool
    cccd_code: str  # the old province most of the commune came from: the CCCD prefix of people born there
    legacy_codes: tuple[str, ...]  # its old commune codes that are not also 2025 codes


@dataclass(frozen=True)
class SynthPlace:
    province_code: str
    communes: tuple[SynthCommune, ...]
    facilities: tuple[tuple[str, str], ...]  # (facility code, commune code)
    cccd_codes: tuple[str, ...]  # every CCCD province code: some people were born elsewhere
    south: bool  # hamlets are "ấp" in the south, "thôn" elsewhere


@dataclass(slots=True)
class SynthRow:
    cells: list[str]
    flags: int


TruthRow = tuple[str, str, str, str, str, str, str]
# The persons file: every row's true person (facility code, source record id, person key).
PERSONS_HEADERS: tuple[str, ...] = ("facility_code", "source_record_id", "person_key")


@dataclass(slots=True)
class PersonRows:
    key: str
    rows: list[SynthRow]
    truth: list[TruthRow]
    defect: str | None


@dataclass(frozen=True)
class KinRates:
    """Record-linkage realism (off unless asked for, so files without it stay as they were).

    ``relatives``: share of persons drawn as a relative of a recent person — a twin, a sibling, a parent or a
    child sharing the surname, phone, address and commune — or a namesake (the same full name and birth
    year in the province): the hard non-matches. With it, a DUPLICATE_SUSPECT person's second record varies
    as real ones do: diacritics dropped wholly or partly, middle name dropped, typos, day and month swapped,
    only the year, the ID missing, mistyped, an old CMND or without its leading zeros, another phone,
    another commune.
    """

    relatives: float = 0.06


_KIN_POOL = 256


@dataclass(slots=True)
class _Dose:
    day: int  # date ordinal
    number: int
    vaccine: str
    facility: str
    typed: str
    lot: str
    truth: tuple[str, str, str] | None = None  # (field, original, injected) of a dose-level defect
    duplicate_of: int | None = None  # index of the dose this row repeats
    other_record: bool = False  # recorded by another facility under a mistyped name (DUPLICATE_SUSPECT)


@dataclass(slots=True)
class _Person:
    key: str
    gender: str  # "M" / "F"
    year: int
    month: int
    day: int
    birth: int  # ordinal
    precision: str  # "d" full date, "m" month and year, "y" year only
    name: str = ""
    foreign: bool = False
    cccd_code: str = ""
    id_kind: str = "CCCD"
    id_number: str = ""
    phone: str = ""
    commune: SynthCommune | None = None
    home_facility: str = ""
    adult_from: int = 0  # ordinal of the 18th birthday
    first_dose: int = 0  # set in advance only when a defect needs a particular first dose
    cells: list[str] = field(default_factory=list)  # the identity cells NAME..COMMUNE
    flags: int = 0
    truth: tuple[str, str, str] | None = None  # (field, original, injected) of a person-level defect
    other_record: tuple[str, str] | None = None  # (mistyped name, CMND) another facility recorded
    other_cells: dict[int, str] | None = None  # the identity cells another facility recorded differently


class DoseFileGenerator:
    """Draws the persons of one block; ``persons(n)`` yields them with their rows and ground truth."""

    def __init__(
        self,
        *,
        place: SynthPlace,
        seed: int = 0,
        rates: DefectRates | None = None,
        block: int = 0,
        kin: KinRates | None = None,
    ) -> None:
        if not place.communes:
            raise ValueError(f"province {place.province_code} has no communes")
        if not place.facilities:
            raise ValueError(f"province {place.province_code} has no facilities")
        self.t: Tables = tables()
        self.place = place
        if not 0 <= block < MAX_BLOCKS:
            raise ValueError(f"block must be within 0–{MAX_BLOCKS - 1}, got {block}")
        self.block = block
        self.rng = Random(f"vaxreg-synth:{place.province_code}:{seed}:{block}")
        # Lots come from their own stream so that the lot cache never shifts the main draws.
        self._lot_rng = Random(f"vaxreg-synth-lots:{place.province_code}:{seed}:{block}")
        # Relatives and duplicate variants come from a stream of their own: without ``kin`` nothing changes.
        self.kin = kin
        self._kin_rng = Random(f"vaxreg-synth-kin:{place.province_code}:{seed}:{block}")
        self._households: deque[_Person] = deque(maxlen=_KIN_POOL)
        rates = rates if rates is not None else DefectRates()
        self._defect_codes: list[str] = []
        self._defect_cum: list[float] = []
        total = 0.0
        for code, rate in rates.by_code().items():
            if rate > 0:
                total += rate
                self._defect_codes.append(code)
                self._defect_cum.append(total)
        pop = self.t.population
        self._pop = pop
        self._facility_codes = [code for code, _ in place.facilities]
        self._facilities_by_commune: dict[str, list[str]] = {}
        for code, commune_code in place.facilities:
            self._facilities_by_commune.setdefault(commune_code, []).append(code)
        self._marked_names = frozenset(
            n
            for table in (self.t.surnames, *self.t.middle.values(), *self.t.given.values())
            for n in table.values
            if strip_diacritics(n) != n
        )
        self._srid_next: dict[str, int] = {}
        self._cccd_next: dict[tuple[str, str, int], list] = {}  # → [first six digits, offset, count]
        self._cmnd_next: dict[str, int] = {}
        self._reserved_next: dict[tuple[str, str, int], int] = {}
        self._passport_next = 0
        self._donors: deque[tuple[str, str, str, int, list[tuple[str, str]]]] = deque(maxlen=_DONOR_POOL)
        self._day_text: dict[int, tuple[str, str, int]] = {}
        self._lots: dict[tuple[str, int, int], str] = {}
        self._year_start = {y: dt.date(y, 1, 1).toordinal() for y in range(1700, 2300)}
        self._prefixes: tuple[str, ...] = tuple(pop["mobile_prefixes"])
        self._hamlet = "ấp" if place.south else "thôn"
        self._at_home = pop["dose_at_home_facility_share"]
        self._lot_missing = pop["lot_missing_share"]
        self._typed = {
            code: (v.typed.values, v.typed.cum, v.typed.cum[-1]) for code, v in self.t.vaccines.items()
        }
        vaccination = self.t.vaccination
        self._minor_vaccine: str = vaccination["minor_vaccine"]
        # vaccine → (primary doses, shortest interval, interval span, mixed second-dose vaccine, its share)
        self._schedule: dict[str, tuple[int, int, int, str, float]] = {}
        for code, v in self.t.vaccines.items():
            mixed = vaccination["mixed_second_dose"].get(code) or {"vaccine": "", "share": 0.0}
            low, high = v.interval_days
            self._schedule[code] = (
                v.primary_doses,
                low,
                high - low + 1,
                mixed["vaccine"],
                float(mixed["share"]),
            )
        self._boosters = tuple(
            (interval[0], interval[1] - interval[0] + 1, start)
            for interval, start in (
                (vaccination["booster_interval_days"], self.t.booster_start),
                (vaccination["second_booster_interval_days"], self.t.second_booster_start),
            )
        )

    # --- the stream ---------------------------------------------------------------------------

    def persons(self, count: int) -> Iterator[PersonRows]:
        if count > BLOCK_PERSONS:
            raise ValueError(f"a block holds at most {BLOCK_PERSONS} persons")
        first = self.block * BLOCK_PERSONS
        for index in range(first, first + count):
            yield self._person(f"P{index + 1:08d}")

    def _unique(self, count: int, capacity: int) -> int:
        """The file-wide index of a block's ``count``-th item, distinct across blocks below ``capacity``."""
        index = self.block + MAX_BLOCKS * count
        if index >= capacity:
            raise OverflowError("too many persons in one ID bucket for unique synthetic numbers")
        return index

    def _person(self, key: str) -> PersonRows:
        r = self.rng.random
        u = r()
        defect = None
        if self._defect_cum and u < self._defect_cum[-1]:
            for code, edge in zip(self._defect_codes, self._defect_cum, strict=True):
                if u < edge:
                    defect = code
                    break
        donor = None
        if defect == "ID_SHARED":
            donor = self._donors.popleft() if self._donors else None
            if donor is None:
                defect = None
        foreign = defect is None and r() < self._pop["foreigner_share"]
        dob_variant = ""
        if defect == "DOB_INVALID":
            v = r()
            dob_variant = "impossible" if v < 0.6 else ("future" if v < 0.8 else "past")

        anchor, kind = self._kin_pick(defect, foreign)
        p = self._identity(
            key,
            defect=defect,
            foreign=foreign,
            donor=donor,
            dob_variant=dob_variant,
            kin_year=self._kin_year(anchor, kind),
        )
        if anchor is not None:
            self._kin_apply(p, anchor, kind)
        doses = self._doses(p, defect)
        if defect in _NEEDS_TWO_DOSES and len(doses) < 2:
            defect = None  # the campaign ended before a second dose: nothing to break
        if defect == "DUPLICATE_SUSPECT" and len(self._facility_codes) < 2:
            defect = None
        self._identity_cells(p)
        if anchor is not None and kind != "namesake":
            p.cells[ADDRESS] = anchor.cells[ADDRESS]
            p.cells[COMMUNE] = anchor.cells[COMMUNE]
        if defect is not None:
            self._inject(p, doses, defect, donor=donor, dob_variant=dob_variant)
        if self.kin is not None and defect is None and not foreign and p.phone:
            self._households.append(p)
        return self._render(p, doses, defect, donor=donor)

    # --- relatives and namesakes (KinRates) -------------------------------------------------------

    def _kin_pick(self, defect: str | None, foreign: bool) -> tuple["_Person | None", str]:
        if self.kin is None or defect is not None or foreign or not self._households:
            return None, ""
        r = self._kin_rng.random
        if r() >= self.kin.relatives:
            return None, ""
        anchor = self._households[int(r() * len(self._households))]
        u = r()
        kind = (
            "twin"
            if u < 0.2
            else "sibling"
            if u < 0.55
            else "parent"
            if u < 0.75
            else "child"
            if u < 0.85
            else "namesake"
        )
        if kind == "child" and anchor.year > 1995 or kind == "parent" and anchor.year < 1935:
            kind = "sibling"
        return anchor, kind

    def _kin_year(self, anchor: "_Person | None", kind: str) -> int | None:
        if anchor is None:
            return None
        r = self._kin_rng.random
        if kind in ("twin", "namesake"):
            return anchor.year
        if kind == "sibling":
            year = anchor.year + (1 + int(r() * 8)) * (1 if r() < 0.5 else -1)
        elif kind == "parent":
            year = anchor.year - 20 - int(r() * 16)
        else:
            year = anchor.year + 20 + int(r() * 16)
        return max(1925, min(year, 2015))

    def _kin_apply(self, p: _Person, anchor: _Person, kind: str) -> None:
        """Make ``p`` the ``kind`` of ``anchor``: a household shares surname, phone and commune."""
        if kind == "namesake":
            p.name = anchor.name
            return
        words, anchor_words = p.name.split(" "), anchor.name.split(" ")
        words[0] = anchor_words[0]
        if words[-1] == anchor_words[-1]:  # two children of one family do not share a given name
            words[-1] = self.t.given[p.gender].pick(self._kin_rng.random())
            if words[-1] == anchor_words[-1]:
                words[-1] = "Khang" if p.gender == "M" else "Nhi"
        p.name = " ".join(words)
        p.phone = anchor.phone
        p.commune = anchor.commune
        if kind == "twin" and p.year == anchor.year:
            p.month, p.day, p.birth, p.precision = anchor.month, anchor.day, anchor.birth, anchor.precision

    def _duplicate_cells(self, p: _Person, typo: str) -> dict[int, str]:
        """The identity cells of the second record of a person recorded twice, varied as real ones vary."""
        r = self._kin_rng.random
        cells: dict[int, str] = {}
        u = r()
        if u < 0.2:
            cells[NAME] = p.name  # typed right: the records differ elsewhere (ID, birth date, phone, commune)
        elif u < 0.4:
            cells[NAME] = strip_diacritics(p.name)
        elif u < 0.5:
            words = p.name.split(" ")
            i = int(r() * len(words))
            words[i] = strip_diacritics(words[i])
            cells[NAME] = " ".join(words)
        elif u < 0.62 and len(p.name.split(" ")) >= 3:
            words = p.name.split(" ")
            cells[NAME] = " ".join([words[0], words[-1]])
        else:
            cells[NAME] = typo
        if p.precision == "d":
            u = r()
            if u < 0.12 and p.day <= 12 and p.day != p.month:
                cells[DOB] = f"{p.month:02d}/{p.day:02d}/{p.year}"
            elif u < 0.2:
                cells[DOB] = str(p.year)
            elif u < 0.25:
                day = p.day + 1 if p.day < 28 else p.day - 1  # one digit typed wrong
                cells[DOB] = f"{day:02d}/{p.month:02d}/{p.year}"
        u = r()
        if u < 0.3:
            cells[ID] = ""
        elif u < 0.55:
            cells[ID] = self._cmnd(p.cccd_code)
        elif u < 0.65 and p.id_kind == "CCCD":
            i = 6 + int(r() * 6)
            digit = str((int(p.id_number[i]) + 1 + int(r() * 8)) % 10)
            cells[ID] = p.id_number[:i] + digit + p.id_number[i + 1 :]
        u = r()
        if u < 0.35:
            cells[PHONE] = ""
        elif u < 0.6:
            cells[PHONE] = f"{self._prefixes[int(r() * len(self._prefixes))]}{int(r() * 10_000_000):07d}"
        if r() < 0.4:
            commune = self.place.communes[int(r() * len(self.place.communes))]
            cells[COMMUNE] = commune.code
            cells[ADDRESS] = self._address(commune)
        return cells

    # --- who --------------------------------------------------------------------------------

    def _birth(self, *, adult: bool, year: int | None = None) -> tuple[int, int, int, int]:
        r = self.rng.random
        if year is None:
            while True:
                low, high = self.t.birth_bands.pick(r())
                year = low + int(r() * (high - low + 1))
                if not adult or year <= _LATEST_ADULT_BIRTH_YEAR:
                    break
        start = self._year_start[year]
        ordinal = start + int(r() * (self._year_start[year + 1] - start))
        day = dt.date.fromordinal(ordinal)
        return year, day.month, day.day, ordinal

    def _identity(  # noqa: C901 — one branch per kind of person, side by side
        self,
        key: str,
        *,
        defect: str | None,
        foreign: bool,
        donor: tuple | None,
        dob_variant: str,
        kin_year: int | None = None,
    ) -> _Person:
        r = self.rng.random
        pop = self._pop
        gender = donor[2] if donor else ("M" if r() < 0.5 else "F")
        first_dose = 0
        if defect == "DOSE_AGE_INELIGIBLE":
            # A teenager (13–17) given an adults-only vaccine during the 2021 adult campaign.
            first_dose = dt.date(2021, 8, 1).toordinal() + int(r() * 80)
            birth = first_dose - 13 * 365 - int(r() * 4 * 365)
            b = dt.date.fromordinal(birth)
            year, month, day = b.year, b.month, b.day
        else:
            adult = foreign or defect in _NEEDS_ADULT or dob_variant in ("future", "past")
            year, month, day, birth = self._birth(adult=adult, year=donor[3] if donor else kin_year)
        precision = "d"
        if year < pop["elderly_before_year"] and defect not in _NEEDS_FULL_DOB:
            v = r()
            if v < pop["elderly_year_only_share"]:
                precision = "y"
            elif v < pop["elderly_year_only_share"] + pop["elderly_month_year_share"]:
                precision = "m"
        p = _Person(key=key, gender=gender, year=year, month=month, day=day, birth=birth, precision=precision)
        p.first_dose = first_dose
        if defect == "DOB_SWAPPED" and p.day == p.month:
            p.day = p.day + 1  # a swap must change the date; day 13 keeps it valid for every month
            p.birth += 1
        p.foreign = foreign
        # Born by 2002: an adult on every vaccination day, and 1 January of the 18th year is close enough.
        p.adult_from = self._year_start[year + 18] if year <= 2002 else self._birthday(p, 18)
        p.commune = self.place.communes[int(r() * len(self.place.communes))]
        p.name = self._foreign_name(gender) if foreign else self._name(gender, year)
        self._id(p, defect=defect, dob_variant=dob_variant)
        self._phone(p, defect)
        in_commune = self._facilities_by_commune.get(p.commune.code)
        if in_commune and r() < pop["home_facility_in_commune_share"]:
            p.home_facility = in_commune[int(r() * len(in_commune))]
        else:
            p.home_facility = self._facility_codes[int(r() * len(self._facility_codes))]
        return p

    def _birthday(self, p: _Person, age: int) -> int:
        try:
            return dt.date(p.year + age, p.month, p.day).toordinal()
        except ValueError:  # born on 29 February
            return dt.date(p.year + age, 3, 1).toordinal()

    def _name(self, gender: str, year: int) -> str:
        r = self.rng.random
        t = self.t
        young = year >= self._pop["young_names_from_year"]
        parts = [t.surnames.pick(r())]
        u = r()
        if u >= self._pop["no_middle_name_share"]:
            middle = t.middle[(gender, young)].pick(r())
            parts.append(middle)
            if u > 1.0 - self._pop["second_middle_name_share"]:
                second = t.middle[(gender, True)].pick(r())
                if second != middle:
                    parts.append(second)
        given = t.given[gender].pick(r())
        marked = self._marked_names
        if given not in marked and not any(part in marked for part in parts):
            given = t.given_with_diacritics[gender].pick(r())
        parts.append(given)
        return " ".join(parts)

    def _foreign_name(self, gender: str) -> str:
        names = self.t.foreign_names[gender]
        return names[int(self.rng.random() * len(names))]

    def _id(self, p: _Person, *, defect: str | None, dob_variant: str) -> None:
        r = self.rng.random
        pop = self._pop
        assert p.commune is not None
        if r() < pop["cccd_other_province_share"]:
            p.cccd_code = self.place.cccd_codes[int(r() * len(self.place.cccd_codes))]
        else:
            p.cccd_code = p.commune.cccd_code
        if p.foreign:
            p.id_kind = "PASSPORT"
            index = self._unique(self._passport_next, 10_000_000)
            self._passport_next += 1
            letter = "BCEGKNP"[index % 7]
            p.id_number = f"{letter}{(index * 7_654_321 + 1_234_567) % 10_000_000:07d}"
            return
        if defect in _NEEDS_CCCD:
            cmnd = False
        elif defect == "DOSE_BEFORE_BIRTH" or dob_variant in ("future", "past"):
            cmnd = True  # a CCCD would contradict the injected birth date on its own
        elif p.year < 1980:
            cmnd = r() < pop["cmnd_share_born_before_1980"]
        elif p.year <= 2003:
            cmnd = r() < pop["cmnd_share_born_1980_2003"]
        else:
            cmnd = False
        if cmnd:
            p.id_kind = "CMND"
            p.id_number = self._cmnd(p.cccd_code)
        else:
            p.id_kind = "CCCD"
            p.id_number = self._cccd(p.cccd_code, p.gender, p.year)

    def _cccd(self, province: str, gender: str, year: int) -> str:
        """A CCCD nobody else in the file has: serials run through a permutation per prefix and year."""
        key = (province, gender, year)
        bucket = self._cccd_next.get(key)
        if bucket is None:
            first = build_cccd(province_code=province, gender=gender, birth_year=year, serial=0)
            offset = (int(province) * 1_009 + year * 13 + (gender == "F") * 4_999) * 7_919
            bucket = self._cccd_next[key] = [first[:6], offset, 0]
        index = self._unique(bucket[2], 900_000)
        bucket[2] += 1
        # 7_777_777 is coprime with 900_000, so indexes 0..899_999 give distinct serials below 900_000;
        # serials from 900_000 up are kept for IDs a defect alters, so they cannot hit a real one.
        return f"{bucket[0]}{(index * 7_777_777 + bucket[1]) % 900_000:06d}"

    def _altered_cccd(self, province: str, gender: str, year: int) -> str:
        """A CCCD a defect made up: its serial comes from the reserved range, so it is nobody's real ID."""
        key = (province, gender, year)
        count = self._reserved_next.get(key, 0)
        self._reserved_next[key] = count + 1
        serial = 900_000 + (self._unique(count, 100_000) * 7_919) % 100_000
        return build_cccd(province_code=province, gender=gender, birth_year=year, serial=serial)

    def _cmnd(self, cccd_code: str) -> str:
        prefix = self.t.cmnd_prefix.get(cccd_code, "01")
        count = self._cmnd_next.get(prefix, 0)
        self._cmnd_next[prefix] = count + 1
        index = self._unique(count, 10_000_000)
        return f"{prefix}{(index * 3_141_593 + int(prefix) * 7_919) % 10_000_000:07d}"

    def _phone(self, p: _Person, defect: str | None) -> None:
        r = self.rng.random
        pop = self._pop
        if defect != "PHONE_INVALID" and r() < pop["phone_missing_share"]:
            p.phone = ""
            return
        prefix = self._prefixes[int(r() * len(self._prefixes))]
        p.phone = f"{prefix}{int(r() * 10_000_000):07d}"

    def _phone_cell(self, phone: str) -> str:
        if not phone:
            return ""
        u = self.rng.random()
        if u < self._pop["phone_spaced_share"]:
            return f"{phone[:4]} {phone[4:7]} {phone[7:]}"
        if u < self._pop["phone_spaced_share"] + self._pop["phone_plus84_share"]:
            return "+84" + phone[1:]
        return phone

    def _address(self, commune: SynthCommune) -> str:
        r = self.rng.random
        number = 1 + int(r() * 250)
        house = f"Số {number}/{1 + int(r() * 30)}" if r() < 0.15 else f"Số {number}"
        if commune.urban:
            if r() < self._pop["address_street_share_urban"]:
                street = self.t.streets[int(r() * len(self.t.streets))]
                return f"{house}, đường {street}, {commune.name}"
            return f"{house}, tổ {1 + int(r() * 40)}, {commune.name}"
        if r() < 0.5:
            return f"{house}, {self._hamlet} {1 + int(r() * 15)}, {commune.name}"
        village = self.t.villages[int(r() * len(self.t.villages))]
        return f"{house}, {self._hamlet} {village}, {commune.name}"

    def _identity_cells(self, p: _Person) -> None:
        r = self.rng.random
        pop = self._pop
        flags = 0
        if p.precision == "y":
            dob = str(p.year)
        elif p.precision == "m":
            dob = f"{p.month:02d}/{p.year}"
        else:
            dmy, iso, _ = self._text(p.birth)
            u = r()
            if u < pop["dob_date_cell_share"]:
                dob, flags = dmy, DOB_DATE_CELL
            elif u < pop["dob_date_cell_share"] + pop["dob_iso_text_share"]:
                dob = iso
            else:
                dob = dmy
        gender = p.gender if r() < pop["gender_letter_share"] else ("Nam" if p.gender == "M" else "Nữ")
        commune = p.commune
        assert commune is not None
        u = r()
        if u < pop["commune_missing_share"]:
            commune_cell = ""
        elif commune.legacy_codes and u < pop["commune_missing_share"] + pop["commune_legacy_code_share"]:
            commune_cell = commune.legacy_codes[int(r() * len(commune.legacy_codes))]
        else:
            commune_cell = commune.code
        p.cells = [
            p.name,
            dob,
            gender,
            p.id_number,
            self._phone_cell(p.phone),
            self._address(commune),
            commune_cell,
        ]
        p.flags = flags

    # --- what was given -----------------------------------------------------------------------

    def _doses(self, p: _Person, defect: str | None) -> list[_Dose]:
        r = self.rng.random
        t = self.t
        if defect == "DOSE_AGE_INELIGIBLE":
            first, count = p.first_dose, 2
            primary = _ADULT_ONLY_FOR_TEENS[int(r() * len(_ADULT_ONLY_FOR_TEENS))]
        else:
            first, group = self._first_dose(p)
            count = t.dose_counts[group].pick(r())
            if defect in _NEEDS_TWO_DOSES:
                count = max(count, 2)
            if first < p.adult_from:
                primary = self._minor_vaccine
            else:
                primary = t.primary_mix.pick(r())
                if defect == "DOSE_INTERVAL_SHORT":
                    while primary not in _SHORT_INTERVAL_VACCINES:
                        primary = t.primary_mix.pick(r())
        primary_doses, low, span, mixed, mixed_share = self._schedule[primary]
        days = [first]
        vaccines = [primary]
        previous = first
        for number in range(2, count + 1):
            if number <= primary_doses:
                day = previous + low + int(r() * span)
                vaccine = primary
                if number == 2 and mixed and defect != "DOSE_INTERVAL_SHORT" and r() < mixed_share:
                    vaccine = mixed
            else:
                booster = number - primary_doses
                if booster > 2:
                    break  # Vietnam gave at most two boosters
                earliest = self._boosters[booster - 1][2]
                # A fourth dose waits the second-booster interval even when it is a first booster (Abdala).
                booster_low, booster_span, _ = self._boosters[1 if number == 4 else booster - 1]
                day = previous + booster_low + int(r() * booster_span)
                if day < earliest:
                    day = earliest + int(r() * 45)
                vaccine = self._minor_vaccine if day < p.adult_from else t.booster_mix.pick(r())
            if day > t.last_day:
                break
            days.append(day)
            vaccines.append(vaccine)
            previous = day
        doses = []
        home = p.home_facility
        at_home = self._at_home
        facilities = self._facility_codes
        typed = self._typed
        lot = self._lot
        for number, (day, vaccine) in enumerate(zip(days, vaccines, strict=True), start=1):
            facility = home if r() < at_home else facilities[int(r() * len(facilities))]
            names, cum, total = typed[vaccine]
            doses.append(
                _Dose(
                    day, number, vaccine, facility, names[bisect_right(cum, r() * total)], lot(vaccine, day)
                )
            )
        return doses

    def _first_dose(self, p: _Person) -> tuple[int, str]:
        t = self.t
        start, group = max(t.adult_start, p.adult_from), "adult"
        if p.adult_from <= t.adult_start:  # an adult when the campaign began: the common case
            return t.rollout["adult"].draw(first_day=t.first_day, start=start, u=self.rng.random()), group
        twelve = self._birthday(p, 12)
        teen = max(t.teen_start, twelve)
        if teen < p.adult_from and teen < start:
            start, group = teen, "teen"
        child = max(t.child_start, self._birthday(p, 5))
        if child < twelve and child < start:
            start, group = child, "child"
        return t.rollout[group].draw(first_day=t.first_day, start=start, u=self.rng.random()), group

    def _lot(self, vaccine: str, day: int) -> str:
        r = self.rng.random
        if r() < self._lot_missing:
            return ""
        # A facility receives a few lots of a vaccine a month: about three lots per vaccine and 30 days.
        key = (vaccine, day // 30, int(r() * 3))
        lot = self._lots.get(key)
        if lot is None:
            patterns = self.t.vaccines[vaccine].lot_patterns
            lot = self._lot_from(patterns[int(self._lot_rng.random() * len(patterns))], self._text(day)[2])
            if len(self._lots) > 50_000:
                self._lots.clear()
            self._lots[key] = lot
        return lot

    def _lot_from(self, pattern: str, ym: int) -> str:
        r = self._lot_rng.random
        out = []
        for ch in pattern.replace("{ym}", str(ym)):
            if ch == "#":
                out.append(str(int(r() * 10)))
            elif ch == "@":
                out.append("ABCDEFGHJKLMNPRSTUVWXYZ"[int(r() * 23)])
            else:
                out.append(ch)
        return "".join(out)

    def _text(self, ordinal: int) -> tuple[str, str, int]:
        """(dd/mm/yyyy, yyyy-mm-dd, yyyymm) of a day, cached: the same few hundred days recur."""
        cached = self._day_text.get(ordinal)
        if cached is None:
            d = dt.date.fromordinal(ordinal)
            cached = (f"{d.day:02d}/{d.month:02d}/{d.year:04d}", d.isoformat(), d.year * 100 + d.month)
            if len(self._day_text) > 100_000:
                self._day_text.clear()
            self._day_text[ordinal] = cached
        return cached

    # --- what went wrong ----------------------------------------------------------------------

    def _inject(  # noqa: C901 — one branch per injectable defect code, side by side
        self, p: _Person, doses: list[_Dose], defect: str, *, donor: tuple | None, dob_variant: str
    ) -> None:
        r = self.rng.random
        cells = p.cells
        if defect == "NAME_MISSING":
            p.truth = ("full_name", p.name, "")
            cells[NAME] = ""
        elif defect == "DOB_MISSING":
            p.truth = ("date_of_birth", cells[DOB], "")
            cells[DOB] = ""
            p.flags &= ~DOB_DATE_CELL
        elif defect == "GENDER_MISSING":
            p.truth = ("gender", cells[GENDER], "")
            cells[GENDER] = ""
        elif defect == "ID_MISSING":
            p.truth = ("id_number", p.id_number, "")
            cells[ID] = ""
        elif defect == "ID_FORMAT":
            v = r()
            digits = p.id_number
            if v < 0.6:
                i = 1 + int(r() * 11)
                bad = digits[:i] + digits[i - 1] + digits[i:]  # a digit typed twice: 13 digits
            elif v < 0.8:
                bad = digits + str(int(r() * 90) + 10)  # 14 digits
            else:
                bad = digits[:8]  # cut short
            p.truth = ("id_number", digits, bad)
            cells[ID] = bad
        elif defect == "ID_LEADING_ZEROS":
            stripped = p.id_number.lstrip("0")
            p.truth = ("id_number", p.id_number, stripped)
            cells[ID] = stripped
            p.flags |= ID_NUMBER_CELL
        elif defect == "ID_GENDER_MISMATCH":
            if r() < 0.5:
                swapped = {"Nam": "Nữ", "Nữ": "Nam", "M": "F", "F": "M"}[cells[GENDER]]
                p.truth = ("gender", cells[GENDER], swapped)
                cells[GENDER] = swapped
            else:
                other = "F" if p.gender == "M" else "M"
                bad = self._altered_cccd(p.cccd_code, other, p.year)
                p.truth = ("id_number", p.id_number, bad)
                cells[ID] = bad
        elif defect == "ID_BIRTHYEAR_MISMATCH":
            shift = (1, 2, 3, 5, 9, 10, 20)[int(r() * 7)]
            year = p.year - p.year % 100 + (p.year % 100 + shift) % 100  # the century digit stays
            bad = self._altered_cccd(p.cccd_code, p.gender, year)
            p.truth = ("id_number", p.id_number, bad)
            cells[ID] = bad
        elif defect == "ID_SHARED":
            assert donor is not None
            p.truth = ("id_number", p.id_number, donor[1])
            cells[ID] = donor[1]
        elif defect == "DOB_INVALID":
            if dob_variant == "future":
                bad = f"{p.day:02d}/{p.month:02d}/21{p.year % 100:02d}"
            elif dob_variant == "past":
                bad = f"{p.day:02d}/{p.month:02d}/18{p.year % 100:02d}"
            else:
                options = [tuple(x) for x in self.t.defects["impossible_dates"]]
                if p.year % 4 or (p.year % 100 == 0 and p.year % 400):
                    options.append((29, 2))
                day, month = options[int(r() * len(options))]
                bad = f"{day:02d}/{month:02d}/{p.year}"
            p.truth = ("date_of_birth", self._text(p.birth)[0], bad)
            cells[DOB] = bad
            p.flags &= ~DOB_DATE_CELL
        elif defect == "DOB_SWAPPED":
            bad = f"{p.month:02d}/{p.day:02d}/{p.year}"
            p.truth = ("date_of_birth", self._text(p.birth)[0], bad)
            cells[DOB] = bad
            p.flags &= ~DOB_DATE_CELL
        elif defect == "NAME_SUSPECT":
            v = r()
            pool = self.t.defects
            if v < 0.35:
                bad = pool["placeholder_names"][int(r() * len(pool["placeholder_names"]))]
            elif v < 0.75:
                bad = p.name + pool["name_suffixes"][int(r() * len(pool["name_suffixes"]))]
            else:
                words = p.name.split(" ")
                bad = words[-1] if r() < 0.7 else words[0]
            p.truth = ("full_name", p.name, bad)
            cells[NAME] = bad
        elif defect == "NAME_NO_DIACRITICS":
            bad = strip_diacritics(p.name)
            p.truth = ("full_name", p.name, bad)
            cells[NAME] = bad
        elif defect == "PHONE_INVALID":
            bad = self._invalid_phone(p.phone)
            p.truth = ("phone", p.phone, bad)
            cells[PHONE] = bad
        elif defect == "DOSE_BEFORE_BIRTH":
            # The birth date typed as a day after the last dose (a child's date of birth, or a typo).
            wrong = doses[-1].day + 1 + int(r() * 60)
            bad = self._text(wrong)[0]
            p.truth = ("date_of_birth", self._text(p.birth)[0], bad)
            cells[DOB] = bad
            p.flags &= ~DOB_DATE_CELL
        else:
            self._inject_dose(p, doses, defect)

    def _invalid_phone(self, phone: str) -> str:
        v = self.rng.random()
        if v < 0.35:
            return "01" + "26789"[int(self.rng.random() * 5)] + phone[2:]  # pre-2018 11-digit number
        if v < 0.6:
            return phone[:-1]  # a digit missing
        if v < 0.85:
            return phone + phone[-1]  # a digit too many
        return ("0000000000", "0123456789", "1111111111")[int(self.rng.random() * 3)]

    def _inject_dose(self, p: _Person, doses: list[_Dose], defect: str) -> None:
        r = self.rng.random
        if defect == "DOSE_DATE_FUTURE":
            dose = doses[-1]
            d = dt.date.fromordinal(dose.day)
            wrong = d.replace(year=d.year + 20).toordinal()  # "2021" typed as "2041"
            dose.truth = ("vaccination_date", self._text(dose.day)[0], self._text(wrong)[0])
            dose.day = wrong
        elif defect == "DOSE_BEFORE_CAMPAIGN":
            dose = doses[0]
            wrong = dt.date.fromordinal(dose.day).replace(year=2020).toordinal()
            dose.truth = ("vaccination_date", self._text(dose.day)[0], self._text(wrong)[0])
            dose.day = wrong
        elif defect == "DOSE_VACCINE_UNKNOWN":
            dose = doses[int(r() * len(doses))]
            names = self.t.defects["unknown_vaccines"]
            bad = names[int(r() * len(names))]
            dose.truth = ("vaccine", dose.typed, bad)
            dose.typed = bad
        elif defect == "DOSE_DUPLICATE":
            i = int(r() * len(doses))
            original = doses[i]
            copy = _Dose(
                day=original.day,
                number=original.number,
                vaccine=original.vaccine,
                facility=original.facility,
                typed=original.typed,
                lot=original.lot,
                duplicate_of=i,
            )
            doses.insert(i + 1, copy)
        elif defect == "DOSE_NUMBER_CONFLICT":
            i = int(r() * (len(doses) - 1))
            first, second = doses[i], doses[i + 1]
            if r() < 0.6:  # two doses with their numbers swapped
                first.truth = ("dose_number", str(first.number), str(second.number))
                second.truth = ("dose_number", str(second.number), str(first.number))
                first.number, second.number = second.number, first.number
            else:  # a later dose recorded under the earlier dose's number
                second.truth = ("dose_number", str(second.number), str(first.number))
                second.number = first.number
        elif defect == "DOSE_INTERVAL_SHORT":
            dose = doses[1]
            wrong = doses[0].day + 7 + int(r() * 11)
            dose.truth = ("vaccination_date", self._text(dose.day)[0], self._text(wrong)[0])
            dose.day = wrong
        elif defect == "DOSE_AGE_INELIGIBLE":
            for dose in doses:
                if dose.vaccine in _ADULT_ONLY_FOR_TEENS and dose.day < p.adult_from:
                    dose.truth = ("vaccine", "", dose.typed)
        elif defect == "DUPLICATE_SUSPECT":
            split = 1 + int(r() * (len(doses) - 1))
            other = p.home_facility
            while other == p.home_facility:
                other = self._facility_codes[int(r() * len(self._facility_codes))]
            typo = name_typo(p.name, self.rng)
            for dose in doses[split:]:
                dose.facility = other
                dose.other_record = True
                dose.truth = ("full_name", p.name, typo)
            # The other facility took the old CMND the person still carried, with the mistyped name.
            p.other_record = (typo, self._cmnd(p.cccd_code))
            if self.kin is not None:
                p.other_cells = self._duplicate_cells(p, typo)
        else:
            raise ValueError(f"unknown defect {defect}")

    # --- rows ----------------------------------------------------------------------------------

    def _render(
        self, p: _Person, doses: list[_Dose], defect: str | None, *, donor: tuple | None
    ) -> PersonRows:
        r = self.rng.random
        pop = self._pop
        date_cell = pop["dose_date_cell_share"]
        iso_text = date_cell + pop["dose_iso_text_share"]
        rows: list[SynthRow] = []
        truth: list[TruthRow] = []
        keys: list[tuple[str, str]] = []
        identity = p.cells
        other_identity = None
        if p.other_record is not None:
            typo, cmnd = p.other_record
            other_identity = list(identity)
            other_identity[NAME] = typo
            other_identity[ID] = cmnd
            for index, value in (p.other_cells or {}).items():
                other_identity[index] = value
        srid_next = self._srid_next
        day_text = self._day_text
        block = self.block
        for dose in doses:
            facility = dose.facility
            n = srid_next.get(facility, 0) + 1
            srid_next[facility] = n
            srid = f"{facility}-{block:03d}{n:05d}"
            keys.append((facility, srid))
            dmy, iso, _ = day_text.get(dose.day) or self._text(dose.day)
            flags = p.flags
            u = r()
            if u < date_cell:
                vdate = dmy
                flags |= VDATE_DATE_CELL
            elif u < iso_text:
                vdate = iso
            else:
                vdate = dmy
            base = other_identity if dose.other_record and other_identity is not None else identity
            if dose.other_record:
                flags &= ~ID_NUMBER_CELL
                if p.other_cells and DOB in p.other_cells:
                    flags &= ~DOB_DATE_CELL
            rows.append(
                SynthRow([*base, facility, srid, vdate, str(dose.number), dose.typed, dose.lot], flags)
            )
            if p.truth is not None:
                truth.append((facility, srid, p.key, defect or "", *p.truth))
            if dose.truth is not None:
                truth.append((facility, srid, p.key, defect or "", *dose.truth))
            if dose.duplicate_of is not None:
                truth.append(
                    (
                        facility,
                        srid,
                        p.key,
                        "DOSE_DUPLICATE",
                        "source_record_id",
                        keys[dose.duplicate_of][1],
                        srid,
                    )
                )
        if donor is not None:
            for facility, srid in donor[4]:
                truth.append((facility, srid, donor[0], "ID_SHARED", "id_number", donor[1], donor[1]))
        elif defect is None and p.id_kind == "CCCD" and not p.foreign:
            self._donors.append((p.key, p.id_number, p.gender, p.year, keys))
        return PersonRows(key=p.key, rows=rows, truth=truth, defect=defect)
