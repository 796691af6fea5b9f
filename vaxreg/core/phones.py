"""Vietnamese phone numbers: one national form ("0912345678") whatever way they were typed.

SPEC §4: a phone number is 10 digits starting with 0 (+84). Parsing with ``phonenumbers`` costs tens of
microseconds, and the importer calls this once per row, so results are cached.
"""

import math
import re
import unicodedata
from decimal import Decimal

import phonenumbers
from phonenumbers import PhoneNumberType

_REGION = "VN"
_COUNTRY_CODE = 84
_ACCEPTED_TYPES = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
# Separators inside one number; "/", "," and ";" are kept because they separate several numbers.
_SEPARATORS = re.compile(r"[\s.\-()\u2010-\u2015'\"`\u200b\ufeff]+")
_PLAUSIBLE = re.compile(r"^\+?\d{7,15}$")
_FLOAT_TEXT = re.compile(r"^(\d+)[.,]0+$")  # "912345678.0": a number cell that went through a float


def _clean(raw: object) -> str:
    if type(raw) is str and raw.isascii() and raw.isdigit():
        return raw  # the usual cell: nothing to clean
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float | Decimal):
        if isinstance(raw, float) and math.isnan(raw):
            return ""  # pandas' empty cell
        if math.isfinite(raw) and raw == int(raw):
            return str(int(raw))
        return str(raw)
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if match := _FLOAT_TEXT.match(text):
        return match.group(1)
    return _SEPARATORS.sub("", text)


def _national_by_parsing(cleaned: str) -> str | None:
    if not _PLAUSIBLE.match(cleaned):
        return None
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]  # international call prefix
    elif len(cleaned) == 9 and not cleaned.startswith("0"):
        cleaned = "0" + cleaned  # Excel dropped the leading zero
    try:
        number = phonenumbers.parse(cleaned, _REGION)
    except phonenumbers.NumberParseException:
        return None
    return _national_if_valid(number)


def _national_if_valid(number: phonenumbers.PhoneNumber) -> str | None:
    # number_type is UNKNOWN for a number is_valid_number rejects, so one call answers both questions.
    if number.country_code != _COUNTRY_CODE or phonenumbers.number_type(number) not in _ACCEPTED_TYPES:
        return None
    national = f"0{number.national_number}"
    return national if len(national) == 10 else None


# The shapes almost every row has: 0xxxxxxxxx, the 9 digits Excel leaves, 84…, +84…, 0084…. Their national
# significant number is plain to see, which spares phonenumbers' parse (most of the cost, ~50 µs); the
# validity check itself is still phonenumbers'.
_COMMON_SHAPE = re.compile(r"^(?:\+84|0084|84|0)?([1-9]\d{8})$")


# phonenumbers' own patterns for Vietnamese mobile and fixed-line numbers, matched directly: the same
# answer as is_valid_number() + number_type() for these shapes, at a hundredth of the cost (an import
# meets hundreds of thousands of distinct numbers, so caching alone does not help).
_VN_METADATA = phonenumbers.PhoneMetadata.metadata_for_region(_REGION)
if _VN_METADATA is None:  # pragma: no cover - phonenumbers always ships VN
    raise RuntimeError("phonenumbers has no metadata for VN")
_VALID_NSN = re.compile(
    "(?:"
    + "|".join(
        desc.national_number_pattern
        for desc in (_VN_METADATA.mobile, _VN_METADATA.fixed_line)
        if desc is not None and desc.national_number_pattern
    )
    + ")"
)


def _national(cleaned: str) -> str | None:
    if match := _COMMON_SHAPE.match(cleaned):
        nsn = match.group(1)
        return "0" + nsn if _VALID_NSN.fullmatch(nsn) else None
    return _national_by_parsing(cleaned)


def _normalize(raw: object) -> tuple[str, bool]:
    if raw is None:
        return "", False
    cleaned = _clean(raw)
    national = _national(cleaned)
    if national is None:
        return cleaned, False
    return national, True


# Memo per exact input type (912345678 and "912345678" are different cells). A plain dict cleared when full
# costs half of what an lru_cache lookup does, and phonenumbers' parse costs far more than either.
_CACHE_SIZE = 1 << 18
_MEMO: dict[type, dict[object, tuple[str, bool]]] = {str: {}, int: {}, float: {}}


def normalize_phone(raw: object) -> tuple[str, bool]:
    """(national form "0xxxxxxxxx", True) for a valid Vietnamese mobile or fixed line number, else
    (the text without spaces and separators, False); ("", False) when blank.

    Accepts +84…, 0084…, 84…, 0…, and the 9 digits Excel leaves of a number typed without quotes.
    """
    if (
        type(raw) is str
        and len(raw) == 10
        and raw[0] == "0"
        and raw[1] != "0"
        and raw.isdigit()
        and raw.isascii()
    ):
        # The usual cell, already in national form: only its validity is in question (faster than the memo).
        return raw, _VALID_NSN.fullmatch(raw, 1) is not None
    memo = _MEMO.get(type(raw))
    if memo is None:
        return _normalize(raw)
    result = memo.get(raw)
    if result is None:
        result = _normalize(raw)
        if len(memo) >= _CACHE_SIZE:
            memo.clear()
        if raw == raw:  # NaN never finds itself again
            memo[raw] = result
    return result


def clear_caches() -> None:
    for memo in _MEMO.values():
        memo.clear()
