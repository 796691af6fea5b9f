"""Stored words kept in both languages (a refusal, a finding's message): the half for the reader.

Interface text goes through gettext (English msgids, the Vietnamese catalogue); this is only for values
that arrive as a Vietnamese and English pair.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.utils import translation
from django.utils.functional import Promise, lazy
from django.utils.translation import get_language, gettext

T = TypeVar("T")


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


def in_each_language(make: Callable[[], T]) -> tuple[T, T]:
    """What ``make`` says (built with gettext) in Vietnamese, then in English: for the API answers and the
    stored lines that keep both languages (``time_left_vi``/``time_left_en``, a closure's outcome)."""
    with translation.override("vi"):
        vi = make()
    with translation.override("en"):
        en = make()
    return vi, en


def in_both_languages(message: str, values: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The Vietnamese and the English of one interface msgid (marked with ``gettext_noop``), its
    ``%(name)s`` placeholders filled from ``values``: for what the public pages, the public API, the
    commands and the citizens' text messages show in both languages at once."""
    return in_each_language(lambda: gettext(message) % values if values is not None else gettext(message))


def both_languages(message: str | Promise, values: Mapping[str, Any] | None = None) -> str:
    """``"tiếng Việt / English"`` of one interface msgid (or of a ``pgettext_lazy`` text), for the forms of
    the pages read in both languages and the lines the ``vaxreg`` commands print (one line, both
    languages, for operators of either)."""
    halves = label_halves(message) if isinstance(message, Promise) else in_both_languages(message, values)
    return " / ".join(halves)


both_languages_lazy = lazy(both_languages, str)
