"""The one authentication backend: Django's password check behind the login throttle.

Whoever calls ``django.contrib.auth.authenticate`` (the login page, ``Client.login`` in tests, an admin
site or a password-based API added later) goes through ``login_password_check``: the same counters, the
same lock and the same audit as the login page.
"""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from vaxreg.accounts.logins import LoginInvalid, LoginThrottled, login_password_check
from vaxreg.accounts.models import User
from vaxreg.core.ratelimit import client_address

BACKEND_PATH = "vaxreg.accounts.backends.ThrottledPasswordBackend"


class ThrottledPasswordBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        username = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(request) if request is not None else ""
        try:
            return login_password_check(username=username, password=password, address=address)
        except LoginThrottled as exc:
            raise PermissionDenied(str(exc)) from exc  # stops authenticate() from asking any other backend
        except LoginInvalid:
            return None
