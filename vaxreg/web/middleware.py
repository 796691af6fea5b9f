from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from vaxreg.core.ratelimit import from_trusted_proxy


class LanguageMiddleware:
    """Vietnamese unless the user chose English with the language switcher.

    Django's LocaleMiddleware follows the browser's Accept-Language, and many browsers in Vietnam are set
    to English; a national system for Vietnamese health workers speaks Vietnamese until asked otherwise.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.languages else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class ForwardedProtoMiddleware:
    """Keeps X-Forwarded-Proto only on requests that come from a trusted proxy.

    Behind a TLS proxy Django learns that a request came over HTTPS from that header
    (SECURE_PROXY_SSL_HEADER). Anyone else could send it too: a client reaching the server directly must
    not pass for an HTTPS one, so the header counts only from the proxies of VAXREG_TRUSTED_PROXIES.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not from_trusted_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)
