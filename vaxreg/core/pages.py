"""The page kit's Python half: how a page shows a refusal (its reason in the page's language, on the form
or as a message), the one way an action form is answered, and the rows of the shared history table. The
templates are in ``web/templates/web/kit/`` (found by name); these helpers live in core so that every app's
views may call them.

A page that refuses answers 409 when the record moved on (``StaleVersion``: the user looks again before
saving), else 400.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from vaxreg.core.refusals import Refusal, StaleVersion


def refusal_page_status(refusal: Refusal) -> int:
    return 409 if isinstance(refusal, StaleVersion) else 400


def refusal_form_error(form: Any, refusal: Refusal, *, on_field: bool = True) -> int:
    """Put the refusal's reason on ``form`` and return the page's status.

    The reason stands beside the field the refusal names when the form has it (a form may map service
    fields to its own with ``field_for``), otherwise above the form; a stale refusal always above it.
    """
    field = None
    if on_field and refusal.field and not isinstance(refusal, StaleVersion):
        field_for = getattr(form, "field_for", None)
        field = field_for(refusal.field) if field_for else refusal.field
        field = field if field in form.fields else None
    form.add_error(field, refusal.message())
    return refusal_page_status(refusal)


def refusal_message(request: HttpRequest, refusal: Refusal) -> None:
    """The refusal's reason as the message the next page shows (after a redirect)."""
    messages.error(request, refusal.message())


def form_action(
    request: HttpRequest,
    form: Any,
    act: Callable[[dict[str, Any]], str],
    *,
    done: Callable[[], HttpResponse],
    again: Callable[[int], HttpResponse],
) -> HttpResponse:
    """One action form of a page: validate it and call the service (``act``, which says what it did).
    Done: that sentence as a message, then ``done()`` (a redirect). Refused: the reason on the form and
    ``again(status)`` shows the page with it (400, or 409 for a record someone else changed first)."""
    status = 400
    if form.is_valid():
        try:
            said = act(form.cleaned_data)
        except Refusal as refusal:
            status = refusal_form_error(form, refusal)
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


def choices_set(form: Any, name: str, choices: list[tuple[Any, Any]]) -> None:
    """Give the choice field ``name`` of ``form`` its choices, made per request (a unit's staff, the
    catalogue's vaccines, labels in the reader's language)."""
    from django import forms

    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices
