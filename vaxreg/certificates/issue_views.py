"""The citizen's certificate page, the downloads (QR, PDF) and the published lists for verifiers.

Downloads go only to the citizen whose one-time code proved them to be the certificate's person, or to
staff whose jurisdiction covers that person; anyone else gets the same "not found".
"""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods

from vaxreg.accounts.permissions import public
from vaxreg.certificates.issuing import CertificateRefused, certificate_get_or_issue
from vaxreg.certificates.keys import KeyNotConfigured
from vaxreg.certificates.models import Certificate
from vaxreg.certificates.pdf import certificate_pdf
from vaxreg.certificates.qr import qr_png
from vaxreg.certificates.revocation import revocation_list, trust_list
from vaxreg.certificates.selectors import (
    certificate_current,
    certificate_doses,
    certificate_for_download,
    certificate_missing,
    certificate_sheet,
    certificates_of_person,
)
from vaxreg.core.i18n import in_language
from vaxreg.people.citizen_session import citizen_person_id
from vaxreg.people.models import Person


@public
@require_http_methods(["GET", "POST"])
def mine_view(request: HttpRequest) -> HttpResponse:
    person_id = citizen_person_id(request)
    if person_id is None:
        messages.info(
            request,
            gettext("Your lookup has ended; get a new code to see your certificate."),
        )
        return redirect("citizens:start")
    refusal = ""
    if request.method == "POST":
        try:
            certificate_get_or_issue(person_id=person_id)
        except CertificateRefused as exc:
            refusal = exc.message()
        except KeyNotConfigured:
            refusal = gettext("Certificates cannot be issued right now; try again later.")
        else:
            return redirect("certificates:mine")
    person = Person.objects.get(pk=person_id)
    certificates = certificates_of_person(person_id=person_id)
    current = certificate_current(person_id=person_id)
    missing = certificate_missing(person=person, doses=certificate_doses(person_id=person_id))
    context = {
        "person": person,
        "current": current,
        "older": [c for c in certificates if current is None or c.pk != current.pk],
        "missing": [in_language(m.message_vi, m.message_en) for m in missing],
        "refusal": refusal,
    }
    response = render(request, "certificates/issue/mine.html", context, status=400 if refusal else 200)
    response["Cache-Control"] = "no-store"
    return response


def _downloadable(request: HttpRequest, reference: str) -> Certificate:
    certificate = certificate_for_download(
        reference=reference, citizen_person_id=citizen_person_id(request), user=request.user
    )
    if certificate is None:
        raise Http404("no such certificate")
    return certificate


def _file_name(certificate: Certificate, extension: str) -> str:
    return f"chung-nhan-{certificate.uvci.rsplit(':', 1)[-1][:12].lower()}.{extension}"


@public
@require_GET
def qr_view(request: HttpRequest, reference: str) -> HttpResponse:
    certificate = _downloadable(request, reference)
    response = HttpResponse(qr_png(certificate.hcert), content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="{_file_name(certificate, "png")}"'
    response["Cache-Control"] = "private, no-store"
    return response


@public
@require_GET
def pdf_view(request: HttpRequest, reference: str) -> HttpResponse:
    certificate = _downloadable(request, reference)
    response = HttpResponse(
        certificate_pdf(certificate_sheet(certificate=certificate)), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{_file_name(certificate, "pdf")}"'
    response["Cache-Control"] = "private, no-store"
    return response


# Verifiers fetch these often; a minute of caching spares the database without delaying a revocation long.
@public
@require_GET
@cache_control(public=True, max_age=60)
def revocations_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(revocation_list())


@public
@require_GET
@cache_control(public=True, max_age=60)
def trust_list_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(trust_list())
