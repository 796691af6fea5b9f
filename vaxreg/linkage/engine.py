"""The linkage model: which person records are the same citizen, scored by Splink (DuckDB or Spark).

Nothing here touches the ORM: ``records_table`` turns person rows into the model's input columns, and
``Engine`` trains, predicts and clusters on them. The comparisons are small declarative definitions (each
level an SQL condition over the ``_l``/``_r`` columns of a pair, with the words the review page uses to
explain it); the trained parameters live in ``data/model-vN.json`` so a run predicts without retraining.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow is loaded only by a linkage run: the web and worker processes start without it
    import pyarrow as pa

from vaxreg.core.cccd import USABLE_ID_KINDS
from vaxreg.core.text import fold

DATA_DIR = Path(__file__).parent / "data"
MODEL_VERSION = 2
# A pair at or above this probability is suspected: a DUPLICATE_SUSPECT warning on both persons and a row in
# the review queue. Chosen before measuring (not fitted to the synthetic labels).
REVIEW_THRESHOLD = 0.9
# The columns a person row gives ``records_table``, in order (the ``people_person`` columns of the same names).
PERSON_COLUMNS = (
    "id",
    "full_name",
    "name_key",
    "birth_year",
    "birth_month",
    "birth_day",
    "gender",
    "id_type",
    "id_number",
    "phone",
    "commune_id",
    "province_id",
)
# The fields a pair's fingerprint covers: a "not the same" decision stands until one of them changes.
COMPARED_FIELDS = PERSON_COLUMNS[1:]

_PHONE = re.compile(r"0[1-9]\d{8}")
_PLACEHOLDER_PHONES = frozenset({"0123456789", "0987654321", "0999999999", "0912345678"})


@dataclass(frozen=True)
class Level:
    """One level of a comparison: its SQL condition, the words for it, and an optional term-frequency column."""

    key: str
    sql: str
    words_en: str
    words_vi: str
    tf: str = ""
    null: bool = False
    tf_weight: float = 1.0


@dataclass(frozen=True)
class Comparison:
    name: str
    doc: str
    levels: tuple[Level, ...] = field(default_factory=tuple)
    else_en: str = "different"  # the words for the last level (no condition met)
    else_vi: str = "khác nhau"

    def splink(self) -> dict[str, Any]:
        levels: list[dict[str, Any]] = []
        for level in self.levels:
            spec: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.key}
            if level.null:
                spec["is_null_level"] = True
            if level.tf:
                spec["tf_adjustment_column"] = level.tf
                spec["tf_adjustment_weight"] = level.tf_weight
            levels.append(spec)
        levels.append({"sql_condition": "ELSE", "label_for_charts": "else"})
        return {
            "output_column_name": self.name,
            "comparison_description": self.doc,
            "comparison_levels": levels,
        }


def _both(column: str) -> str:
    return f"{column}_l IS NOT NULL AND {column}_r IS NOT NULL"


def _one_edit_guard(column: str) -> str:
    """A cheap condition every pair within one edit or transposition meets (so the edit distance is computed
    only for the few that do): lengths at most one apart, and, for names of 7 letters or more, the first
    three or the last three letters the same (one edit cannot touch both ends)."""
    a, b = f"{column}_l", f"{column}_r"
    return (
        f"abs(length({a}) - length({b})) <= 1 AND (length({a}) < 7 OR left({a}, 3) = left({b}, 3) "
        f"OR right({a}, 3) = right({b}, 3))"
    )


SURNAME = Comparison(
    "surname",
    "The family name, folded (no diacritics, Đ→D): the same (weighted by how common it is), one edit or "
    "two letters swapped, else different. Nguyễn is more than a third of the country: a shared Nguyễn says "
    "little, a shared Âu much.",
    (
        Level(
            "null", "surname_l IS NULL OR surname_r IS NULL", "a name is missing", "thiếu họ tên", null=True
        ),
        # Half the term-frequency adjustment: a rare surname is shared by a whole family, who also share
        # the household — taken whole, it makes siblings look like one person.
        Level("same", "surname_l = surname_r", "same family name", "cùng họ", tf="surname", tf_weight=0.5),
        Level(
            "one_edit",
            "abs(length(surname_l) - length(surname_r)) <= 1 AND damerau_levenshtein(surname_l, surname_r) <= 1",
            "family names one letter apart",
            "họ khác một chữ cái",
        ),
    ),
)

GIVEN = Comparison(
    "given_names",
    "The given name with the middle names: identical with diacritics; differing only in diacritics; the "
    "same given name with a middle name dropped or different; one edit or transposition; else different. "
    "Term-frequency adjusted on the given name.",
    (
        Level("null", "given_l IS NULL OR given_r IS NULL", "a name is missing", "thiếu họ tên", null=True),
        Level("exact", "name_nfc_l = name_nfc_r", "same full name", "trùng họ tên", tf="given"),
        Level(
            "diacritics",
            "name_fold_l = name_fold_r",
            "names differ only in diacritics",
            "họ tên chỉ khác dấu",
            tf="given",
        ),
        Level(
            "one_edit",
            f"{_one_edit_guard('name_fold')} AND damerau_levenshtein(name_fold_l, name_fold_r) <= 1",
            "names one letter apart or two letters swapped",
            "họ tên khác một chữ cái hoặc đảo hai chữ",
        ),
        Level(
            "middle_dropped",
            # One record without a middle name, or one middle name inside the other (Văn Gia → Văn).
            "given_l = given_r AND (middle_l IS NULL OR middle_r IS NULL OR instr(middle_l, middle_r) > 0 "
            "OR instr(middle_r, middle_l) > 0)",
            "same given name, middle name dropped",
            "cùng tên, một bên thiếu tên đệm",
            tf="given",
        ),
        Level(
            "middle_differs",
            "given_l = given_r",
            "same given name, other middle name",
            "cùng tên, khác tên đệm",
            tf="given",
        ),
    ),
)

BIRTH = Comparison(
    "birth_date",
    "The birth date: exact; day and month swapped; one digit off; the same year where one record has only "
    "the year (the elderly often know only that); the same year; else different.",
    (
        Level(
            "null",
            "dob_y_l IS NULL OR dob_y_r IS NULL",
            "a birth date is missing",
            "thiếu ngày sinh",
            null=True,
        ),
        Level("exact", "dob_l = dob_r", "same birth date", "trùng ngày sinh"),
        Level(
            "swapped",
            f"{_both('dob')} AND dob_y_l = dob_y_r AND dob_m_l = dob_d_r AND dob_d_l = dob_m_r",
            "birth day and month swapped",
            "ngày và tháng sinh bị đảo",
        ),
        Level(
            "one_digit",
            # One digit of the eight off (two of year, month and day the same: a cheap test first), or one
            # day apart in the same month (20 typed 19: two digits, one slip). (CASE rather than a cast of
            # the booleans: the same SQL on DuckDB and Spark.)
            f"{_both('dob')} AND ((CASE WHEN dob_y_l = dob_y_r THEN 1 ELSE 0 END + CASE WHEN dob_m_l = dob_m_r "
            "THEN 1 ELSE 0 END + CASE WHEN dob_d_l = dob_d_r THEN 1 ELSE 0 END) = 2 AND (levenshtein(dob_l, dob_r) = 1 "
            "OR (dob_y_l = dob_y_r AND dob_m_l = dob_m_r AND abs(dob_d_l - dob_d_r) = 1)))",
            "birth dates one digit or one day apart",
            "ngày sinh khác một chữ số hoặc một ngày",
        ),
        Level(
            "year_only",
            "dob_y_l = dob_y_r AND (dob_l IS NULL OR dob_r IS NULL)",
            "same birth year, one record has only the year",
            "cùng năm sinh, một bản ghi chỉ có năm",
        ),
        Level("same_year", "dob_y_l = dob_y_r", "same birth year only", "chỉ trùng năm sinh"),
    ),
)

ID_NUMBER = Comparison(
    "id_number",
    "The CCCD/CMND number: the same; a CCCD beside an old CMND (a person carries both: neutral); the same "
    "once leading zeros are dropped (Excel); one digit off or two swapped; else different. Missing on either "
    "side is neutral.",
    (
        Level(
            "null", "id_l IS NULL OR id_r IS NULL", "an ID number is missing", "thiếu số giấy tờ", null=True
        ),
        Level("same", "id_l = id_r", "same CCCD", "trùng số CCCD"),
        Level(
            "kinds_differ",
            "id_kind_l <> id_kind_r",
            "a CCCD beside an old CMND",
            "một bên CCCD, một bên CMND",
        ),
        # Standard SQL's TRIM, not ltrim(x, '0'): Spark reads ltrim's two arguments the other way round.
        Level(
            "leading_zeros",
            "TRIM(LEADING '0' FROM id_l) = TRIM(LEADING '0' FROM id_r)",
            "same ID without its leading zeros",
            "trùng số giấy tờ khi bỏ số 0 đầu",
        ),
        Level(
            "one_digit",
            # One digit off or two adjacent digits swapped leave the first four or the last four digits alone.
            "length(id_l) = length(id_r) AND (left(id_l, 4) = left(id_r, 4) OR right(id_l, 4) = right(id_r, 4)) "
            "AND damerau_levenshtein(id_l, id_r) <= 1",
            "ID numbers one digit apart or two digits swapped",
            "số giấy tờ khác một chữ số",
        ),
    ),
)

HOUSEHOLD = Comparison(
    "household",
    "Phone and commune as one household/contact comparison: relatives share both, so counting them apart "
    "would count one household twice and flood the queue with siblings and parents.",
    (
        Level(
            "null",
            "(phone_l IS NULL OR phone_r IS NULL) AND (commune_l IS NULL OR commune_r IS NULL)",
            "no phone or commune to compare",
            "không có số điện thoại hay xã để so",
            null=True,
        ),
        Level(
            "phone_and_commune",
            "phone_l = phone_r AND commune_l = commune_r",
            "same household phone and commune",
            "cùng số điện thoại và xã",
        ),
        Level("phone", "phone_l = phone_r", "same household phone", "cùng số điện thoại"),
        Level("commune", "commune_l = commune_r", "same commune", "cùng xã"),
    ),
)

GENDER = Comparison(
    "gender",
    "Gender: the same, else different; unknown is neutral.",
    (
        Level(
            "null",
            "gender_l IS NULL OR gender_r IS NULL",
            "a gender is missing",
            "thiếu giới tính",
            null=True,
        ),
        Level("same", "gender_l = gender_r", "same gender", "cùng giới tính"),
    ),
)

DOSES = Comparison(
    "doses",
    "The two records' doses (numbered, valid): one record's doses continue the other's (its highest dose "
    "number and last date both before the other's first: dose 1 at a workplace site, dose 2 at home, the way "
    "one citizen came to be recorded twice); the dose numbers apart but the dates out of order; else both "
    "records hold a dose of the same number, as two people do (a twin, a namesake). A record without a "
    "numbered dose is neutral.",
    (
        Level(
            "null",
            "dose_lo_l IS NULL OR dose_lo_r IS NULL",
            "a record has no numbered dose",
            "một hồ sơ không có mũi tiêm đánh số",
            null=True,
        ),
        # The next dose at the usual interval — two weeks to four months after the other record's last, or for
        # a booster (dose 3 or 4) up to thirteen months: the same citizen's schedule, where two people's
        # half-records fall at any distance.
        # ... and with the vaccine the other record's last dose had (a second dose is the first dose's
        # vaccine): the strongest sign that the two halves are one citizen's schedule.
        Level(
            "follow_on_same_vaccine",
            "(dose_hi_l < dose_lo_r AND vaccine_last_l = vaccine_first_r AND (day_lo_r - day_hi_l BETWEEN 14 AND "
            "120 OR (dose_lo_r >= 3 AND day_lo_r - day_hi_l BETWEEN 120 AND 400))) OR (dose_hi_r < dose_lo_l AND "
            "vaccine_last_r = vaccine_first_l AND (day_lo_l - day_hi_r BETWEEN 14 AND 120 OR (dose_lo_l >= 3 AND "
            "day_lo_l - day_hi_r BETWEEN 120 AND 400)))",
            "one record's doses continue the other's with the same vaccine at the usual interval",
            "mũi tiêm của hồ sơ này nối tiếp hồ sơ kia, cùng loại vắc xin, đúng khoảng cách thường gặp",
        ),
        Level(
            "follow_on_interval",
            "(dose_hi_l < dose_lo_r AND (day_lo_r - day_hi_l BETWEEN 14 AND 120 OR (dose_lo_r >= 3 AND "
            "day_lo_r - day_hi_l BETWEEN 120 AND 400))) OR (dose_hi_r < dose_lo_l AND (day_lo_l - day_hi_r "
            "BETWEEN 14 AND 120 OR (dose_lo_l >= 3 AND day_lo_l - day_hi_r BETWEEN 120 AND 400)))",
            "one record's doses continue the other's at the usual interval",
            "mũi tiêm của hồ sơ này nối tiếp hồ sơ kia, đúng khoảng cách thường gặp",
        ),
        Level(
            "follow_on",
            "(dose_hi_l < dose_lo_r AND day_hi_l < day_lo_r) OR (dose_hi_r < dose_lo_l AND day_hi_r < day_lo_l)",
            "one record's doses continue the other's",
            "mũi tiêm của hồ sơ này nối tiếp hồ sơ kia",
        ),
        Level(
            "apart",
            "dose_hi_l < dose_lo_r OR dose_hi_r < dose_lo_l",
            "no dose number in both, dates out of order",
            "không trùng số mũi, ngày tiêm không theo thứ tự",
        ),
    ),
    else_en="both records hold a dose of the same number",
    else_vi="cả hai hồ sơ có mũi tiêm cùng số",
)

COMPARISONS: tuple[Comparison, ...] = (SURNAME, GIVEN, BIRTH, ID_NUMBER, HOUSEHOLD, GENDER, DOSES)

# Blocking: the pairs scored are those sharing one of these. Measured on 20,000 synthetic persons with 5%
# recorded twice (`vaxreg bench linkage`): together they keep 99.6% of the true pairs at 0.9 pairs per
# person; each of phone, names + year + province, surname + date, given + middle + year + province finds
# pairs no other rule does. The ID keeps the pairs imports cannot join (an ID typed on another name);
# surname + given + commune was dropped: 40% of the pairs, none of them found by it alone.
# The three broad rules (a common name and a birth year, or Nguyễn and a birth date) grow with the square of
# a province's size, so each keeps only the pairs that could still be the same person: one birth date is
# the year only, or the two share the month or the day or have them swapped; for surname + date, the middle
# name is shared or missing, or the given names share their first or last letter. Measured on 209,019
# records (200,000 persons): the same blocking recall (99.25%) with 313,000 blocked pairs instead of
# 1,439,000; the rules' equality parts are kept whole, so DuckDB still joins on them. Birth date + commune
# was dropped: on 1,045,781 records it added 516,000 pairs and no true pair the others miss. At that size
# the six rules block 5.15 million pairs (4.9 per record) and keep 99.28% of the true pairs.
# Model v2 (records with their doses, second records whose name is often typed alike): on 1,044,819 records
# the seven rules blocked 5.54 million pairs keeping 99.949% of the true pairs; with the birth dates and
# given names that could be one typed twice taken more narrowly (below) and the letters rule limited to one
# swap, 2.57 million pairs keep the same 99.949% (measured with DuckDB on the records of `vaxreg bench
# linkage --persons 1000000`). Each "could be one typed twice" is then a rule of its own joined on an
# equality (same month, same day, swapped, one side the year only): a single rule with an OR tested every
# pair of namesakes sharing name and year (52 million at that size), and Splink's blocking took 37 s
# instead of 9 s on this 2-core machine.
# Two birth dates that could be one typed twice, each way a rule of its own so that the database joins on
# an equality rather than testing a condition on every pair of namesakes: one is the year only (each side);
# the same month and days one digit or one day apart; the same day and months one digit apart; day and
# month swapped.
_DATE_CLOSE: tuple[str, ...] = (
    "l.dob IS NULL",
    "r.dob IS NULL",
    "l.dob_m = r.dob_m AND (floor(l.dob_d / 10) = floor(r.dob_d / 10) OR l.dob_d % 10 = r.dob_d % 10 "
    "OR abs(l.dob_d - r.dob_d) = 1)",
    "l.dob_d = r.dob_d AND (floor(l.dob_m / 10) = floor(r.dob_m / 10) OR l.dob_m % 10 = r.dob_m % 10)",
    "l.dob_m = r.dob_d AND l.dob_d = r.dob_m",
)
# Two given names that could be one typed twice: one edit leaves the first or the last letter.
_NAME_CLOSE: tuple[str, ...] = (
    "left(l.given, 1) = left(r.given, 1)",
    "right(l.given, 1) = right(r.given, 1)",
)
# Given + middle + year finds pairs whose surnames differ (the rule before it has the same ones): one edit
# leaves the surname's first or its last letter.
_SURNAME_CLOSE = "(left(l.surname, 1) = left(r.surname, 1) OR right(l.surname, 1) = right(r.surname, 1))"
_NAMES_YEAR = "l.surname = r.surname AND l.given = r.given AND l.dob_y = r.dob_y AND l.province = r.province"
_GIVEN_MIDDLE_YEAR = f"l.given = r.given AND l.middle = r.middle AND l.dob_y = r.dob_y AND l.province = r.province AND {_SURNAME_CLOSE}"
BLOCKING_RULES: tuple[str, ...] = (
    "l.id = r.id",
    "l.phone = r.phone",
    "l.given = r.given AND l.dob = r.dob",
    *(f"{_NAMES_YEAR} AND {close}" for close in _DATE_CLOSE),
    *(f"l.surname = r.surname AND l.dob = r.dob AND {close}" for close in _NAME_CLOSE),
    *(f"{_GIVEN_MIDDLE_YEAR} AND {close}" for close in _DATE_CLOSE),
    # Two letters of the given name swapped (Quân typed Qâun) with only the birth year to go on: the rules
    # above need the given name or the whole birth date. The key is the first letter and the others in
    # order (a typed swap leaves the first letter), so Anh and Hân do not meet; one swap apart.
    "l.surname = r.surname AND l.given_swap_key = r.given_swap_key AND l.dob_y = r.dob_y AND l.given <> r.given "
    "AND damerau_levenshtein(l.given, r.given) = 1",
)


def _folded_parts(name_key: str) -> tuple[str, str, str] | None:
    words = name_key.split()
    if len(words) < 2:
        return None
    return words[0], " ".join(words[1:-1]), words[-1]


def name_keys(name_key: str, year: int | None, month: int | None, day: int | None) -> set[tuple[Any, ...]]:
    """The equality parts of ``BLOCKING_RULES`` (beyond the ID and the phone) a person's folded name and birth
    date give, as the person is found by: two persons a rule may pair are such that one's
    ``name_query_keys`` meet the other's ``name_keys`` (or they share a ``swap_key`` with two given names).
    Linking a few persons against a national database fetches only the persons so found
    (``linkage.services``) instead of reading everyone."""
    return _name_date_keys(name_key, year, month, day, asking=False)


def name_query_keys(
    name_key: str, year: int | None, month: int | None, day: int | None
) -> set[tuple[Any, ...]]:
    """The ``name_keys`` of the persons the rules may pair with this one: for the names + year rules, with a
    whole birth date those of the same month, the same day, the two swapped or only the year; with only the
    year, all of them."""
    return _name_date_keys(name_key, year, month, day, asking=True)


def _name_date_keys(
    name_key: str, year: int | None, month: int | None, day: int | None, *, asking: bool
) -> set[tuple[Any, ...]]:
    parts = _folded_parts(name_key)
    if parts is None or not year:
        return set()
    surname, middle, given = parts
    keys: set[tuple[Any, ...]] = set()
    for rule, base in _name_year_bases(surname, middle, given, year):
        if month and day:
            # Found by: its month, its day, its day and month as they read swapped, any; asking for: the
            # same month, the same day, the swapped pair, the year-only records.
            swapped = (day, month) if asking else (month, day)
            keys |= {(rule, *base, "month", month), (rule, *base, "day", day), (rule, *base, "md", *swapped)}
            keys.add((rule, *base, "year_only") if asking else (rule, *base, "any"))
        else:  # found by: only the year, any; asking for: any
            keys.add((rule, *base, "any"))
            if not asking:
                keys.add((rule, *base, "year_only"))
    if month and day:
        keys |= {("surname_date", surname, year, month, day), ("given_date", given, year, month, day)}
    return keys


def swap_key(name_key: str, year: int | None) -> tuple[tuple[str, str, int], str] | None:
    """The swap rule's key (surname, the given name's first letter and its others in order, birth year) and
    the given name: the rule pairs persons of one key whose given names differ."""
    parts = _folded_parts(name_key)
    if parts is None or not year:
        return None
    surname, _middle, given = parts
    return (surname, given[0] + "".join(sorted(given[1:])), year), given


def _name_year_bases(surname: str, middle: str, given: str, year: int) -> list[tuple[str, tuple[Any, ...]]]:
    bases: list[tuple[str, tuple[Any, ...]]] = [("surname_given_year", (surname, given, year))]
    if middle:
        bases.append(("given_middle_year", (given, middle, year)))
    return bases


@cache
def _schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("unique_id", pa.int64()),
            ("surname", pa.string()),
            ("middle", pa.string()),
            ("given", pa.string()),
            # The folded given name's first letter and its other letters in order: a typed swap keeps it.
            ("given_swap_key", pa.string()),
            ("name_nfc", pa.string()),
            ("name_fold", pa.string()),
            ("dob", pa.string()),
            ("dob_y", pa.int32()),
            ("dob_m", pa.int32()),
            ("dob_d", pa.int32()),
            ("id", pa.string()),
            ("id_kind", pa.string()),
            ("phone", pa.string()),
            ("commune", pa.string()),
            ("province", pa.string()),
            ("gender", pa.string()),
            # The person's numbered valid doses (``DOSE_SPAN_COLUMNS``): lowest and highest dose number, first
            # and last date (days since 1970-01-01); null without a numbered dose.
            ("dose_lo", pa.int32()),
            ("dose_hi", pa.int32()),
            ("day_lo", pa.int32()),
            ("day_hi", pa.int32()),
            ("vaccine_first", pa.string()),  # the vaccine of the first dose, and of the last
            ("vaccine_last", pa.string()),
        ]
    )


def _name_parts(
    full_name: str, name_key: str
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    folded = name_key or fold(full_name)
    words = folded.split()
    if not words:
        return None, None, None, None, None
    nfc = " ".join(unicodedata.normalize("NFC", full_name).lower().split()) or None
    surname = words[0]
    given = words[-1] if len(words) > 1 else None
    middle = " ".join(words[1:-1]) or None
    return surname, middle, given, nfc, " ".join(words)


def record_values(row: Sequence[Any]) -> tuple[Any, ...]:
    """One person row (``PERSON_COLUMNS``) as the model's input values (``_schema()`` up to the dose span)."""
    (pid, full_name, name_key, year, month, day, gender, id_type, id_number, phone, commune, province) = row
    surname, middle, given, nfc, folded = _name_parts(full_name or "", name_key or "")
    dob = f"{year:04d}{month:02d}{day:02d}" if year and month and day else None
    usable = id_type in USABLE_ID_KINDS and bool(id_number)
    good_phone = bool(phone) and _PHONE.fullmatch(phone) is not None and phone not in _PLACEHOLDER_PHONES
    return (
        pid,
        surname,
        middle,
        given,
        given[0] + "".join(sorted(given[1:])) if given else None,
        nfc,
        folded,
        dob,
        year,
        month if dob else None,
        day if dob else None,
        id_number if usable else None,
        id_type if usable else None,
        phone if good_phone else None,
        commune or None,
        province or None,
        gender if gender in ("M", "F") else None,
    )


_BATCH = 50_000
# A person's numbered valid doses as ``records_table`` takes them: (person id, lowest dose number, highest,
# first vaccination date, last, the vaccine of the first dose, of the last) — one row per person with such a
# dose (``linkage.services`` reads them).
DOSE_SPAN_COLUMNS = ("unique_id", "dose_lo", "dose_hi", "day_lo", "day_hi", "vaccine_first", "vaccine_last")
_EPOCH = date(1970, 1, 1)


def _day_number(day: date | None) -> int | None:
    return (day - _EPOCH).days if day is not None else None


def _arrow_table(values: Iterable[Sequence[Any]], schema: pa.Schema) -> pa.Table:
    """Rows of values (in ``schema``'s order) as an Arrow table, turned into batches of 50,000 as they come:
    a stream (a database cursor) is never held whole as Python values."""
    import pyarrow as pa

    batches: list[pa.RecordBatch] = []
    columns: list[list[Any]] = [[] for _ in schema]

    def flush() -> None:
        if columns[0]:
            arrays = [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
            for column in columns:
                column.clear()

    for row in values:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
        if len(columns[0]) >= _BATCH:
            flush()
    flush()
    return pa.Table.from_batches(batches, schema=schema)


def _span_values(span: Sequence[Any]) -> tuple[Any, ...]:
    pid, low, high, first, last, vaccine_first, vaccine_last = span
    return pid, low, high, _day_number(first), _day_number(last), vaccine_first or None, vaccine_last or None


def records_table(
    rows: Iterable[Sequence[Any]],
    *,
    spans: Iterable[Sequence[Any]] = (),
    truth: dict[int, str] | None = None,
) -> pa.Table:
    """The model's input: one row per person (``rows``: ``PERSON_COLUMNS``) with its dose span (``spans``:
    ``DOSE_SPAN_COLUMNS``, any order, none for a person without a numbered dose); with ``truth`` (person id →
    true person) a ``truth`` column.

    Both may be streams (database cursors): they are turned into Arrow batches as they come and joined by
    Arrow, so a national run never holds every person as Python values."""
    import pyarrow as pa

    schema = _schema()
    person_schema = pa.schema([f for f in schema if f.name not in DOSE_SPAN_COLUMNS[1:]])
    span_schema = pa.schema([schema.field(name) for name in DOSE_SPAN_COLUMNS])
    persons = _arrow_table((record_values(row) for row in rows), person_schema)
    spans_table = _arrow_table((_span_values(span) for span in spans), span_schema)
    joined = persons.join(spans_table, keys="unique_id", join_type="left outer")
    table = joined.select([f.name for f in schema]).sort_by("unique_id").combine_chunks()
    if truth is not None:
        ids = table.column("unique_id").to_pylist()
        table = table.append_column("truth", pa.array([truth.get(i, f"#{i}") for i in ids], type=pa.string()))
    return table


def settings_dict(*, probability_two_random_records_match: float = 1e-5) -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": probability_two_random_records_match,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in BLOCKING_RULES],
        "comparisons": [c.splink() for c in COMPARISONS],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,  # the levels (gamma_*) of each pair, for its evidence
        "additional_columns_to_retain": [],
    }


def baseline_settings_dict(
    *, probability_two_random_records_match: float = 1e-5, engine: str = "duckdb"
) -> dict[str, Any]:
    """The baseline the bench compares against: Splink's standard comparisons on the raw columns (no
    Vietnamese folding, no household comparison), the same blocking; its SQL in the engine's dialect (DuckDB
    quotes columns with "", which Spark reads as strings)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on  # noqa: F401 (block_on kept for readers of this recipe)

    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        blocking_rules_to_generate_predictions=[{"blocking_rule": r} for r in BLOCKING_RULES],
        comparisons=[
            cl.JaroWinklerAtThresholds("name_nfc", [0.9, 0.8]),
            cl.ExactMatch("dob"),
            cl.ExactMatch("id"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("commune"),
            cl.ExactMatch("gender"),
        ],
    )
    return creator.get_settings("spark" if engine == "spark" else "duckdb").as_dict()


def model_path(version: int = MODEL_VERSION) -> Path:
    return DATA_DIR / f"model-v{version}.json"


def model_load(version: int = MODEL_VERSION) -> dict[str, Any]:
    with model_path(version).open(encoding="utf-8") as handle:
        model: dict[str, Any] = json.load(handle)
    return model


@dataclass(frozen=True)
class ScoredPair:
    a: int
    b: int
    probability: float
    weight: float
    levels: dict[str, str]  # comparison → level key
    weights: dict[str, float] = field(default_factory=dict)  # comparison → its match weight in this pair


def _doses_overlap(x: tuple[int | None, int | None], y: tuple[int | None, int | None]) -> bool:
    """Whether two records both hold a dose of the same number (as far as their spans tell)."""
    if x[0] is None or y[0] is None or x[1] is None or y[1] is None:
        return False
    return not (x[1] < y[0] or y[1] < x[0])


_TIE = 1e-9


def competing_dropped(
    pairs: Sequence[ScoredPair],
    spans: Mapping[int, tuple[int | None, int | None]],
    *,
    decided: Collection[tuple[int, int]] = (),
) -> list[ScoredPair]:
    """The pairs without those a likelier pair rules out.

    A record suspected with two others that cannot be one person (both hold a dose of the same number) is
    at most one of them: two half-records of two namesakes each look like the other's missing half, but each
    has its own true other half, which fits it better. For each record, its pairs are taken likeliest first
    and a pair is dropped when its other record overlaps, in doses, a partner already kept. A record recorded
    three times (doses 1, 2 and 3 in three records) keeps all its pairs: its partners do not overlap.

    A pair in ``decided`` (a reviewer said "not the same", skipped it or merged it) neither rules out nor is
    ruled out: it is kept for the caller to reconcile with the decision."""
    by_person: dict[int, list[ScoredPair]] = {}
    for pair in pairs:
        if (pair.a, pair.b) in decided:
            continue
        by_person.setdefault(pair.a, []).append(pair)
        by_person.setdefault(pair.b, []).append(pair)
    dropped: set[tuple[int, int]] = set()
    for person, own in by_person.items():
        if len(own) < 2:
            continue
        kept: list[tuple[int, float]] = []
        none = (None, None)
        for pair in sorted(own, key=lambda p: (-p.probability, p.a, p.b)):
            other = pair.b if pair.a == person else pair.a
            span = spans.get(other, none)
            # Only a strictly likelier partner rules a pair out: between equals nothing tells which is the
            # one, so both stay for a reviewer to see side by side.
            if any(
                probability > pair.probability + _TIE and _doses_overlap(span, spans.get(k, none))
                for k, probability in kept
            ):
                dropped.add((pair.a, pair.b))
            else:
                kept.append((other, pair.probability))
    return [p for p in pairs if (p.a, p.b) not in dropped]


def _level_keys() -> dict[str, list[str]]:
    """comparison → its level keys by gamma value (Splink numbers levels from the last, -1 for null)."""
    keys: dict[str, list[str]] = {}
    for c in COMPARISONS:
        ordered = [lv.key for lv in c.levels if not lv.null]
        keys[c.name] = ["else", *reversed(ordered)]
    return keys


def evidence_words(levels: dict[str, str]) -> list[tuple[str, str, str]]:
    """(comparison, English words, Vietnamese words) for each comparison of a pair, for the review page."""
    out = []
    for c in COMPARISONS:
        key = levels.get(c.name, "")
        for lv in c.levels:
            if lv.key == key:
                out.append((c.name, lv.words_en, lv.words_vi))
                break
        else:
            out.append((c.name, c.else_en, c.else_vi))
    return out


# DuckDB spills to disk beyond this rather than growing without bound (its default is 80% of the machine).
DUCKDB_MEMORY_LIMIT = "1GB"


def _levels_from_code(model: dict[str, Any]) -> None:
    """Give the model's levels the code's SQL (matched by comparison and level key): the conditions are the
    code's, like the blocking; a stored model keeps only what training measured (m, u), so a cheaper but
    equivalent condition (a guard before an edit distance) applies to every stored model version."""
    ours = {(c.name, lv.key): lv.sql for c in COMPARISONS for lv in c.levels}
    for comparison in model.get("comparisons", []):
        name = comparison.get("output_column_name")
        for level in comparison.get("comparison_levels", []):
            sql = ours.get((name, level.get("label_for_charts")))
            if sql is not None:
                level["sql_condition"] = sql


def model_for_population(model: dict[str, Any], population: int) -> dict[str, Any]:
    """The model as Splink takes it, for a run over ``population`` persons.

    The prior λ (the probability that two records drawn at random are the same person) is the number of
    true pairs over all pairs: with a steady share of persons recorded twice it falls as 1/(N−1). The stored
    model keeps the λ of its training set and that set's size (``training_records``): a run over another
    larger number of persons scales it down to its own. A smaller one (a demo, a test world, a district)
    keeps the trained λ: a few dozen records say nothing about how often a person is recorded twice, and a
    small database is not made more eager than the model. A model without the size is used as stored."""
    settings = json.loads(json.dumps(model))
    trained_on = settings.pop("training_records", None)
    if trained_on and population > trained_on:
        settings["probability_two_random_records_match"] *= (trained_on - 1) / (population - 1)
    _levels_from_code(settings)
    return settings


class Engine:
    """A Splink linker over person records on one backend (``duckdb`` or ``spark``)."""

    def __init__(
        self,
        table: pa.Table,
        *,
        engine: str = "duckdb",
        model: dict[str, Any] | None = None,
        population: int | None = None,
    ) -> None:
        from splink import Linker

        self.engine = engine
        self.db_api = self._db_api(engine)
        frame = self.db_api.register(self._input(table))
        settings = model_for_population(
            model if model is not None else model_load(), population or table.num_rows
        )
        # Each pair's levels (gamma_*) and weights (mw_*) are kept for the evidence the review page explains.
        settings["retain_matching_columns"] = True
        # The blocking is the code's (measured, see BLOCKING_RULES), whatever model is loaded: the baseline
        # and every model version score the same candidate pairs.
        settings["blocking_rules_to_generate_predictions"] = [{"blocking_rule": r} for r in BLOCKING_RULES]
        settings["retain_intermediate_calculation_columns"] = True
        self.linker = Linker(frame, settings, log_level=None)
        self.table = table

    def _db_api(self, engine: str) -> Any:
        if engine == "spark":
            from vaxreg.linkage.spark import spark_db_api

            return spark_db_api()
        import duckdb
        from splink import DuckDBAPI

        connection = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT})
        return DuckDBAPI(connection)

    def _input(self, table: pa.Table) -> Any:
        if self.engine == "spark":
            from vaxreg.linkage.spark import spark_frame

            return spark_frame(table)
        return table

    def predict(self, *, threshold: float = 0.5) -> list[ScoredPair]:
        """Every blocked pair scored at or above ``threshold``, person a < person b."""
        frame = self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        return self._pairs(frame)

    def suspected(
        self, *, threshold: float = REVIEW_THRESHOLD, decided: Collection[tuple[int, int]] = ()
    ) -> list[ScoredPair]:
        """The pairs to suspect: scored at or above ``threshold`` and not ruled out by a likelier pair
        (``competing_dropped``; the ``decided`` pairs take no part in that)."""
        return self.without_competing(self.predict(threshold=threshold), decided=decided)

    def without_competing(
        self, pairs: Sequence[ScoredPair], *, decided: Collection[tuple[int, int]] = ()
    ) -> list[ScoredPair]:
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = pa.array(sorted({p.a for p in pairs} | {p.b for p in pairs}), type=pa.int64())
        rows = self.table.filter(pc.is_in(self.table["unique_id"], value_set=ids))
        spans = {
            r["unique_id"]: (r["dose_lo"], r["dose_hi"])
            for r in rows.select(["unique_id", "dose_lo", "dose_hi"]).to_pylist()
        }
        return competing_dropped(pairs, spans, decided=decided)

    def _pairs(self, frame: Any) -> list[ScoredPair]:
        keys = _level_keys()
        gammas = [f"gamma_{c.name}" for c in COMPARISONS]
        mws = [f"mw_{c.name}" for c in COMPARISONS]
        tf = [f"mw_tf_adj_{c.name}" for c in COMPARISONS if any(lv.tf for lv in c.levels)]
        columns = ", ".join(
            ["unique_id_l", "unique_id_r", "match_probability", "match_weight", *gammas, *mws, *tf]
        )
        result = frame.query_sql(f"SELECT {columns} FROM {{this}}")  # noqa: S608 — our own column names
        out: list[ScoredPair] = []
        for row in result.as_record_list():
            a, b = int(row["unique_id_l"]), int(row["unique_id_r"])
            levels, weights = {}, {}
            for c in COMPARISONS:
                gamma = int(row[f"gamma_{c.name}"])
                levels[c.name] = "null" if gamma < 0 else keys[c.name][gamma]
                weights[c.name] = float(row[f"mw_{c.name}"]) + float(row.get(f"mw_tf_adj_{c.name}") or 0.0)
            out.append(
                ScoredPair(
                    min(a, b),
                    max(a, b),
                    float(row["match_probability"]),
                    float(row["match_weight"]),
                    levels,
                    weights,
                )
            )
        return out

    def probabilities(self, frame: Any) -> list[tuple[int, int, float]]:
        """(person a, person b, probability) of each predicted pair, a < b."""
        rows = frame.query_sql(
            "SELECT unique_id_l, unique_id_r, match_probability FROM {this}"
        ).as_record_list()
        return [
            (
                min(int(r["unique_id_l"]), int(r["unique_id_r"])),
                max(int(r["unique_id_l"]), int(r["unique_id_r"])),
                float(r["match_probability"]),
            )
            for r in rows
        ]

    def predict_frame(self, *, threshold: float) -> Any:
        return self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")


def connected_clusters(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """person id → cluster id (the smallest person id of its group) for every person in ``pairs``: the
    persons joined by a chain of pairs share a cluster."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
        parent.setdefault(a, a)
        parent.setdefault(b, b)
    return {pid: find(pid) for pid in list(parent)}


def train(
    table: pa.Table, *, engine: str = "duckdb", baseline: bool = False, seed: int = 1
) -> dict[str, Any]:
    """Train on labelled synthetic records (a ``truth`` column): u by random sampling, m from the labels, the
    prior from the labelled pairs. Returns the model (a Splink settings dict with its parameters)."""
    truth = table.column("truth").to_pylist()
    n = len(truth)
    sizes: dict[str, int] = {}
    for t in truth:
        sizes[t] = sizes.get(t, 0) + 1
    true_pairs = sum(k * (k - 1) // 2 for k in sizes.values())
    prior = max(true_pairs, 1) / max(n * (n - 1) // 2, 1)
    if baseline:
        settings = baseline_settings_dict(probability_two_random_records_match=prior, engine=engine)
    else:
        settings = settings_dict(probability_two_random_records_match=prior)
    trainer = Engine(table, engine=engine, model=settings)
    trainer.linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    trainer.linker.training.estimate_m_from_label_column("truth")
    model: dict[str, Any] = calibrate(trainer.linker.misc.save_model_to_json())
    model["training_records"] = n
    model["linker_uid"] = f"vaxreg-v{MODEL_VERSION}" if not baseline else "baseline"
    return model


# What training cannot see in labelled synthetic data, set by hand (documented in each level's weight):
M_UNSEEN = 1e-3  # a level no labelled duplicate fell into: rare among duplicates (a twin's other given name)
U_UNSEEN = 1e-6  # a level no random pair fell into: rare among different people (the same CCCD)
# A shared phone and commune is a household's, not a person's: relatives share both, so the household
# evidence is capped (log2 Bayes factor) rather than taken at the value random pairs would give it.
HOUSEHOLD_CAP = 6.0
# Levels that say nothing either way, whatever the synthetic data's mix: a CCCD beside an old CMND (people
# carried both; the generator's second records often hold the CMND, which would teach it as evidence).
NEUTRAL_LEVELS = frozenset({"kinds_differ"})
# Two records of one person that both hold a dose of the same number: the synthetic second records never do
# (they take the doses the first did not), but real ones sometimes do — a dose number typed wrong, the same
# dose typed at two sites. The evidence against is floored at this share of duplicates (about -5 bits)
# rather than the thousandth an unseen level gets, so such a pair can still be carried by its other fields.
DOSE_OVERLAP_M_FLOOR = 0.03


# A level that says strictly more than another weighs at least as much, whatever the synthetic mix taught:
# the same name with its diacritics is no weaker evidence than the same name without them, the same CCCD no
# weaker than one a digit off.
AT_LEAST_AS_STRONG: dict[tuple[str, str], tuple[str, ...]] = {
    ("given_names", "exact"): ("diacritics",),
    ("id_number", "same"): ("leading_zeros", "one_digit"),
    ("birth_date", "exact"): ("swapped", "one_digit", "year_only"),
}


def calibrate(model: dict[str, Any]) -> dict[str, Any]:
    """Fill the levels training left without m or u, cap the household comparison's evidence, floor the
    doses' overlap, and keep the stronger levels at least as strong as the weaker (``AT_LEAST_AS_STRONG``)."""
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        levels = {lv.get("label_for_charts"): lv for lv in comparison["comparison_levels"]}
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m = level.get("m_probability") or M_UNSEEN
            u = level.get("u_probability") or U_UNSEEN
            if name == HOUSEHOLD.name and m / u > 2**HOUSEHOLD_CAP:
                u = m / 2**HOUSEHOLD_CAP
            if level.get("label_for_charts") in NEUTRAL_LEVELS:
                u = m
            if name == DOSES.name and level.get("label_for_charts") == "else":
                m = max(m, DOSE_OVERLAP_M_FLOOR)
            level["m_probability"], level["u_probability"] = m, u
        for (of, key), weaker in AT_LEAST_AS_STRONG.items():
            if of == name and key in levels:
                _at_least(levels[key], [levels[w] for w in weaker if w in levels])
    return model


def _at_least(strong: dict[str, Any], weaker: list[dict[str, Any]]) -> None:
    """Raise ``strong``'s evidence to the strongest of ``weaker``'s. Two levels adjusted on the same term
    frequency weigh m over the value's frequency (u cancels out): there m is raised; elsewhere u is lowered."""
    for weak in weaker:
        if strong.get("tf_adjustment_column") and strong.get("tf_adjustment_column") == weak.get(
            "tf_adjustment_column"
        ):
            strong["m_probability"] = max(strong["m_probability"], weak["m_probability"])
        else:
            ratio = weak["m_probability"] / weak["u_probability"]
            if strong["m_probability"] / strong["u_probability"] < ratio:
                strong["u_probability"] = strong["m_probability"] / ratio


def model_save(model: dict[str, Any], version: int = MODEL_VERSION) -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    path = model_path(version)
    path.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
