"""Gender as facilities type it ("Nam", "nữ", "NU", "F", "male", "Khác") → "M" / "F" / "O" / ""."""

import re
from functools import lru_cache

from vaxreg.core.text import fold

_WORDS: dict[str, str] = {
    **dict.fromkeys(("nam", "nam gioi", "gioi tinh nam", "trai", "m", "male", "man"), "M"),
    **dict.fromkeys(("nu", "nu gioi", "gioi tinh nu", "gai", "f", "female", "woman"), "F"),
    **dict.fromkeys(("khac", "gioi tinh khac", "o", "other"), "O"),
    # Said outright, so readable: they just carry no gender.
    **dict.fromkeys(("khong ro", "chua ro", "khong xac dinh", "chua xac dinh", "unknown", "n/a", "na"), ""),
}
# Digits are deliberately not read: files disagree on whether 1 means Nam or Nữ.
_PUNCTUATION = re.compile(r"[\s.,;:()\[\]\-_*]+")


@lru_cache(maxsize=1024, typed=True)
def _lookup(raw: object) -> str | None:
    """The gender code, or None when the text is not blank and means nothing we know."""
    if raw is None or (isinstance(raw, float) and raw != raw):  # NaN: pandas' empty cell
        return ""
    if not isinstance(raw, str):
        return None
    key = _PUNCTUATION.sub(" ", fold(raw)).strip()
    if not key:
        return ""
    return _WORDS.get(key)


def _cached(raw: object) -> str | None:
    try:
        return _lookup(raw)
    except TypeError:  # unhashable
        return None


def parse_gender(raw: object) -> str:
    """ "M", "F", "O", or "" for blank, explicitly unknown or unreadable (see is_recognised_gender)."""
    return _cached(raw) or ""


def is_recognised_gender(raw: object) -> bool:
    """False only for a non-blank value that means nothing we know ("1", "abc"), so the importer can keep
    and report it; blank and "không rõ" are recognised: they say plainly that the gender is unknown."""
    return _cached(raw) is not None
