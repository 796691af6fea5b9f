"""The page kit's Python half: what every room's views call to answer a form (its templates are in
``web/templates/web/kit/``, found by name). It lives in core so that any room may use it."""

from typing import Any

from django.utils.translation import get_language


def refusal_text(refused: Any) -> str:
    """A service's refusal in the reader's language (``message_vi`` / ``message_en``)."""
    return refused.message_en if (get_language() or "").startswith("en") else refused.message_vi
