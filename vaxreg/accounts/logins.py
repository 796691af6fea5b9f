"""Staff logins that resist guessing: the throttle, the audit of every attempt, and what the user is told.

Failed attempts (a wrong password, or a wrong code of the second factor) are counted in the database
(``vaxreg.core.ratelimit``), so every web worker and restart shares them, per account (the username tried,
in any case) and per client address: ``VAXREG_LOGIN_LIMITS``, default ``account=20/15m,address=20/15m``.
When the failures of the current and the previous window together reach a limit, nothing is checked
until they fall below it again (one to two windows after the failure that reached it): not the password,
not the code. The refusal therefore says nothing about whether the password was right, and a refused
attempt is audited but not counted, so trying on does not lengthen the lock.

Attempts that all pass the check at the same moment, before any of them is counted, can go past a limit
by at most the number of requests the servers handle at once.

Every attempt leaves an AuditEvent with the username tried and the address: LOGIN_FAILED,
LOGIN_THROTTLED, LOGIN_SUCCEEDED, and LOGOUT. An attempt at an existing account names that account as
actor and object (so that its owner is shown it at the next login); an unknown username names none.
"""

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.utils import timezone
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from vaxreg.accounts.models import User
from vaxreg.accounts.second_factor import second_factor_confirm, second_factor_device
from vaxreg.accounts.services import AccountRefused
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.ratelimit import RateLimit, rate_hits, rate_limits_parse, rate_limits_text, rate_lock_seconds

LIMITS_ENV = "VAXREG_LOGIN_LIMITS"
_DEFAULT_RULES = {
    "account": RateLimit("login-account", 20, dt.timedelta(minutes=15)),
    "address": RateLimit("login-address", 20, dt.timedelta(minutes=15)),
}
DEFAULT_LIMITS = rate_limits_text(_DEFAULT_RULES)  # account=20/15m,address=20/15m
USERNAME_KEPT = 150  # as long as a username can be: what was typed is audited, not a novel


@dataclass(frozen=True)
class LoginLimits:
    account: RateLimit
    address: RateLimit


@lru_cache(maxsize=4)
def _limits_for(text: str) -> LoginLimits:
    return LoginLimits(**rate_limits_parse(text, setting=LIMITS_ENV, defaults=_DEFAULT_RULES))


def login_limits() -> LoginLimits:
    return _limits_for(settings.VAXREG_LOGIN_LIMITS or DEFAULT_LIMITS)


# A bad setting stops the server at start-up rather than at someone's first login.
login_limits()


class LoginStep(StrEnum):
    PASSWORD = "password"
    SECOND_FACTOR = "second_factor"


class LoginRefused(AccountRefused):
    """A login attempt that does not go through."""


class LoginThrottled(LoginRefused):
    """Too many failures for the account or from the address (or a code too soon after a wrong one):
    nothing was checked. ``retry_after`` in seconds."""

    status = 429

    def __init__(self, retry_after: int, message_vi: str, message_en: str) -> None:
        super().__init__(message_vi, message_en, retry_after=retry_after)

    @classmethod
    def too_many_failures(cls, retry_after: int) -> "LoginThrottled":
        minutes = max(1, -(-retry_after // 60))
        return cls(
            retry_after,
            "Tạm thời không thể đăng nhập: đã có quá nhiều lần đăng nhập sai vào tài khoản này hoặc từ địa "
            f"chỉ này. Hãy thử lại sau {minutes} phút.",
            "Logging in is paused: there were too many failed attempts on this account or from this address. "
            f"Try again in {minutes} minute(s).",
        )

    @classmethod
    def code_too_soon(cls, retry_after: int) -> "LoginThrottled":
        return cls(
            retry_after,
            f"Sau một mã sai, hãy chờ {retry_after} giây rồi nhập mã mới.",
            f"After a wrong code, wait {retry_after} second(s) before typing the next one.",
        )


class LoginInvalid(LoginRefused):
    """A wrong username or password, or a wrong code of the second factor."""


WRONG_PASSWORD = ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password.")
WRONG_CODE = ("Mã xác thực không đúng.", "The authentication code is wrong.")


@dataclass(frozen=True)
class LoginAttempt:
    """One try to log in: the username typed and the client address ("" when there is none, e.g. a
    password checked by a management command)."""

    username: str
    address: str

    def counters(self) -> list[tuple[RateLimit, str]]:
        limits = login_limits()
        keys = [(limits.account, self.username.strip().casefold()[:USERNAME_KEPT])]
        if self.address:
            keys.append((limits.address, self.address))
        return keys

    def detail(self, step: LoginStep) -> dict[str, Any]:
        return {"username": self.username[:USERNAME_KEPT], "address": self.address, "step": step.value}


def _account_of(attempt: LoginAttempt) -> User | None:
    # Usernames are unique whatever their case (user_create), so "Admin" is an attempt on "admin".
    return User.objects.filter(username__iexact=attempt.username.strip()).first()


def _attempt_audit(attempt: LoginAttempt, *, action: str, step: LoginStep, **extra: Any) -> None:
    account = _account_of(attempt)
    audit_event_record(
        action=action,
        actor_id=account.pk if account else None,
        object_type="user" if account else "",
        object_id=str(account.pk) if account else "",
        detail=attempt.detail(step) | extra,
    )


def login_throttle_enforce(attempt: LoginAttempt, *, step: LoginStep) -> None:
    """Raise LoginThrottled (and audit it) while the account or the address is at its limit of failures."""
    wait = max(rate_lock_seconds(rule, key) for rule, key in attempt.counters())
    if wait:
        _attempt_audit(attempt, action=AuditEvent.Action.LOGIN_THROTTLED, step=step, retry_after=wait)
        raise LoginThrottled.too_many_failures(wait)


@transaction.atomic
def login_failure_record(attempt: LoginAttempt, *, step: LoginStep) -> None:
    """Count a failure against the account and the address, and audit it."""
    rate_hits([(rule, key, None) for rule, key in attempt.counters()])
    _attempt_audit(attempt, action=AuditEvent.Action.LOGIN_FAILED, step=step)


# The refusals below are raised after their records are written, outside any transaction of the caller's
# making that an exception would roll back: a failure that is not counted would be a free guess.


def login_password_check(*, username: str, password: str, address: str) -> User:
    """The account whose password this is, unless the throttle holds (LoginThrottled) or it is not
    (LoginInvalid). Every password check of the project comes here (``ThrottledPasswordBackend``)."""
    attempt = LoginAttempt(username=username, address=address)
    login_throttle_enforce(attempt, step=LoginStep.PASSWORD)
    # Django's own check: inactive accounts refused, and an unknown username costs a hash like a known one.
    user = ModelBackend().authenticate(None, username=username, password=password)
    if not isinstance(user, User):
        login_failure_record(attempt, step=LoginStep.PASSWORD)
        raise LoginInvalid(*WRONG_PASSWORD)
    return user


def login_code_check(*, user: User, code: str, address: str) -> TOTPDevice:
    """The device that accepts this code of ``user`` (the second step of a login), counted like a password."""

    def verify(attempt: LoginAttempt) -> TOTPDevice | None:
        device = second_factor_device(user)
        if device is None:
            return None
        allowed, why = device.verify_is_allowed()
        if not allowed:
            # django-otp's own back-off on the device after wrong codes (1, 2, 4... seconds, on its own clock).
            locked_until = (why or {}).get("locked_until")
            wait = max(1, math.ceil((locked_until - timezone.now()).total_seconds())) if locked_until else 1
            _attempt_audit(
                attempt,
                action=AuditEvent.Action.LOGIN_THROTTLED,
                step=LoginStep.SECOND_FACTOR,
                retry_after=wait,
            )
            raise LoginThrottled.code_too_soon(wait)
        return verify_token(user, device.persistent_id, code)

    return _second_step(user=user, address=address, verify=verify)


def login_enrolment_confirm(*, user: User, code: str, address: str) -> TOTPDevice:
    """Set up the second factor during a login: the first code from the new device, counted like a password."""
    return _second_step(
        user=user,
        address=address,
        verify=lambda _: second_factor_confirm(user=user, code=code, address=address),
    )


def _second_step(
    *, user: User, address: str, verify: Callable[[LoginAttempt], TOTPDevice | None]
) -> TOTPDevice:
    attempt = LoginAttempt(username=user.get_username(), address=address)
    login_throttle_enforce(attempt, step=LoginStep.SECOND_FACTOR)
    device = verify(attempt)
    if device is None:
        login_failure_record(attempt, step=LoginStep.SECOND_FACTOR)
        raise LoginInvalid(*WRONG_CODE)
    return device


def login_succeeded_record(*, user: User, address: str, second_factor: bool) -> AuditEvent:
    return audit_event_record(
        action=AuditEvent.Action.LOGIN_SUCCEEDED,
        actor_id=user.pk,
        object_type="user",
        object_id=str(user.pk),
        detail={"username": user.get_username(), "address": address, "second_factor": second_factor},
    )


def logout_record(*, user_id: int, address: str, reason: str) -> AuditEvent:
    """Audit the end of a session: ``reason`` "logout" (the user asked) or "idle" (it timed out)."""
    return audit_event_record(
        action=AuditEvent.Action.LOGOUT,
        actor_id=user_id,
        object_type="user",
        object_id=str(user_id),
        detail={"address": address, "reason": reason},
    )
