"""How a typed vaccine name becomes a catalogue key."""

import re
from functools import lru_cache

from vaxreg.core.text import fold

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=10_000)
def alias_key(text: str) -> str:
    """ "Vero Cell", "vero-cell" and "VEROCELL" all become "verocell"."""
    return _NOT_ALNUM.sub("", fold(text))
