"""The page kit's Python half: what every room's views call to answer a form or fill a shared partial (the
templates are in ``web/templates/web/kit/``, found by name). It lives in core so that any room may use it.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language


def refusal_text(refused: Any) -> str:
    """A service's refusal in the reader's language (``message_vi`` / ``message_en``)."""
    return refused.message_en if (get_language() or "").startswith("en") else refused.message_vi


@dataclass(frozen=True)
class HistoryRow:
    """One line of ``web/kit/history_table.html``: a changed field, each cell as the reader sees it."""

    at: dt.datetime
    record: str
    field: str
    old_value: str | None
    new_value: str | None
    actor: Any  # the user, or None for the system
    reason: str
    source: str
