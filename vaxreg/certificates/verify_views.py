"""The public verify page (SPEC §8): paste a certificate's "HC1:" text or upload a photo of its QR code,
and see which check failed, or the holder's name, birth date and doses when it is valid.

No account is needed. Each verification counts against the caller's address (``VERIFY_PER_ADDRESS``)
so the page cannot be used to test forged certificates in bulk; uploads are size- and pixel-limited and
read as images only. Nothing submitted is stored or logged.
"""

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from vaxreg.accounts.permissions import public
from vaxreg.certificates.keys import trusted_certificates
from vaxreg.certificates.verifying import STEP_LABELS, Step, Verification, hcert_verify, never_revoked
from vaxreg.core import clock
from vaxreg.core.i18n import both_languages, in_both_languages
from vaxreg.core.ratelimit import RateLimit, client_address, rate_hit

# A checkpoint verifies one person after another from the same address: generous, yet too few to
# search for a forgery.
VERIFY_PER_ADDRESS = RateLimit("certificate-verify-address", 120, dt.timedelta(minutes=10))
MAX_IMAGE_BYTES = 3 * 1024 * 1024
MAX_IMAGE_PIXELS = 16_000_000
# An HCERT with several entries is about 1,000 characters; the QR version 40 limit is 4,296.
MAX_TEXT_CHARS = 6_000
IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "WEBP", "BMP"}


class ImageUnreadable(Exception):
    """The upload is not a picture with a readable QR code; the message says why, in both languages."""


class VerifyForm(forms.Form):
    """The certificate text, or a photo of its QR code."""

    text = forms.CharField(required=False, max_length=MAX_TEXT_CHARS, strip=True, widget=forms.Textarea)
    image = forms.FileField(required=False)

    def clean_image(self) -> Any:
        upload = self.cleaned_data.get("image")
        if upload is not None and upload.size > MAX_IMAGE_BYTES:
            too_large = gettext_noop("The picture is too large (at most %(megabytes)s MB).")
            raise ValidationError(both_languages(too_large, {"megabytes": MAX_IMAGE_BYTES // (1024 * 1024)}))
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and not cleaned.get("text") and not cleaned.get("image"):
            raise ValidationError(
                both_languages(
                    gettext_noop(
                        "Paste the certificate text (starting with HC1:) or upload a picture of its QR code."
                    )
                )
            )
        return cleaned


def qr_text_from_image(data: bytes) -> str:
    """The text of the QR code in a picture (the one starting with "HC1:" when there are several)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in IMAGE_FORMATS:
            raise ImageUnreadable(
                both_languages(gettext_noop("The file is not a PNG, JPEG, GIF, WebP or BMP picture."))
            )
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageUnreadable(both_languages(gettext_noop("The picture has too many pixels.")))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageUnreadable(both_languages(gettext_noop("The picture cannot be opened."))) from error
    found = [
        result.text
        for result in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
        )
    ]
    if not found:
        no_code = gettext_noop(
            "No QR code found in the picture: take a sharp, well-lit photo with the whole code in it."
        )
        raise ImageUnreadable(both_languages(no_code))
    return next((text for text in found if text.startswith("HC1:")), found[0])


def _revocation_check() -> Callable[[str], bool]:
    """The revocation list kept by VaxReg, or "never revoked" where that part is not installed."""
    try:
        from vaxreg.certificates.revocation import is_revoked
    except ImportError:
        return never_revoked
    checker: Callable[[str], bool] = is_revoked
    return checker


def certificate_verify(text: str) -> Verification:
    """Verify a certificate text now, with the configured trust list and the revocation list."""
    return hcert_verify(text, now=clock.now(), trust=trusted_certificates(), is_revoked=_revocation_check())


def _steps_shown(result: Verification) -> list[dict[str, Any]]:
    """Every step, with the ones not reached after a failure shown as not checked."""
    done = {step.step: step for step in result.steps}
    shown = []
    for step in Step:
        vi, en = in_both_languages(STEP_LABELS[step])
        state = "not-run" if step not in done else ("ok" if done[step].ok else "failed")
        detail = done[step].detail if step in done else ""
        shown.append({"code": step.value, "vi": vi, "en": en, "state": state, "detail": detail})
    return shown


@public
@never_cache
@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, VerifyForm())
    decision = rate_hit(VERIFY_PER_ADDRESS, client_address(request))
    if not decision.allowed:
        response = _page(
            request,
            VerifyForm(),
            status=429,
            refusal=in_both_languages(
                gettext_noop(
                    "Too many certificates were checked from here in a few minutes. Please try again later."
                )
            ),
        )
        response["Retry-After"] = str(decision.retry_after_seconds)
        return response
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    text = form.cleaned_data.get("text") or ""
    source = "text"
    if not text:
        source = "image"
        try:
            text = qr_text_from_image(form.cleaned_data["image"].read())
        except ImageUnreadable as unreadable:
            form.add_error("image", str(unreadable))
            return _page(request, form, status=400)
    result = certificate_verify(text)
    # The text is not echoed back: the form comes back empty for the next person.
    return _page(request, VerifyForm(), result=result, source=source)


def _page(
    request: HttpRequest,
    form: VerifyForm,
    *,
    status: int = 200,
    result: Verification | None = None,
    source: str = "",
    refusal: tuple[str, str] | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "result": result,
        "steps": _steps_shown(result) if result else [],
        "source": source,
        "refusal": refusal,
        "max_image_mb": MAX_IMAGE_BYTES // (1024 * 1024),
    }
    response = render(request, "certificates/verify/page.html", context, status=status)
    response["Referrer-Policy"] = "same-origin"
    return response
