"""The page kit's Python half: what every room's views call to answer a form or fill a shared partial (the
templates are in ``web/templates/web/kit/``, found by name). It lives in core so that any room may use it.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language


def refusal_text(refused: Any) -> str:
    """A service's refusal in the reader's language (``message_vi`` / ``message_en``)."""
    return refused.message_en if (get_language() or "").startswith("en") else refused.message_vi


def form_action(
    request: HttpRequest,
    form: Any,
    act: Callable[[dict[str, Any]], str],
    *,
    refused: tuple[type[Exception], ...],
    done: Callable[[], HttpResponse],
    again: Callable[[int], HttpResponse],
    stale: tuple[type[Exception], ...] = (),
) -> HttpResponse:
    """One action form of a page: validate it and call the service (``act``, which says what it did).
    Done: that sentence as a message, then ``done()`` (a redirect). Refused: the refusal on the form, on the
    field it names when the form has that field, and ``again(status)`` shows the page with the form: 400, or
    409 for a record someone else changed first (``stale``)."""
    status = 400
    if form.is_valid():
        try:
            said = act(form.cleaned_data)
        except stale as exc:
            form.add_error(None, refusal_text(exc))
            status = 409
        except refused as exc:
            field = getattr(exc, "field", None)
            form.add_error(field if field in form.fields and field != "version" else None, refusal_text(exc))
        else:
            messages.success(request, said)
            return done()
    return again(status)


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
