"""Every API error is JSON with a stable code and a message in Vietnamese and English."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message_vi: str,
    message_en: str,
    **extra: Any,
) -> HttpResponse:
    body = {"code": code, "message_vi": message_vi, "message_en": message_en, **extra}
    return api.create_response(request, body, status=status)


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
        return error_response(
            api,
            request,
            status=exc.status_code,
            code="http_error",
            message_vi=str(exc),
            message_en=str(exc),
        )

    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(
            api,
            request,
            status=422,
            code="invalid_input",
            message_vi="Dữ liệu gửi lên không hợp lệ.",
            message_en="The request is not valid.",
            detail=exc.errors,
        )

    # django-ninja types the handler's second argument as "the exception or its class"; ours get instances.
    api.add_exception_handler(Http404, not_found)  # type: ignore[arg-type]
    api.add_exception_handler(AuthenticationError, unauthenticated)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]
    api.add_exception_handler(ValidationError, invalid)  # type: ignore[arg-type]
