"""The citizen's lookup pages: details and phone → a code to the phone on record → their own record.

Every answer before the code is checked is the same whether or not the details matched anyone.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vaxreg.accounts.permissions import public
from vaxreg.citizens.forms import CodeForm, LookupForm
from vaxreg.citizens.selectors import citizen_access_changes, citizen_record
from vaxreg.citizens.services import OtpOutcome, OtpRequestRefused, otp_request, otp_verify
from vaxreg.core.pages import refusal_form_error, refusal_message
from vaxreg.core.ratelimit import client_address
from vaxreg.corrections.models import AccessChangeConfirmer
from vaxreg.corrections.services import (
    CorrectionRefused,
    access_change_cancel,
    access_change_confirm,
)
from vaxreg.people.citizen_session import citizen_person_id, citizen_session_end, citizen_session_start

CHALLENGE_KEY = "citizen_otp_token"


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"  # personal data and codes stay out of shared caches
    return response


@public
@require_http_methods(["GET", "POST"])
def start_view(request: HttpRequest) -> HttpResponse:
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            challenge = otp_request(claim=form.claim(), address=client_address(request))
        except OtpRequestRefused as exc:
            refusal_form_error(form, exc)
            return _render(request, "citizens/start.html", {"form": form}, status=429)
        request.session[CHALLENGE_KEY] = challenge.token
        return redirect("citizens:code")
    return _render(request, "citizens/start.html", {"form": form}, status=400 if form.errors else 200)


WRONG = _("Wrong code. %(n)s tries left.")
LOCKED = _("Too many wrong codes. Ask for a new code in a few minutes.")
EXPIRED = _("The code has expired or was used. Ask for a new one.")


@public
@require_http_methods(["GET", "POST"])
def code_view(request: HttpRequest) -> HttpResponse:
    token = request.session.get(CHALLENGE_KEY, "")
    if not token:
        return redirect("citizens:start")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = otp_verify(token=token, code=form.cleaned_data["code"])
        if check.outcome == OtpOutcome.OK and check.person_id is not None:
            request.session.pop(CHALLENGE_KEY, None)
            citizen_session_start(request, person_id=check.person_id)
            return redirect("citizens:record")
        if check.outcome == OtpOutcome.WRONG:
            form.add_error("code", WRONG % {"n": check.tries_left})
        else:
            form.add_error(None, LOCKED if check.outcome == OtpOutcome.LOCKED else EXPIRED)
    return _render(request, "citizens/code.html", {"form": form}, status=400 if form.errors else 200)


@public
@require_GET
def record_view(request: HttpRequest) -> HttpResponse:
    person_id = citizen_person_id(request)
    if person_id is None:
        messages.info(
            request,
            gettext("Your lookup has ended; get a new code."),
        )
        return redirect("citizens:start")
    context = {
        "record": citizen_record(person_id=person_id),
        "access_changes": citizen_access_changes(person_id=person_id),
    }
    return _render(request, "citizens/record.html", context)


@public
@require_POST
def access_change_view(request: HttpRequest, change_id: int) -> HttpResponse:
    """The citizen confirms or refuses a change of their phone on record, ID number or commune that a
    complaint asked for: their one-time code, sent to the phone on record, is the second step."""
    person_id = citizen_person_id(request)
    if person_id is None:
        return redirect("citizens:start")
    confirm = request.POST.get("decision") == "confirm"
    try:
        if confirm:
            access_change_confirm(
                change_id=change_id, how=AccessChangeConfirmer.CITIZEN, citizen_person_id=person_id
            )
        else:
            access_change_cancel(change_id=change_id, citizen_person_id=person_id)
    except CorrectionRefused as refusal:  # not pending any more, or a value moved on since it was asked
        refusal_message(request, refusal)
    else:
        messages.success(
            request,
            gettext("Confirmed; your record is updated.")
            if confirm
            else gettext("Refused; your record stays as it was."),
        )
    return redirect("citizens:record")


@public
@require_POST
def end_view(request: HttpRequest) -> HttpResponse:
    citizen_session_end(request)
    return redirect("citizens:start")
