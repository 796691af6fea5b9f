"""Staff sessions end after an idle time."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse

from vaxreg.accounts.logins import logout_record
from vaxreg.core import clock
from vaxreg.core.ratelimit import client_address

SEEN_KEY = "vaxreg_seen"
# A session is written back at most this often to carry its time of last use forward.
SEEN_REFRESH = dt.timedelta(minutes=5)


def session_idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=settings.VAXREG_SESSION_IDLE_MINUTES)


def session_activity_mark(request: HttpRequest) -> None:
    request.session[SEEN_KEY] = clock.now().timestamp()


def session_activity_on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        session_activity_mark(request)


class SessionIdleMiddleware:
    """Ends a staff session ``VAXREG_SESSION_IDLE_MINUTES`` (8 hours) after its last request.

    The time of last use is kept in the session and written back only when it is ``SEEN_REFRESH`` (or a
    twelfth of the idle time, if less) old, so a busy user costs a session write every few minutes, not one
    per request; the session therefore ends between that much before the idle time and the idle time.
    The session row's own expiry (``SESSION_COOKIE_AGE``, the same idle time from each write) removes what
    nobody comes back to. Sessions without a logged-in user (a citizen's lookup) are left alone.
    Placed before AuthenticationMiddleware, which then finds no user in an ended session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        session = request.session
        user_id = session.get(SESSION_KEY)
        if user_id is None:
            return
        idle = session_idle_limit()
        now = clock.now().timestamp()
        seen = session.get(SEEN_KEY)
        if seen is not None and now - float(seen) > idle.total_seconds():
            logout_record(user_id=int(user_id), address=client_address(request), reason="idle")
            session.flush()
        elif seen is None or now - float(seen) >= min(SEEN_REFRESH, idle / 12).total_seconds():
            session[SEEN_KEY] = now
