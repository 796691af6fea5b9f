"""Schemathesis hooks of ``vaxreg api conformance`` (loaded by schemathesis through SCHEMATHESIS_HOOKS).

- Every request comes from a citizen of its own: an ``X-Forwarded-For`` address drawn per request, which
  the server believes from loopback (``VAXREG_TRUSTED_PROXIES``). The per-address limits (wrong tracking
  codes, submissions) then hold as they do in production, without the whole run being one address.
- A complaint is submitted as a citizen's app does it: with a ticket fetched just before from the same
  address (a ticket is single-use and bound to its subnet, so a drawn string can never be one). Only a
  ticket the schema accepts is replaced, so a case whose ticket is the invalid part stays invalid.
- A citizen follows their complaint with its real tracking code and phone: half of the valid requests to
  the status and proof-file endpoints name a complaint of the world (or one the run submitted), the rest
  a drawn code, which the API answers 404 (and, past its limit of wrong tries, 429).
- A staff write carries the CSRF cookie and header of the session (VAXREG_CONFORMANCE_CSRF), as a page
  does; the session itself is the schema's security scheme, which schemathesis sends or leaves out.
- A query string longer than the server's request line (414 before the API sees it) is not drawn, and
  should a phase send one all the same, gunicorn's 414 is not counted as the API's failure.
- Every answer is tallied by operation and status in VAXREG_CONFORMANCE_TALLY, for the run's summary.
- One check more: when a valid request is refused (the run allows it only where the API's rules go
  beyond what a schema can say), the body must name a refusal of those rules, never an invalid input.
"""

import json
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
import schemathesis
from schemathesis import Case, CheckContext, GenerationMode, HookContext, Response

from config.env import ENV

SUBMIT = ("POST", "/api/public/complaints")
TRACKED = {
    ("POST", "/api/public/complaints/{tracking_code}/status"),
    ("POST", "/api/public/complaints/{tracking_code}/attachments"),
}
# (tracking code, phone) of the world's complaints, and of those this run submits.
COMPLAINTS: list[tuple[str, str]] = [
    (c["tracking_code"], c["phone"]) for c in json.loads(ENV.conformance_complaints)
]
TICKET = "/api/public/complaints/ticket"
# Codes an API answers when its own rules (beyond its schema) refuse a well-formed request.
RULE_REFUSALS = {"refused", "import_refused"}


def _valid_text(value: Any, max_length: int) -> bool:
    """A value the schema's text rule accepts: replacing it leaves a valid case valid, and nothing else."""
    return isinstance(value, str) and len(value) <= max_length and "\x00" not in value


# Hypothesis seeds the random module afresh for every case it draws: the hooks draw from their own.
_draw = random.Random()


def _address() -> str:
    # TEST-NET-2 and -3 (RFC 5737): documentation addresses, never a real citizen's.
    return f"{_draw.choice(('198.51.100', '203.0.113'))}.{_draw.randint(1, 254)}"


def _ticket(address: str) -> str:
    base = ENV.conformance_url
    response = requests.get(base + TICKET, headers={"X-Forwarded-For": address}, timeout=30)
    response.raise_for_status()
    return str(response.json()["ticket"])


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    address = _address()
    case.headers["X-Forwarded-For"] = address
    csrf = ENV.conformance_csrf
    if csrf:  # a write needs the CSRF cookie and the same token in the header, as a page's script sends them
        case.cookies["csrftoken"] = csrf
        case.headers["X-CSRFToken"] = csrf
    body = case.body
    operation = (case.method.upper(), case.path)
    if operation == SUBMIT and isinstance(body, dict):
        ticket = body.get("ticket")
        if _valid_text(ticket, 256):
            body["ticket"] = _ticket(address)


# gunicorn, like most proxies, refuses a request line over about 4 KB (414) before the API sees it: a longer
# query string is not a request the API can be asked.
MAX_REQUEST_LINE = 4000


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    query = urlencode(dict(case.query), doseq=True) if isinstance(case.query, Mapping) else ""
    return len(case.formatted_path) + len(query) < MAX_REQUEST_LINE


@schemathesis.hook
def filter_failure(context: HookContext, failure: Any, case: Case, response: Response) -> bool:
    # A 414 is gunicorn refusing the request line before the API sees it (a case some phase drew past the
    # filter above): no failure of the API or of its document.
    return response.status_code != 414


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    # At generation, not before the call: schemathesis then still knows the case for what it is (a body
    # with a file in it cannot be validated again once changed).
    body = case.body
    if (
        (case.method.upper(), case.path) in TRACKED
        and _positive(case)
        and COMPLAINTS
        and isinstance(body, dict)
        and _valid_text(body.get("phone"), 40)
        and _valid_text((case.path_parameters or {}).get("tracking_code"), 64)
        and _draw.random() < 0.5
    ):
        code, phone = _draw.choice(COMPLAINTS)
        case.path_parameters = {**(case.path_parameters or {}), "tracking_code": code}
        body["phone"] = phone
    return case


@schemathesis.hook
def after_call(context: HookContext, case: Case, response: Response) -> None:
    if (
        (case.method.upper(), case.path) == SUBMIT
        and response.status_code == 201
        and isinstance(case.body, dict)
    ):
        COMPLAINTS.append((response.json()["tracking_code"], str(case.body.get("phone"))))
    tally = ENV.conformance_tally
    if tally:
        answer = {"operation": f"{case.method.upper()} {case.path}", "status": response.status_code}
        if _positive(case) and response.status_code in (400, 422):
            answer["refusal"] = _json(response).get("message_en", "")  # a valid request the rules refused
        with open(tally, "a", encoding="utf-8") as out:
            out.write(json.dumps(answer, ensure_ascii=False) + "\n")


def _positive(case: Case) -> bool:
    return case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE


def _json(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@schemathesis.check
def refusals_name_a_rule(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A valid request answered 400/422 must be a refusal by the API's rules, never "invalid input"."""
    if not _positive(case) or response.status_code not in (400, 422):
        return None
    code = _json(response).get("code")
    if code not in RULE_REFUSALS:
        raise AssertionError(
            f"A request the schema accepts was refused as {code!r} ({response.status_code}): the schema and "
            "the server's validation disagree."
        )
    return None
