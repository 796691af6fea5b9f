"""Vietnamese text: NFC normalisation and the folded search key (no diacritics, Đ→D, lower case)."""

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")


def normalize_text(value: str | None) -> str:
    """NFC form with runs of white space folded to one space and the ends trimmed."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value)
    # Every white space character but the plain space is unprintable: printable text without two spaces in a
    # row or at either end is already folded (most cells are), and splitting it would only copy it.
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    # str.split() splits at exactly the characters \s matches, at a quarter of the regular expression's cost.
    return " ".join(text.split())


@lru_cache(maxsize=200_000)
def fold(value: str | None) -> str:
    """Search key: lower case, no diacritics, Đ→d, single spaces ("Nguyễn Thị Đào" → "nguyen thi dao")."""
    if not value:
        return ""
    # Two replacements: str.translate with a table walks the text a character at a time in Python objects.
    words = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D")).split()
    # Names are made of a few thousand words: each is folded once, not once for every name it is part of.
    known = _FOLDED_WORDS
    folded = [known[word] if word in known else _fold_word(word) for word in words]
    return " ".join(folded) if all(folded) else " ".join(filter(None, folded))  # marks alone fold to nothing


_FOLDED_WORDS: dict[str, str] = {}
_FOLDED_WORDS_MAX = 100_000


def _fold_word(word: str) -> str:
    """A decomposed word without its combining marks, in lower case (remembered)."""
    folded = "".join(ch for ch in word if not unicodedata.combining(ch)).lower()
    if len(_FOLDED_WORDS) >= _FOLDED_WORDS_MAX:
        _FOLDED_WORDS.clear()
    _FOLDED_WORDS[word] = folded
    return folded


def has_vietnamese_diacritics(value: str) -> bool:
    return fold(value) != _SPACES.sub(" ", value).strip().lower()
