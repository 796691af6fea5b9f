"""The home page; every other page belongs to the room whose records it shows."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from vaxreg.accounts.permissions import Capability, requires
from vaxreg.accounts.second_factor import second_factor_device, second_factor_enabled


@require_GET
@requires(Capability.STAFF)
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    unit = user.facility or user.commune or user.province
    context = {
        "unit": unit,
        "second_factor_enabled": second_factor_enabled(),
        "second_factor_on": second_factor_enabled() and second_factor_device(user) is not None,
    }
    return render(request, "web/home.html", context)
