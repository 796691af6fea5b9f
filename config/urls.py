from django.urls import include, path
from django.views.i18n import set_language

from vaxreg.accounts.permissions import public
from vaxreg.api.api import api
from vaxreg.core.health import healthz

urlpatterns = [
    path("healthz", public(healthz), name="healthz"),
    path("i18n/setlang/", public(set_language), name="set_language"),  # as django.conf.urls.i18n has it
    path("api/", api.urls),
    path("verification/", include("vaxreg.verification.urls")),
    path("complaints/", include("vaxreg.complaints.urls")),
    path("phan-anh/", include("vaxreg.complaints.urls_public")),
    path("certificates/", include("vaxreg.certificates.urls")),
    path("duplicates/", include("vaxreg.linkage.urls")),
    path("dashboards/", include("vaxreg.dashboards.urls")),
    path("fhir/", include("vaxreg.fhir.urls")),
    path("tra-cuu/", include("vaxreg.citizens.urls")),
    path("", include("vaxreg.web.urls")),
]
