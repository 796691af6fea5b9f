"""The citizens' pages (no account): the complaint form, the page with the tracking code, the tracking page.

A refused submission comes back with everything that was typed (files excepted: the page asks for them
again) and the reason in Vietnamese and English beside the field it concerns. Each form carries a fresh
submission ticket (see ``antiflood``).
"""

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from vaxreg.accounts.permissions import public
from vaxreg.complaints.antiflood import (
    FORM_MIN_AGE,
    HONEYPOT_FIELD,
    FloodRefused,
    honeypot_filled,
    submission_admit,
    ticket_issue,
)
from vaxreg.complaints.attachments import FIELD as ATTACHMENTS_FIELD
from vaxreg.complaints.attachments import MAX_FILES, ProofFile, proof_read, proofs_count_check
from vaxreg.complaints.common import ComplaintRefused
from vaxreg.complaints.intake import (
    CHANNEL_WEB,
    citizen_status,
    complaint_for_citizen,
    complaint_submit,
    tracking_code_normalize,
)
from vaxreg.complaints.models import ComplaintState
from vaxreg.complaints.public_forms import CATEGORY_TEXT, ComplaintForm, TrackForm, category_help
from vaxreg.core.i18n import in_both_languages
from vaxreg.core.ratelimit import RateLimit, client_address, rate_count, rate_hit

SENT_SESSION_KEY = "complaint_sent_code"
# Wrong code or phone: ten tries an hour per address and per code, so neither can be guessed.
TRACK_ADDRESS = RateLimit("complaint-track-address", 10, dt.timedelta(hours=1))
TRACK_CODE = RateLimit("complaint-track-code", 10, dt.timedelta(hours=1))
NOT_FOUND = gettext_noop("No complaint matches this tracking code and phone number. Check both.")
TOO_MANY_TRIES = gettext_noop("Too many wrong tries. Please try again in an hour.")


def _form_page(
    request: HttpRequest,
    form: ComplaintForm,
    *,
    status: int = 200,
    refusal: ComplaintRefused | None = None,
    files_lost: bool = False,
) -> HttpResponse:
    context = {
        "form": form,
        # Every showing of the form gets a new ticket: a refused one was used up.
        "ticket": ticket_issue(address=client_address(request)),
        "honeypot": HONEYPOT_FIELD,
        "refusal": refusal,
        "files_lost": files_lost,
        "max_files": MAX_FILES,
        "attachments_errors": form.errors.get(ATTACHMENTS_FIELD, []) if form.is_bound else [],
    }
    response = render(request, "complaints/public/form.html", context, status=status)
    if isinstance(refusal, FloodRefused) and refusal.retry_after and status == 429:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _uploads(request: HttpRequest) -> list[ProofFile]:
    files = request.FILES.getlist(ATTACHMENTS_FIELD)
    proofs_count_check(len(files))
    return [proof_read(f, name=f.name or "", size=f.size) for f in files]


@public
@never_cache
@require_http_methods(["GET", "POST"])
def complaint_form_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form_page(request, ComplaintForm())
    form = ComplaintForm(request.POST)
    sent_files = bool(request.FILES.getlist(ATTACHMENTS_FIELD))
    address = client_address(request)
    try:
        if honeypot_filled(request.POST.get(HONEYPOT_FIELD)):
            raise FloodRefused(
                "honeypot",
                "Không gửi được. Hãy để trống ô ẩn và gửi lại.",
                "Could not send. Leave the hidden box empty and send again.",
            )
        submission_admit(ticket=request.POST.get("ticket", ""), address=address, min_age=FORM_MIN_AGE)
        if not form.is_valid():
            return _form_page(request, form, status=400, files_lost=sent_files)
        complaint = complaint_submit(
            intake=form.to_intake(), proofs=_uploads(request), from_public=True, channel=CHANNEL_WEB
        )
    except FloodRefused as exc:
        return _form_page(request, form, status=exc.status, refusal=exc, files_lost=sent_files)
    except ComplaintRefused as exc:
        form.is_valid()
        place = form.refusal_place(exc.field)
        message = exc.bilingual()
        if place is not None:
            form.add_error(place, message)
        elif exc.field == ATTACHMENTS_FIELD:
            form.errors[ATTACHMENTS_FIELD] = form.error_class([message])
        return _form_page(
            request, form, status=exc.status, refusal=None if place else exc, files_lost=sent_files
        )
    request.session[SENT_SESSION_KEY] = complaint.tracking_code
    return redirect("complaints_public:sent")


@public
@never_cache
@require_GET
def complaint_sent_view(request: HttpRequest) -> HttpResponse:
    code = request.session.get(SENT_SESSION_KEY)
    if not code:
        return redirect("complaints_public:form")
    track_url = reverse("complaints_public:track") + f"?ma={code}"
    return render(request, "complaints/public/sent.html", {"code": code, "track_url": track_url})


def _track_blocked(address: str, code: str) -> bool:
    return rate_count(TRACK_ADDRESS, address) >= TRACK_ADDRESS.limit or (
        bool(code) and rate_count(TRACK_CODE, code) >= TRACK_CODE.limit
    )


def _track_failed(address: str, code: str) -> None:
    rate_hit(TRACK_ADDRESS, address)
    if code:
        rate_hit(TRACK_CODE, code)


def track_lookup(request: HttpRequest, *, code: str, phone: str) -> tuple[Any, int]:
    """(the complaint, 200), (None, 404) for a wrong code or phone alike, or (None, 429) when too many
    wrong tries came from this address or for this code. Shared by the page and the API."""
    address = client_address(request)
    code = tracking_code_normalize(code)
    if _track_blocked(address, code):
        return None, 429
    complaint = complaint_for_citizen(tracking_code=code, phone=phone)
    if complaint is None:
        _track_failed(address, code)
        return None, 404
    return complaint, 200


@public
@never_cache
@require_http_methods(["GET", "POST"])
def complaint_track_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = TrackForm(initial={"code": request.GET.get("ma", "")[:64]})
        return render(request, "complaints/public/track.html", {"form": form})
    form = TrackForm(request.POST)
    if not form.is_valid():
        return render(request, "complaints/public/track.html", {"form": form}, status=400)
    complaint, status = track_lookup(
        request, code=form.cleaned_data["code"], phone=form.cleaned_data["phone"]
    )
    if complaint is None:
        message = in_both_languages(NOT_FOUND if status == 404 else TOO_MANY_TRIES)
        response = render(
            request, "complaints/public/track.html", {"form": form, "message": message}, status=status
        )
        if status == 429:
            response["Retry-After"] = "3600"
        return response
    status_view = citizen_status(complaint)
    context = {
        "form": TrackForm(initial={"code": complaint.tracking_code}),
        "status": status_view,
        "category": category_help(status_view.category) if status_view.category in CATEGORY_TEXT else None,
        "open": status_view.state in (ComplaintState.OPEN, ComplaintState.JOINED),
        "states": ComplaintState,
    }
    return render(request, "complaints/public/track.html", context)
