"""Citizen ID numbers: read what facilities typed (or what Excel made of it) and decode the CCCD.

A CCCD is ``PPP G YY NNNNNN`` (SPEC §4): birth-registration province, century+gender digit, the last
two digits of the birth year and a serial. The import pipeline calls ``parse_id_number`` once per row,
so everything here is pure, cached and free of the ORM.
"""

import csv
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

_PROVINCES_CSV = Path(__file__).parent / "data" / "cccd_provinces.csv"


def _load_provinces() -> dict[str, str]:
    with _PROVINCES_CSV.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row["name"] for row in csv.DictReader(handle)}


# The 63 pre-2025 province codes: the CCCD prefix still uses them after the 2025 merger.
CCCD_PROVINCES: dict[str, str] = _load_provinces()


class IdKind(StrEnum):
    # Values are those of vaxreg.people.models.IdType, so a kind can be stored as it is.
    CCCD = "CCCD"
    CMND = "CMND"
    PASSPORT = "PASSPORT"
    INVALID = "INVALID"
    NONE = ""


# The kinds of number that identify a person well enough to match records on them.
USABLE_ID_KINDS = frozenset({IdKind.CCCD, IdKind.CMND, IdKind.PASSPORT})


class ParsedId(NamedTuple):
    """An ID number as read (a tuple: the importer makes one for every person of a file)."""

    kind: IdKind
    number: str  # digits for CCCD/CMND, upper case for passports, the cleaned text when INVALID
    repaired: bool  # leading zeros that Excel had dropped were put back
    raw: str  # the input as text, for the history record of the repair


@dataclass(frozen=True, slots=True)
class CccdInfo:
    province_code: str
    province_name: str | None  # None when the prefix is not a known province
    gender: str  # "M" / "F", the values of vaxreg.people.models.Gender
    birth_year: int
    serial: str


# Separators people type inside numbers (and Excel's thousands separators), invisible characters pasted
# from web forms and the quote marks that force Excel to keep a cell as text.
_SEPARATORS = re.compile(r"[\s.,\-\u2010-\u2015_'\"`\u00b4\u2018\u2019\u201c\u201d\u200b\u200c\u200d\ufeff]+")
# "CCCD: 001090012345", "Số CMND 123456789": a label in front of the number.
_LABEL = re.compile(r"^(?:s[oố]\s*)?(?:cccd|cmnd|cmtnd|cmt)\s*(?:s[oố])?\s*[:#]?\s*(?=\d)", re.IGNORECASE)
# A float that went through str(): "1090012345.0". Four or more digits before the point cannot be a
# thousands group, so the point is a decimal point.
_FLOAT_TEXT = re.compile(r"^(\d{4,})[.,]0+$")
_SCIENTIFIC = re.compile(r"^\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_DIGITS = re.compile(r"^[0-9]+$")
# A letter and a digit at least: every passport series has both (Vietnam: one letter + 7 digits), while a
# placeholder typed without diacritics ("CHUACO", "KHONGRO") has no digit and must not pass as a passport.
_PASSPORT = re.compile(r"^(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,9}$")

_CACHE_SIZE = 1 << 17


def _number_digits(value: int | float | Decimal) -> str | None:
    """Digits of a numeric cell, or None when it is not a whole number (then it cannot be an ID)."""
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer() or value < 0):
        return None
    if isinstance(value, Decimal) and not (value.is_finite() and value == value.to_integral_value() >= 0):
        return None
    return str(int(value))


def _scientific_digits(text: str) -> str | None:
    """Digits of "1.090012345E9" when every digit is written out.

    Excel shows long numbers as "1.09001E+11" in narrow columns and a CSV export keeps that text: the
    hidden digits are gone. Only accept the text when the exponent does not reach past the written digits,
    so a truncated number is reported as invalid instead of being read as a different person's ID.
    """
    mantissa, _, exponent = text.replace(",", ".").upper().partition("E")
    fraction = mantissa.partition(".")[2].rstrip("0")
    try:
        value = Decimal(text.replace(",", "."))
        shift = int(exponent)
    except (InvalidOperation, ValueError):
        return None
    if shift != len(fraction) or value != value.to_integral_value():
        return None
    return str(int(value))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    text = _LABEL.sub("", text)
    if match := _FLOAT_TEXT.match(text):
        return match.group(1)
    if _SCIENTIFIC.match(text):
        digits = _scientific_digits(text)
        # A truncated "1.09001E+11" is kept as written: stripping its point would make up a number.
        return digits if digits is not None else text
    return _SEPARATORS.sub("", text)


def _classify(cleaned: str, raw: str) -> ParsedId:
    if not cleaned:
        return ParsedId(IdKind.NONE, "", False, raw)
    if cleaned.isdigit() and cleaned.isascii():
        length = len(cleaned)
        if length == 12:
            return ParsedId(IdKind.CCCD, cleaned, False, raw)
        if length == 9:
            return ParsedId(IdKind.CMND, cleaned, False, raw)
        if length in (10, 11):
            padded = cleaned.zfill(12)
            if padded[:3] in CCCD_PROVINCES:
                return ParsedId(IdKind.CCCD, padded, True, raw)
        return ParsedId(IdKind.INVALID, cleaned, False, raw)
    upper = cleaned.upper()
    if _PASSPORT.match(upper):
        return ParsedId(IdKind.PASSPORT, upper, False, raw)
    return ParsedId(IdKind.INVALID, cleaned, False, raw)


def _parse(raw: object) -> ParsedId:
    if raw is None:
        return ParsedId(IdKind.NONE, "", False, "")
    if isinstance(raw, bool):
        return ParsedId(IdKind.INVALID, str(raw), False, str(raw))
    if isinstance(raw, float) and math.isnan(raw):
        # pandas and some readers hand an empty cell over as NaN.
        return ParsedId(IdKind.NONE, "", False, "")
    if isinstance(raw, int | float | Decimal):
        digits = _number_digits(raw)
        if digits is None:
            return ParsedId(IdKind.INVALID, str(raw), False, str(raw))
        return _classify(digits, str(raw))
    text = raw if isinstance(raw, str) else str(raw)
    if text.isdigit() and text.isascii():  # most rows: skip the cleaning
        return _classify(text, text)
    return _classify(_clean(text), text)


# Memo per exact input type, so that 1, 1.0 and True never share an entry (their raw texts differ). A plain
# dict cleared when full costs half of what an lru_cache lookup does, and this runs for every row.
_MEMO: dict[type, dict[object, ParsedId]] = {str: {}, int: {}, float: {}}


_new_parsed_id = tuple.__new__


def parse_id_number(raw: object) -> ParsedId:
    """Classify an ID as typed or read from a cell: CCCD, CMND, passport, invalid or none.

    A 10- or 11-digit number whose zero-padded form starts with a known province code is a CCCD that lost
    its leading zeros in Excel; it comes back padded with ``repaired=True``.
    """
    if type(raw) is str and len(raw) == 12 and raw.isdigit() and raw.isascii():
        return _new_parsed_id(
            ParsedId, (IdKind.CCCD, raw, False, raw)
        )  # the usual cell: faster than the memo
    memo = _MEMO.get(type(raw))
    if memo is None:
        return _parse(raw)
    parsed = memo.get(raw)
    if parsed is None:
        parsed = _parse(raw)
        if len(memo) >= _CACHE_SIZE:
            memo.clear()
        if raw == raw:  # NaN never finds itself again: keeping it would only fill the memo
            memo[raw] = parsed
    return parsed


def clear_caches() -> None:
    for memo in _MEMO.values():
        memo.clear()
    decode_cccd.cache_clear()


@lru_cache(maxsize=_CACHE_SIZE)
def decode_cccd(number: str) -> CccdInfo | None:
    """What a 12-digit CCCD says about its holder; None for anything that is not 12 ASCII digits."""
    if not isinstance(number, str) or len(number) != 12 or not _DIGITS.match(number):
        return None
    century_gender = int(number[3])
    province_code = number[:3]
    return CccdInfo(
        province_code=province_code,
        province_name=CCCD_PROVINCES.get(province_code),
        gender="F" if century_gender % 2 else "M",
        birth_year=1900 + (century_gender // 2) * 100 + int(number[4:6]),
        serial=number[6:],
    )


def cccd_province_known(number: str) -> bool:
    info = decode_cccd(number)
    return info is not None and info.province_name is not None


def cccd_gender_mismatch(number: str, gender: str) -> bool:
    """True only when both sides are known and disagree: unknown or "other" genders cannot be checked."""
    if gender not in ("M", "F"):
        return False
    info = decode_cccd(number)
    return info is not None and info.gender != gender


def cccd_birth_year_mismatch(number: str, birth_year: int | None) -> bool:
    if birth_year is None:
        return False
    info = decode_cccd(number)
    return info is not None and info.birth_year != birth_year


def build_cccd(*, province_code: str, gender: str, birth_year: int, serial: int) -> str:
    """A well-formed CCCD, for synthetic data and tests (1900–2399, the range the century digit covers)."""
    if len(province_code) != 3 or not _DIGITS.match(province_code):
        raise ValueError(f"province_code must be 3 digits, got {province_code!r}")
    if gender not in ("M", "F"):
        raise ValueError(f"gender must be 'M' or 'F', got {gender!r}")
    if not 1900 <= birth_year <= 2399:
        raise ValueError(f"birth_year must be within 1900–2399, got {birth_year}")
    if not 0 <= serial <= 999_999:
        raise ValueError(f"serial must be within 0–999999, got {serial}")
    century, year = divmod(birth_year - 1900, 100)
    century_gender = century * 2 + (1 if gender == "F" else 0)
    return f"{province_code}{century_gender}{year:02d}{serial:06d}"
