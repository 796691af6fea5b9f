"""One refusal protocol: every "no" a service says to a user is a ``Refusal``.

A refusal carries a stable ``code`` for programs, the reason in Vietnamese and English for people, the
input to blame (``field``, when there is one) and the HTTP ``status`` the API answers with. Each app's
refusals are kinds of it that set their code and status once, as class defaults; a single refusal may
still name its own. Two kinds are shared by every app:

- ``StaleVersion`` (409): someone else changed the record since the user read it; ``current`` holds the
  values stored now, so the user can decide again with them in sight.
- ``Forbidden`` (403): the user's role or unit may not do this.

The API renders a refusal with one handler (``vaxreg.api.errors``), pages with ``vaxreg.core.pages``.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.translation import get_language


class Refusal(Exception):
    """A service refused what was asked; nothing of it was written."""

    code: str = "refused"
    status: int = 400

    def __init__(
        self,
        message_vi: str,
        message_en: str,
        *,
        field: str = "",
        code: str | None = None,
        status: int | None = None,
        retry_after: int = 0,
    ) -> None:
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field
        self.retry_after = (
            retry_after  # seconds after which asking again may succeed; 0: waiting does not help
        )
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def message(self) -> str:
        """The reason in the active language (Vietnamese unless English is active)."""
        return self.message_en if (get_language() or "vi").startswith("en") else self.message_vi

    def bilingual(self, separator: str = " / ") -> str:
        """Both languages side by side, for the pages and commands that show both."""
        return f"{self.message_vi}{separator}{self.message_en}"

    def extra(self) -> dict[str, Any]:
        """What the API's error body carries besides code, messages and field."""
        return {}


class StaleVersion(Refusal):
    """The record moved on since the user read it (optimistic locking); ``current`` is what is stored now."""

    code = "stale"
    status = 409

    def __init__(
        self,
        message_vi: str,
        message_en: str,
        *,
        current: Mapping[str, Any],
        field: str = "",
        code: str | None = None,
    ) -> None:
        super().__init__(message_vi, message_en, field=field, code=code)
        self.current = dict(current)

    def extra(self) -> dict[str, Any]:
        return {
            "current": {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in self.current.items()}
        }


class Forbidden(Refusal):
    """The user's role or unit may not do this."""

    code = "forbidden"
    status = 403
