"""Reads about staff accounts: what a user is told about attempts on their account."""

import datetime as dt
from dataclasses import dataclass

from vaxreg.accounts.models import User
from vaxreg.core.models import AuditEvent


@dataclass(frozen=True)
class LoginFailures:
    count: int
    last_at: dt.datetime
    last_address: str


def login_failures_since_last_login(*, user: User) -> LoginFailures | None:
    """The failed and refused login attempts on ``user``'s account since its last successful login (all of
    them before the first), or None when there were none. Call it before recording the new login."""
    events = AuditEvent.objects.filter(object_type="user", object_id=str(user.pk))
    previous = (
        events.filter(action=AuditEvent.Action.LOGIN_SUCCEEDED)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = events.filter(action__in=[AuditEvent.Action.LOGIN_FAILED, AuditEvent.Action.LOGIN_THROTTLED])
    if previous is not None:
        failures = failures.filter(at__gt=previous)
    last = failures.order_by("-at", "-id").values_list("at", "detail").first()
    if last is None:
        return None
    return LoginFailures(
        count=failures.count(), last_at=last[0], last_address=str(last[1].get("address", ""))
    )
