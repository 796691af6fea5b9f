"""How a page shows a refusal: its reason in the page's language, on the form or as a message.

The apps' views share these (``web`` sits above the apps, so the helpers live here). A page that refuses
answers 409 when the record moved on (``StaleVersion``: the user looks again before saving), else 400.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest

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
