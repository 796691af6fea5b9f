"""Stored words kept in both languages (a refusal, a finding's message): the half for the reader.

Interface text goes through gettext (English msgids, the Vietnamese catalogue); this is only for values
that arrive as a Vietnamese and English pair.
"""

from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.translation import get_language, gettext


def is_english() -> bool:
    """Whether the active language (the request's, or one set with ``translation.override``) is English."""
    return (get_language() or "vi").startswith("en")


def in_language(vi: str, en: str) -> str:
    """The Vietnamese or the English half of a stored pair, by the active language."""
    return en if is_english() else vi


def label_halves(label: object) -> tuple[str, str]:
    """The Vietnamese and English of a translatable label (a model choice's ``pgettext_lazy``), or the
    halves of one written "tiếng Việt / English"."""
    if isinstance(label, Promise):
        with translation.override("vi"):
            vi = str(label)
        with translation.override("en"):
            en = str(label)
        return vi, en
    vi, _sep, en = str(label).partition(" / ")
    return vi, en or vi


def label_in_language(label: object) -> str:
    """The reader's half of a label that ``label_halves`` reads."""
    return in_language(*label_halves(label))


def label_both(label: object) -> str:
    """ "tiếng Việt / English" of a model choice's label: what exports, stored history lines and the pages
    read by both (the police's) show."""
    return " / ".join(label_halves(label))


def in_both_languages(message: str) -> tuple[str, str]:
    """The Vietnamese and the English of one interface msgid (marked with ``gettext_noop``), for what the
    public pages and the public API show in both languages at once."""
    with translation.override("vi"):
        vi = gettext(message)
    with translation.override("en"):
        en = gettext(message)
    return vi, en


def both_languages(message: str | Promise) -> str:
    """``"tiếng Việt / English"`` of one interface msgid (or of a ``pgettext_lazy`` text), for the forms of
    the pages read in both languages."""
    return " / ".join(label_halves(message) if isinstance(message, Promise) else in_both_languages(message))


both_languages_lazy = lazy(both_languages, str)
