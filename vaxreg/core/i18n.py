"""Stored words kept in both languages (a refusal, a finding's message): the half for the reader.

Interface text goes through gettext (English msgids, the Vietnamese catalogue); this is only for values
that arrive as a Vietnamese and English pair.
"""

from django.utils.translation import get_language


def is_english() -> bool:
    """Whether the active language (the request's, or one set with ``translation.override``) is English."""
    return (get_language() or "vi").startswith("en")


def in_language(vi: str, en: str) -> str:
    """The Vietnamese or the English half of a stored pair, by the active language."""
    return en if is_english() else vi


def label_halves(label: object) -> tuple[str, str]:
    """The Vietnamese and English halves of a model choice label written "tiếng Việt / English" (states,
    channels, confirmers: their stored form is also what the admin, exports and history show)."""
    vi, _sep, en = str(label).partition(" / ")
    return vi, en or vi


def label_in_language(label: object) -> str:
    """The reader's half of a model choice label written "tiếng Việt / English"."""
    return in_language(*label_halves(label))
