"""The optional second factor: a TOTP app on the user's phone (django-otp), on with ``VAXREG_SECOND_FACTOR=1``.

When it is on, national, province and admin accounts must set one up (at their next login) and give a
code after the password at every login; any other account may set one up on its account page and must
then use it too. When it is off (the default) no code is asked for and devices are ignored.

A device is created unconfirmed when its QR code is first shown and becomes the user's device when a
first code from it is right; setting one up and taking one away are audited (SECOND_FACTOR_ADDED,
SECOND_FACTOR_REMOVED). Sessions of a user who needs a second factor but has not given it count as
logged out (``vaxreg.accounts.middleware.SecondFactorMiddleware``).
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.services import AccountRefused
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent

SECOND_FACTOR_ROLES = frozenset({Role.NATIONAL, Role.PROVINCE, Role.ADMIN})
DEVICE_NAME = "TOTP"


class SecondFactorRefused(AccountRefused):
    """A change of the second factor that is not allowed."""


def second_factor_enabled() -> bool:
    return bool(settings.VAXREG_SECOND_FACTOR)


def second_factor_device(user: Any) -> TOTPDevice | None:
    """The user's confirmed device, if any."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("id").first()


def second_factor_required(user: Any) -> bool:
    """Whether this user must give a code after the password (never while the second factor is off)."""
    if not second_factor_enabled() or not getattr(user, "is_authenticated", False):
        return False
    return user.role in SECOND_FACTOR_ROLES or second_factor_device(user) is not None


def second_factor_enrolment(*, user: User) -> TOTPDevice:
    """The unconfirmed device whose QR code the user is shown, the same one until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


@transaction.atomic
def second_factor_confirm(*, user: User, code: str, address: str) -> TOTPDevice | None:
    """Make the device being set up the user's device if ``code`` is one of its codes (else None)."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        return None
    # Whoever sees the setup page holds the key: django-otp's wait after a typo would protect nothing here.
    device.throttle_reset(commit=False)
    if not device.verify_token(code):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_event_record(
        action=AuditEvent.Action.SECOND_FACTOR_ADDED,
        actor_id=user.pk,
        object_type="user",
        object_id=str(user.pk),
        detail={"device": device.pk, "address": address},
    )
    return device


@transaction.atomic
def second_factor_remove(*, user: User, code: str, address: str) -> None:
    """The user takes away their own device, with a current code from it; a role that must have one cannot."""
    if user.role in SECOND_FACTOR_ROLES:
        raise SecondFactorRefused(
            "Vai trò của bạn bắt buộc có xác thực hai bước; quản trị viên có thể đặt lại thiết bị.",
            "Your role must have a second factor; an administrator can reset your device.",
        )
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None or not device.verify_token(code):
        raise SecondFactorRefused("Mã xác thực không đúng.", "The authentication code is wrong.")
    _devices_delete(
        user=user, actor_id=user.pk, detail={"address": address, "reason": "removed by its owner"}
    )


@transaction.atomic
def second_factor_reset(*, user: User, reason: str, actor: User | None = None) -> int:
    """An administrator takes away all of a user's devices (a lost phone): the user sets up a new one at the
    next login (or, in a role that need not have one, logs in with the password alone). Returns how many
    devices were in use."""
    return _devices_delete(
        user=user,
        actor_id=actor.pk if actor else None,
        detail={"reason": reason or "reset by an administrator"},
    )


def _devices_delete(*, user: User, actor_id: int | None, detail: dict[str, Any]) -> int:
    confirmed = list(TOTPDevice.objects.filter(user=user, confirmed=True).values_list("pk", flat=True))
    TOTPDevice.objects.filter(user=user).delete()
    if confirmed:
        audit_event_record(
            action=AuditEvent.Action.SECOND_FACTOR_REMOVED,
            actor_id=actor_id,
            object_type="user",
            object_id=str(user.pk),
            detail={"devices": confirmed, **detail},
        )
    return len(confirmed)
