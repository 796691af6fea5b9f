"""Logging in and out: the password, then the landing page with what happened to the account since the
last login."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from vaxreg.accounts.backends import BACKEND_PATH
from vaxreg.accounts.logins import (
    LoginInvalid,
    LoginRefused,
    LoginThrottled,
    login_password_check,
    login_succeeded_record,
    logout_record,
)
from vaxreg.accounts.selectors import LoginFailures, login_failures_since_last_login
from vaxreg.core.ratelimit import client_address
from vaxreg.web.forms import LoginForm


def _bilingual(exc: LoginRefused) -> str:
    return f"{exc.message_vi} / {exc.message_en}"


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
        context = {**context, "refusal": _bilingual(refused)}
        status = 429
    response = render(request, template, context, status=status)
    if isinstance(refused, LoginThrottled):
        response["Retry-After"] = str(refused.retry_after)
    return response


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
            return _login_complete(request, user, next_url=next_url)
    return _render(request, "web/login.html", {"form": form, "next": next_url}, refused=refused)


def _login_complete(request: HttpRequest, user: Any, *, next_url: str) -> HttpResponse:
    failures = login_failures_since_last_login(user=user)
    auth_login(request, user, backend=BACKEND_PATH)
    login_succeeded_record(user=user, address=client_address(request), second_factor=False)
    if failures is not None:
        messages.warning(request, _failures_notice(failures))
    return redirect(_next_url(request, next_url))


def _failures_notice(failures: LoginFailures) -> str:
    when = timezone.localtime(failures.last_at).strftime("%H:%M %d/%m/%Y")
    where = failures.last_address or "?"
    return (
        f"Có {failures.count} lần đăng nhập không thành công vào tài khoản của bạn kể từ lần đăng nhập trước; "
        f"lần gần nhất lúc {when}, từ địa chỉ {where}. Nếu đó không phải là bạn, hãy báo quản trị viên. / "
        f"{failures.count} failed login attempt(s) on your account since your last login; the last at {when}, "
        f"from {where}. If that was not you, tell your administrator."
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        logout_record(user_id=request.user.pk, address=client_address(request), reason="logout")
    auth_logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
