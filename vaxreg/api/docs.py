"""Who may read the API's documentation (/api/docs) and its OpenAPI schema (/api/openapi.json).

Every staff role has operations of its own in the API, so every staff role reads its documentation:
national and admin read everything, the province and the facility import files and handle complaints,
the commune health station works its verification cases, and the commune police list the cases escalated
to them and post their result (``POST /api/cases/{id}/police-result``). Anonymous visitors, and any role
added later until ``Capability.API_DOCS`` names it, see neither the page nor the schema: the list of
operations is a map of the system that people without an account have no use for.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.decorators import csp_update
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.translation import gettext_noop

from vaxreg.accounts.permissions import Capability, user_can
from vaxreg.core.i18n import both_languages, in_both_languages

NO_API = gettext_noop("Your role does not use the API.")

DocsView = Callable[..., HttpResponseBase]


def docs_for_api_roles(view: DocsView) -> DocsView:
    """The docs page sends a visitor to the login page; the schema answers JSON like the rest of the API
    (401 without a login, 403 for a role without ``Capability.API_DOCS``)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        wants_json = request.path.endswith(".json")
        user = request.user
        if not user.is_authenticated:
            if wants_json:
                return JsonResponse(
                    {
                        "code": "unauthenticated",
                        "message_vi": "Cần đăng nhập.",
                        "message_en": "You need to log in.",
                    },
                    status=401,
                )
            return redirect_to_login(request.get_full_path())
        if not user_can(user, Capability.API_DOCS):
            if wants_json:
                vi, en = in_both_languages(NO_API)
                return JsonResponse({"code": "forbidden", "message_vi": vi, "message_en": en}, status=403)
            raise PermissionDenied(both_languages(NO_API))
        return view(request, *args, **kwargs)

    # Swagger UI's stylesheet draws its small icons (the arrow of a list, the lock of an operation) as
    # data: SVG images. An image cannot run script, so the page's policy allows them; nothing else changes.
    wrapped.required_capability = Capability.API_DOCS  # type: ignore[attr-defined]
    return csp_update({"img-src": ["data:"]})(wrapped)
