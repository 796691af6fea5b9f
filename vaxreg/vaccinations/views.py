"""The facility head's sign-off page: the latest days of doses, each signed off once (SPEC §6)."""

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from vaxreg.accounts.permissions import Capability, requires
from vaxreg.core.pages import refusal_message
from vaxreg.vaccinations.selectors import days_of_facility
from vaxreg.vaccinations.services import SignOffRefused, day_sign_off


@require_http_methods(["GET", "POST"])
@requires(Capability.SIGN_OFF)
def sign_off(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if request.method == "POST":
        try:
            day = dt.date.fromisoformat(request.POST.get("day", ""))
            signed = day_sign_off(
                actor=user, facility_id=user.facility_id, day=day, note=request.POST.get("note", "")
            )
        except ValueError:
            messages.error(request, gettext("The day is not valid."))
        except SignOffRefused as refused:
            refusal_message(request, refused)
        else:
            messages.success(
                request,
                gettext("Signed off %(doses)s doses of %(day)s.")
                % {"doses": signed.doses, "day": f"{signed.day:%d/%m/%Y}"},
            )
        return redirect("web:sign_off")
    return render(
        request, "vaccinations/sign_off.html", {"days": days_of_facility(facility_id=user.facility_id)}
    )
