"""Logging in and out: the password, then (when it is needed) a code of the second factor, then the landing
page with what happened to the account since the last login.

Between the password and the code the session holds only a pending login (who, until when, where to go
next); the user is logged in, for every page and the API, only once the code is right.
"""

import datetime as dt
from base64 import b32encode
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from vaxreg.accounts.backends import BACKEND_PATH
from vaxreg.accounts.logins import (
    LoginInvalid,
    LoginRefused,
    LoginThrottled,
    login_code_check,
    login_enrolment_confirm,
    login_password_check,
    login_succeeded_record,
    logout_record,
)
from vaxreg.accounts.models import User
from vaxreg.accounts.permissions import Capability, public, requires
from vaxreg.accounts.second_factor import (
    SECOND_FACTOR_ROLES,
    SecondFactorRefused,
    second_factor_confirm,
    second_factor_device,
    second_factor_enabled,
    second_factor_enrolment,
    second_factor_remove,
    second_factor_required,
)
from vaxreg.accounts.selectors import LoginFailures, login_failures_since_last_login
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages
from vaxreg.core.ratelimit import client_address
from vaxreg.web.forms import LoginForm, SecondFactorCodeForm

PENDING_KEY = "login_pending"
PENDING_FOR = dt.timedelta(minutes=10)  # time to open the authenticator app and type a code


def _next_url(request: HttpRequest, candidate: str = "") -> str:
    url = candidate or request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, refused: LoginRefused | None = None
) -> HttpResponse:
    status = 200
    if isinstance(refused, LoginThrottled):
        context = {**context, "refusal": refused.bilingual()}
        status = 429
    response = render(request, template, context, status=status)
    if isinstance(refused, LoginThrottled):
        response["Retry-After"] = str(refused.retry_after)
    return response


@public
@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = LoginForm(request.POST or None)
    refused: LoginRefused | None = None
    if request.method == "POST" and form.is_valid():
        try:
            user = login_password_check(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                address=client_address(request),
            )
        except LoginRefused as exc:
            refused = exc
            if isinstance(exc, LoginInvalid):
                form.add_error(None, _("Wrong username or password."))
        else:
            if second_factor_required(user):
                return _pending_start(request, user, next_url)
            return _login_complete(request, user, device=None, next_url=next_url)
    return _render(request, "web/login.html", {"form": form, "next": next_url}, refused=refused)


def _pending_start(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    request.session.cycle_key()  # the password was right: a new session id, no fixation
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "until": (clock.now() + PENDING_FOR).timestamp(),
        "next": next_url,
    }
    return redirect("web:login_code" if second_factor_device(user) else "web:login_setup")


def _pending_user(request: HttpRequest) -> tuple[User | None, str]:
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or clock.now().timestamp() > float(pending.get("until", 0)):
        return None, ""
    user = User.objects.filter(pk=int(pending["user"]), is_active=True).first()
    return user, str(pending.get("next", ""))


def _login_complete(
    request: HttpRequest, user: User, *, device: TOTPDevice | None, next_url: str
) -> HttpResponse:
    failures = login_failures_since_last_login(user=user)
    request.session.pop(PENDING_KEY, None)
    auth_login(request, user, backend=BACKEND_PATH)
    if device is not None:
        otp_login(request, device)
    login_succeeded_record(user=user, address=client_address(request), second_factor=device is not None)
    if failures is not None:
        messages.warning(request, _failures_notice(failures))
    return redirect(_next_url(request, next_url))


def _failures_notice(failures: LoginFailures) -> str:
    when = timezone.localtime(failures.last_at).strftime("%H:%M %d/%m/%Y")
    where = failures.last_address or "?"
    failed = gettext_noop(
        "%(count)s failed login attempt(s) on your account since your last login; the last at %(when)s, from "
        "%(where)s. If that was not you, tell your administrator."
    )
    return both_languages(failed, {"count": failures.count, "when": when, "where": where})


@public
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_code_view(request: HttpRequest) -> HttpResponse:
    """The second step of a login: a code from the user's device."""
    return _second_step(request, enrol=False)


@public
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_setup_view(request: HttpRequest) -> HttpResponse:
    """The second step of a login for a user who must have a device and has none: set one up."""
    return _second_step(request, enrol=True)


def _second_step(request: HttpRequest, *, enrol: bool) -> HttpResponse:
    user, next_url = _pending_user(request)
    if user is None:
        return redirect("web:login")
    has_device = second_factor_device(user) is not None
    if has_device == enrol:  # a device to set up that is there already, or one to use that is not
        return redirect("web:login_code" if has_device else "web:login_setup")
    check = login_enrolment_confirm if enrol else login_code_check
    form = SecondFactorCodeForm(request.POST or None)
    refused: LoginRefused | None = None
    if request.method == "POST" and form.is_valid():
        try:
            device = check(user=user, code=form.cleaned_data["code"], address=client_address(request))
        except LoginRefused as exc:
            refused = exc
            if isinstance(exc, LoginInvalid):
                form.add_error("code", exc.bilingual())
        else:
            return _login_complete(request, user, device=device, next_url=next_url)
    context = {"form": form, "pending_user": user, "enrol": enrol, **(_enrolment(user) if enrol else {})}
    return _render(request, "web/login_second_factor.html", context, refused=refused)


def _enrolment(user: User) -> dict[str, str]:
    """The QR code (inline SVG: no script, no image request) and the key to type by hand of the device being set up."""
    device = second_factor_enrolment(user=user)
    secret = b32encode(device.bin_key).decode()
    return {
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(
            scale=4, title=_("QR code for your authenticator app")
        ),
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        logout_record(user_id=request.user.pk, address=client_address(request), reason="logout")
    auth_logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
@requires(Capability.STAFF)
def second_factor_view(request: HttpRequest) -> HttpResponse:
    """The user's own second factor: set one up, or take it away (roles that need not have one)."""
    user: Any = request.user
    device = second_factor_device(user) if second_factor_enabled() else None
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and second_factor_enabled() and form.is_valid():
        address = client_address(request)
        if device is None:
            confirmed = second_factor_confirm(user=user, code=form.cleaned_data["code"], address=address)
            if confirmed is not None:
                otp_login(request, confirmed)  # this session gave the code: it stays logged in
                messages.success(request, _("The second factor is set up: every login now asks for a code."))
                return redirect("web:second_factor")
            form.add_error("code", _("The authentication code is wrong."))
        else:
            try:
                second_factor_remove(user=user, code=form.cleaned_data["code"], address=address)
            except SecondFactorRefused as exc:
                form.add_error("code", exc.bilingual())
            else:
                messages.success(
                    request, _("The second factor is removed: logins ask for the password only.")
                )
                return redirect("web:second_factor")
    context: dict[str, Any] = {
        "form": form,
        "enabled": second_factor_enabled(),
        "device": device,
        "must_have": user.role in SECOND_FACTOR_ROLES,
    }
    if context["enabled"] and device is None:
        context.update(_enrolment(user))
    return render(request, "web/second_factor.html", context, status=400 if form.errors else 200)
