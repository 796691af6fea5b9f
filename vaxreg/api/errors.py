"""Every API error is JSON with a stable code and a message in Vietnamese and English (``ErrorOut``).

A service's ``Refusal`` is answered here, once for every router: routers call services and let them refuse.
"""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from vaxreg.core.api_schema import error_response
from vaxreg.core.refusals import Refusal

# Where ninja says an input came from; the field a client fixes is named without it.
_SOURCES = {"body", "query", "path", "form", "file", "header", "cookie"}


def _invalid_field(errors: list[dict[str, Any]]) -> str:
    """The first invalid input as a client names it: ``changes.gender``, ``page``, ``case_ids.0``."""
    if not errors:
        return ""
    loc = [str(part) for part in errors[0].get("loc", ())]
    if loc and loc[0] in ("query", "path"):
        return loc[-1]  # a query string or a path is flat: the parameter's own name
    while loc and loc[0] in _SOURCES:
        loc = loc[1:]
    return ".".join(loc)


def error_handlers_install(api: NinjaAPI) -> None:
    def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Outside the jurisdiction looks exactly like not existing: nothing to learn by probing ids.
        return error_response(
            api,
            request,
            status=404,
            code="not_found",
            message_vi="Không tìm thấy hoặc bạn không có quyền xem.",
            message_en="Not found, or outside your jurisdiction.",
        )

    def unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(
            api,
            request,
            status=401,
            code="unauthenticated",
            message_vi="Cần đăng nhập.",
            message_en="You need to log in.",
        )

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 403 and "CSRF" in str(exc):
            return error_response(
                api,
                request,
                status=403,
                code="csrf_failed",
                message_vi="Thiếu hoặc sai mã CSRF.",
                message_en="CSRF check failed.",
            )
        if exc.status_code == 400:  # the only 400 ninja itself raises: a body that is not JSON
            return error_response(
                api,
                request,
                status=400,
                code="invalid_json",
                message_vi="Nội dung gửi lên không phải JSON đọc được.",
                message_en="The request body is not readable JSON.",
            )
        return error_response(
            api,
            request,
            status=exc.status_code,
            code="http_error",
            message_vi=str(exc),
            message_en=str(exc),
        )

    def unreadable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        # Django would answer a broken multipart body with its HTML 400 page; an API client gets JSON.
        return error_response(
            api,
            request,
            status=400,
            code="invalid_multipart",
            message_vi="Nội dung gửi lên không phải biểu mẫu multipart đọc được.",
            message_en="The request body is not a readable multipart form.",
        )

    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        field = _invalid_field(exc.errors)
        return error_response(
            api,
            request,
            status=422,
            code="invalid_input",
            message_vi=f"Dữ liệu gửi lên không hợp lệ ({field})."
            if field
            else "Dữ liệu gửi lên không hợp lệ.",
            message_en=f"The request is not valid ({field})." if field else "The request is not valid.",
            field=field,
            # Only what says where and why: pydantic's ``ctx`` may hold the exception object itself.
            detail=[{key: error.get(key) for key in ("type", "loc", "msg")} for error in exc.errors],
        )

    def refused(request: HttpRequest, exc: Refusal) -> HttpResponse:
        # Every service refusal of every app: its own status and code, stored values for a stale version.
        response = error_response(
            api,
            request,
            status=exc.status,
            code=exc.code,
            message_vi=exc.message_vi,
            message_en=exc.message_en,
            field=exc.field,
            **exc.extra(),
        )
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response

    # django-ninja types the handler's second argument as "the exception or its class"; ours get instances.
    api.add_exception_handler(Http404, not_found)  # type: ignore[arg-type]
    api.add_exception_handler(AuthenticationError, unauthenticated)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]
    api.add_exception_handler(ValidationError, invalid)  # type: ignore[arg-type]
    api.add_exception_handler(MultiPartParserError, unreadable_form)  # type: ignore[arg-type]
    api.add_exception_handler(Refusal, refused)  # type: ignore[arg-type]
