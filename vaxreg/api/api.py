"""The REST API root: session auth (with CSRF on writes), one router per area, and the OpenAPI docs at
/api/docs for staff roles (Swagger UI served from django-ninja's own static files, no CDN)."""

from ninja import NinjaAPI
from ninja.security import django_auth

from vaxreg.api.docs import docs_for_api_roles
from vaxreg.api.errors import error_handlers_install
from vaxreg.api.imports import router as imports_router
from vaxreg.api.people import router as people_router
from vaxreg.complaints.api import router as complaints_router
from vaxreg.complaints.api_public import router as public_complaints_router
from vaxreg.verification.api import error_handlers_install as cases_error_handlers_install
from vaxreg.verification.api import router as cases_router

api = NinjaAPI(
    title="VaxReg API", version="1", auth=django_auth, docs_url="/docs", docs_decorator=docs_for_api_roles
)
error_handlers_install(api)
api.add_router("/people", people_router)
api.add_router("/imports", imports_router)
api.add_router("/cases", cases_router)
api.add_router("/complaints", complaints_router)
api.add_router("/public/complaints", public_complaints_router)
cases_error_handlers_install(api)
