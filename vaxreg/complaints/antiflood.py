"""Keeping scripted floods out of the public complaint form and API, without a captcha.

A complaint costs a handler real work within 48 hours, so the public side must make sending many of them
expensive while a citizen on a phone never notices anything. Five layers, each cheap for us:

1. **A signed submission ticket.** Every submission carries a ticket from ``ticket_issue``: a random
   nonce, the /24 (IPv4) or /64 (IPv6) subnet it was issued to, and the time, signed with the secret key
   under a salt of its own (so no other signed value of the site can pass for one). A ticket is valid for
   two hours, only from the subnet it was issued to (a farm of machines cannot share one ticket source)
   and only once: redeeming counts its nonce under ``complaint-ticket`` with a limit of one, in the window
   of the time it was issued, so a replay lands on the same counter even across a window boundary. A
   script therefore pays a full round trip per complaint from each address it uses. Tickets need no table
   of their own: issuing one writes nothing.
2. **A minimum age and a honeypot for the HTML form.** A person needs more than three seconds to fill the
   form; a ticket redeemed sooner was not typed by one. The form also has a field hidden from people
   (CSS, ``aria-hidden``, ``tabindex=-1``) that form-filling robots fill in; it must stay empty.
3. **Quotas per address, per subnet and per phone** (``VAXREG_COMPLAINT_LIMITS``, default
   ``address=20/h,subnet=100/h,phone=3/d``). The subnet quota covers a script that walks the addresses of
   one network; the per-phone quota counts only complaints that were accepted (it is taken inside the
   complaint's transaction, so a refused submission gives its count back) and stops one number from
   being used for a flood while a citizen who mistyped a field is never locked out.
4. **Joining.** A second open complaint with the same ID number and category joins the first
   (``complaint_submit``): a flood about one person lands in one handler's item, not in hundreds.
5. **Counters in the database** (``vaxreg.core.ratelimit``): every web worker and restart shares them.

The ticket and quota counters are written in one statement and a transaction of their own
(``submission_admit``), before the complaint's own transaction, so a refused complaint still uses up its
ticket and counts against its address.
"""

import datetime as dt
import secrets
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing

from vaxreg.complaints.common import ComplaintRefused
from vaxreg.core import clock
from vaxreg.core.phones import normalize_phone
from vaxreg.core.ratelimit import (
    RateDecision,
    RateLimit,
    rate_hit,
    rate_hits,
    rate_limits_parse,
    rate_limits_text,
    subnet_of,
)

TICKET_SALT = "vaxreg.complaints.submission-ticket"
TICKET_LIFETIME = dt.timedelta(hours=2)
FORM_MIN_AGE = dt.timedelta(seconds=3)
TICKET_ONCE = RateLimit("complaint-ticket", 1, TICKET_LIFETIME)
HONEYPOT_FIELD = "website"

LIMITS_ENV = "VAXREG_COMPLAINT_LIMITS"
_DEFAULT_RULES = {
    "address": RateLimit("complaint-address", 20, dt.timedelta(hours=1)),
    "subnet": RateLimit("complaint-subnet", 100, dt.timedelta(hours=1)),
    "phone": RateLimit("complaint-phone", 3, dt.timedelta(days=1)),
}
DEFAULT_LIMITS = rate_limits_text(_DEFAULT_RULES)  # address=20/h,subnet=100/h,phone=3/d


class FloodRefused(ComplaintRefused):
    """A submission refused by the anti-flood checks: ``code`` is stable, ``retry_after`` in seconds (0 when
    waiting does not help, e.g. a forged ticket)."""

    def __init__(
        self, code: str, message_vi: str, message_en: str, *, field: str = "", retry_after: int = 0
    ) -> None:
        # Over a rate limit: 429, waiting helps; a forged, stale or used ticket: 400.
        status = 429 if code.startswith("rate_") else 400
        super().__init__(
            message_vi, message_en, field=field, code=code, status=status, retry_after=retry_after
        )


@dataclass(frozen=True)
class ComplaintLimits:
    address: RateLimit
    subnet: RateLimit
    phone: RateLimit


def limits_parse(text: str) -> ComplaintLimits:
    """Read ``address=20/h,subnet=100/h,phone=3/d`` (a count per s, m, h or d, optionally ``/15m``);
    a missing key keeps its default. Raises ImproperlyConfigured naming the bad part."""
    return ComplaintLimits(**rate_limits_parse(text, setting=LIMITS_ENV, defaults=_DEFAULT_RULES))


@lru_cache(maxsize=4)
def _limits_for(text: str) -> ComplaintLimits:
    return limits_parse(text)


def complaint_limits() -> ComplaintLimits:
    return _limits_for(settings.VAXREG_COMPLAINT_LIMITS or DEFAULT_LIMITS)


# A bad setting stops the server at start-up rather than at a citizen's first complaint.
complaint_limits()


def ticket_issue(*, address: str, now: dt.datetime | None = None) -> str:
    issued = now or clock.now()
    payload = {"n": secrets.token_urlsafe(12), "s": subnet_of(address), "t": int(issued.timestamp())}
    return signing.dumps(payload, salt=TICKET_SALT, compress=False)


def _ticket_refused(code: str, vi: str, en: str) -> FloodRefused:
    return FloodRefused(
        code,
        f"{vi} Hãy tải lại trang (hoặc lấy mã phiên mới) rồi gửi lại.",
        f"{en} Reload the page (or fetch a new ticket) and send again.",
        field="ticket",
    )


def _ticket_check(*, ticket: str, address: str, min_age: dt.timedelta) -> tuple[str, dt.datetime]:
    """The ticket's nonce and issue time if it is genuine, fresh and from this subnet; else FloodRefused."""
    try:
        payload = signing.loads(ticket or "", salt=TICKET_SALT)
        nonce, subnet, issued_ts = str(payload["n"]), str(payload["s"]), int(payload["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise _ticket_refused(
            "ticket_invalid",
            "Thiếu mã phiên gửi hoặc mã không hợp lệ.",
            "The submission ticket is missing or invalid.",
        ) from exc
    issued = dt.datetime.fromtimestamp(issued_ts, tz=dt.UTC)
    age = clock.now() - issued
    if age > TICKET_LIFETIME or age < -dt.timedelta(minutes=1):
        raise _ticket_refused(
            "ticket_expired", "Mã phiên gửi đã hết hạn (2 giờ).", "The submission ticket expired (2 hours)."
        )
    if subnet != subnet_of(address):
        raise _ticket_refused(
            "ticket_elsewhere",
            "Mã phiên gửi được cấp cho một mạng khác.",
            "The submission ticket was issued to another network.",
        )
    if age < min_age:
        raise FloodRefused(
            "too_fast",
            "Biểu mẫu được gửi quá nhanh. Hãy kiểm tra lại thông tin rồi bấm Gửi lần nữa.",
            "The form was sent too quickly. Check what you typed and press Send again.",
            retry_after=max(int((min_age - age).total_seconds()) + 1, 1),
        )
    return nonce, issued


def _ticket_used() -> FloodRefused:
    return _ticket_refused(
        "ticket_used", "Mã phiên gửi này đã được dùng.", "This submission ticket was already used."
    )


def submission_admit(*, ticket: str, address: str, min_age: dt.timedelta = dt.timedelta(0)) -> None:
    """Accept the ticket once, from the subnet it was issued to, within its lifetime, and count the
    submission against its address and subnet; FloodRefused otherwise.

    One statement for all three counts, on the hot path of the public form and API: one round trip and one
    commit (not flushed to disk: see ``rate_hits``) per submission.
    """
    nonce, issued = _ticket_check(ticket=ticket, address=address, min_age=min_age)
    limits = complaint_limits()
    once, by_address, by_subnet = rate_hits(
        [
            (TICKET_ONCE, nonce, issued),
            (limits.address, address, None),
            (limits.subnet, subnet_of(address), None),
        ],
        durable=False,
    )
    if not once.allowed:
        raise _ticket_used()
    _address_decisions_check(by_address, by_subnet)


def _over_limit(code: str, what_vi: str, what_en: str, retry_after: int, field: str = "") -> FloodRefused:
    minutes = max(retry_after // 60, 1)
    return FloodRefused(
        code,
        f"Đã nhận quá nhiều phản ánh {what_vi}. Hãy thử lại sau khoảng {minutes} phút.",
        f"Too many complaints {what_en}. Please try again in about {minutes} minutes.",
        field=field,
        retry_after=retry_after,
    )


def _address_decisions_check(by_address: RateDecision, by_subnet: RateDecision) -> None:
    if not by_address.allowed:
        raise _over_limit(
            "rate_address", "từ địa chỉ mạng này", "from this address", by_address.retry_after_seconds
        )
    if not by_subnet.allowed:
        raise _over_limit("rate_subnet", "từ mạng này", "from this network", by_subnet.retry_after_seconds)


def phone_quota_hit(*, phone: str) -> None:
    """Count one accepted complaint for this phone; call it inside the complaint's transaction."""
    national, _valid = normalize_phone(phone)
    decision = rate_hit(complaint_limits().phone, national)
    if not decision.allowed:
        raise _over_limit(
            "rate_phone",
            "với số điện thoại này",
            "with this phone number",
            decision.retry_after_seconds,
            "phone",
        )


def honeypot_filled(value: str | None) -> bool:
    return bool((value or "").strip())
