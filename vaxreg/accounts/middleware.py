"""Staff sessions: they end after an idle time, and count as logged out until a needed second factor is given."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from vaxreg.accounts.logins import logout_record
from vaxreg.accounts.second_factor import second_factor_enabled, second_factor_required
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


class SecondFactorMiddleware:
    """After django-otp's OTPMiddleware: a user who needs a second factor and whose session has not given
    it is anonymous to every page and to the API, as if not logged in (e.g. a session from before the second
    factor was switched on, or from before the user set one up)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if second_factor_enabled():
            user = request.user
            request.user = SimpleLazyObject(lambda: _verified_or_anonymous(user))  # type: ignore[assignment]
            auser = request.auser

            async def verified_auser() -> Any:
                return await sync_to_async(_verified_or_anonymous)(await auser())

            request.auser = verified_auser
        return self.get_response(request)


def _verified_or_anonymous(user: Any) -> Any:
    if user.is_authenticated and not user.is_verified() and second_factor_required(user):
        anonymous: Any = AnonymousUser()
        anonymous.otp_device = None
        anonymous.is_verified = lambda: False
        return anonymous
    return user
