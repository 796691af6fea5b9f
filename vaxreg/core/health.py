"""``/healthz``: the process answers, without touching the database (load balancers; the benchmarks'
no-op baseline)."""

from django.http import HttpRequest, HttpResponse


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")
