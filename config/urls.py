from django.urls import include, path

from vaxreg.api.api import api
from vaxreg.core.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("verification/", include("vaxreg.verification.urls")),
    path("complaints/", include("vaxreg.complaints.urls")),
    path("phan-anh/", include("vaxreg.complaints.urls_public")),
    path("certificates/", include("vaxreg.certificates.urls")),
    path("fhir/", include("vaxreg.fhir.urls")),
    path("tra-cuu/", include("vaxreg.citizens.urls")),
    path("", include("vaxreg.web.urls")),
]
