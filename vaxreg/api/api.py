"""The REST API root: session auth (with CSRF on writes), one router per area, and the OpenAPI docs at
/api/docs for staff roles (Swagger UI served from django-ninja's own static files, no CDN).

The OpenAPI document says every status an operation can answer. Each router declares its own refusals;
the statuses the framework itself answers are declared here, by rule, for every operation they apply to
(``openapi_complete``), so that a new operation cannot forget them.
"""

import copy
from collections.abc import Iterator
from typing import Any

from django.http import Http404, HttpRequest
from django.urls import register_converter
from ninja import NinjaAPI, Router
from ninja.security import django_auth

from vaxreg.accounts.permissions import public
from vaxreg.api.docs import docs_for_api_roles
from vaxreg.api.errors import error_handlers_install
from vaxreg.complaints.api import router as complaints_router
from vaxreg.complaints.api_public import router as public_complaints_router
from vaxreg.core.api_schema import ErrorOut
from vaxreg.dashboards.api import campaigns_router
from vaxreg.dashboards.api import router as dashboards_router
from vaxreg.imports.api import router as imports_router
from vaxreg.linkage.api import router as linkage_router
from vaxreg.people.api import router as people_router
from vaxreg.verification.api import router as cases_router

COMPONENTS = "#/components/schemas/"
UNSAFE_METHODS = {"post", "put", "patch", "delete"}
# What the framework answers, and when: (status, description, applies to the operation).
FRAMEWORK_ERRORS: list[tuple[int, str, Any]] = [
    (400, "The request body cannot be read (not JSON, broken multipart)", lambda op, m: "requestBody" in op),
    (401, "Not logged in", lambda op, m: bool(op.get("security"))),
    (
        403,
        "CSRF check failed, or the role may not do this",
        lambda op, m: op.get("security") and m in UNSAFE_METHODS,
    ),
    (404, "No such record, or outside your jurisdiction", lambda op, m: _has_parameters(op, "path")),
    (422, "The request does not match this schema (`field` names the input)", lambda op, m: _has_input(op)),
]


def _has_parameters(operation: dict[str, Any], where: str) -> bool:
    return any(p.get("in") == where for p in operation.get("parameters", ()))


def _has_input(operation: dict[str, Any]) -> bool:
    return bool(operation.get("parameters")) or "requestBody" in operation


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for methods in schema["paths"].values():
        yield from methods.items()


def _hoist_defs(node: Any, components: dict[str, Any]) -> None:
    """Move the ``$defs`` a schema carries inline (one written by hand, not by ninja) into the components,
    where its ``#/$defs/...`` references then point; a name already taken by another schema is an error."""
    if isinstance(node, list):
        for item in node:
            _hoist_defs(item, components)
        return
    if not isinstance(node, dict):
        return
    for name, definition in node.pop("$defs", {}).items():
        _hoist_defs(definition, components)
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are named {name!r} in the OpenAPI document")
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        node["$ref"] = COMPONENTS + ref.removeprefix("#/$defs/")
    for value in node.values():
        _hoist_defs(value, components)


def openapi_complete(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template=COMPONENTS + "{model}"))
    for method, operation in _operations(schema):
        _hoist_defs(operation, components)
        responses = operation["responses"]
        for status, description, applies in FRAMEWORK_ERRORS:
            if applies(operation, method) and status not in responses and str(status) not in responses:
                responses[status] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": COMPONENTS + "ErrorOut"}}},
                }


class VaxRegAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        # A copy: the parts django-ninja builds the document from are kept between calls, and completing
        # the document moves some of them (``$defs``), which a second call would then miss.
        schema = copy.deepcopy(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))
        openapi_complete(schema)
        return schema

    def _get_urls(self) -> list[Any]:
        urls = super()._get_urls()
        for pattern in urls:
            callback = getattr(pattern, "callback", None)
            if getattr(pattern, "name", "") == "api-root" and callback:  # django-ninja's own root: a 404
                public(callback)
        return urls


# Any other path under /api/ answers the API's own JSON 404, not the site's HTML page: a client that
# sends an id of the wrong shape (``/api/cases/abc``) reads the same error body as for an unknown id.
fallback_router = Router(auth=None)


class AnyPath:
    """Any rest of a path, line breaks too (a ``%0A`` in a drawn id): Django's own ``path`` stops at them."""

    regex = "(?s:.+)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyPath, "anypath")


@public
def not_found(request: HttpRequest, rest: str) -> None:
    raise Http404(rest)


fallback_router.add_api_operation(
    "/{anypath:rest}",
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    not_found,
    include_in_schema=False,
)

api = VaxRegAPI(
    title="VaxReg API", version="1", auth=django_auth, docs_url="/docs", docs_decorator=docs_for_api_roles
)
error_handlers_install(api)
api.add_router("/people", people_router)
api.add_router("/imports", imports_router)
api.add_router("/cases", cases_router)
api.add_router("/complaints", complaints_router)
api.add_router("/linkage", linkage_router)
api.add_router("/dashboards", dashboards_router)
api.add_router("/campaigns", campaigns_router)
api.add_router("/public/complaints", public_complaints_router)
api.add_router("", fallback_router)  # last: it answers only what no router above does
