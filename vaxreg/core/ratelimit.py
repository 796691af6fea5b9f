"""Fixed-window rate limits kept in the database, so that every web worker shares them.

A public endpoint calls ``rate_hit`` once per limit that applies (per address, per subnet, per phone, per
person); each call is one atomic upsert. ``client_address`` reads the caller's address, trusting
``X-Forwarded-For`` only from the proxies named in ``VAXREG_TRUSTED_PROXIES``. ``rate_limits_parse``
reads the limits an operator sets, e.g. ``VAXREG_COMPLAINT_LIMITS=address=20/h,subnet=100/h``.
"""

import datetime as dt
import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.http import HttpRequest

from vaxreg.core import clock
from vaxreg.core.models import RateCounter


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` hits of one key in each window of ``window``."""

    scope: str  # e.g. "complaint-address"
    limit: int
    window: dt.timedelta


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after_seconds: int


_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LIMIT_RULE = re.compile(r"^([a-z]+)=(\d+)/(\d*)([smhd])$")


def rate_limits_parse(text: str, *, setting: str, defaults: Mapping[str, RateLimit]) -> dict[str, RateLimit]:
    """Read a setting such as ``address=20/h,subnet=100/15m`` (a count per s, m, h or d, or per e.g. 15m)
    over ``defaults``: a key left out keeps its default rule, a key given keeps the default's scope.

    Raises ImproperlyConfigured naming the setting and the part it cannot read, so that a bad value stops
    the server at start-up.
    """
    rules = dict(defaults)
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _LIMIT_RULE.match(part.replace(" ", ""))
        if (
            match is None
            or match.group(1) not in defaults
            or min(int(match.group(2)), int(match.group(3) or 1)) < 1
        ):
            raise ImproperlyConfigured(
                f"{setting}: cannot read {part!r}; write e.g. {rate_limits_text(defaults)!r} "
                f"(keys {', '.join(defaults)}; a count of at least 1 per s, m, h, d or e.g. 15m)"
            )
        key, count, multiple, unit = match.groups()
        window = dt.timedelta(seconds=int(multiple or 1) * _WINDOW_UNITS[unit])
        rules[key] = replace(defaults[key], limit=int(count), window=window)
    return rules


def rate_limits_text(rules: Mapping[str, RateLimit]) -> str:
    """The setting that ``rate_limits_parse`` reads back as ``rules``, e.g. ``account=20/15m,address=20/15m``."""
    return ",".join(f"{key}={rule.limit}/{_window_text(rule.window)}" for key, rule in rules.items())


def _window_text(window: dt.timedelta) -> str:
    seconds = int(window.total_seconds())
    unit, size = next((u, n) for u, n in reversed(_WINDOW_UNITS.items()) if seconds % n == 0)
    return unit if seconds == size else f"{seconds // size}{unit}"


def _window_start(now: dt.datetime, window: dt.timedelta) -> dt.datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)


def rate_hit(rule: RateLimit, key: str, *, now: dt.datetime | None = None) -> RateDecision:
    """Count one hit of ``key`` under ``rule`` and say whether it is still within the limit."""
    return rate_hits([(rule, key, now)])[0]


def rate_hits(
    hits: Sequence[tuple[RateLimit, str, dt.datetime | None]], *, durable: bool = True
) -> list[RateDecision]:
    """Count several hits (distinct rule and key each) in one statement, in the order given.

    A public endpoint that checks three quotas pays one round trip and one commit instead of three.
    ``durable=False`` lets PostgreSQL acknowledge the commit before it is flushed to disk: a crash may
    forget the last few counts, which only gives a flood a few more tries, and saves a disk flush on
    every request.
    """
    now_default = clock.now()
    rows = []
    for rule, key, now in hits:
        when = now or now_default
        start = _window_start(when, rule.window)
        rows.append((_counter_key(rule, key), start, rule, when))
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    values = ", ".join(["(%s, %s, 1)"] * len(rows))
    params: list[str | dt.datetime | None] = []
    for counter_key, start, _, _ in rows:
        params += [counter_key, connection.ops.adapt_datetimefield_value(start)]
    sql = (
        f"INSERT INTO {table} (key, window_start, count) VALUES {values} "  # noqa: S608
        f"ON CONFLICT (key, window_start) DO UPDATE SET count = {table}.count + 1 RETURNING key, count"
    )
    relaxed = not durable and connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One statement on SQLite (3.35+) and PostgreSQL: concurrent hits never lose a count.
        if relaxed:  # only for a transaction of its own: never relax the caller's commit
            cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(sql, params)
        counts = {str(key): int(count) for key, count in cursor.fetchall()}
    decisions = []
    for counter_key, start, rule, when in rows:
        count = counts[counter_key]
        retry_after = int((start + rule.window - when).total_seconds()) + 1
        decisions.append(
            RateDecision(allowed=count <= rule.limit, count=count, retry_after_seconds=max(retry_after, 1))
        )
    return decisions


def rate_count(rule: RateLimit, key: str, *, now: dt.datetime | None = None) -> int:
    """How many hits ``key`` has in the current window, without counting one."""
    start = _window_start(now or clock.now(), rule.window)
    row = RateCounter.objects.filter(key=_counter_key(rule, key), window_start=start).values_list(
        "count", flat=True
    )
    return int(row.first() or 0)


def rate_lock_seconds(rule: RateLimit, key: str, *, now: dt.datetime | None = None) -> int:
    """Seconds until ``key`` has fewer than ``rule.limit`` hits in its current and previous window together
    (0: it has now), without counting one.

    Read as a lock, this holds from the hit that reached the limit for one to two windows, and a run of
    hits across a window boundary cannot get twice the limit through, as it could with one window.
    """
    when = now or clock.now()
    start = _window_start(when, rule.window)
    counts = dict(
        RateCounter.objects.filter(
            key=_counter_key(rule, key), window_start__in=[start - rule.window, start]
        ).values_list("window_start", "count")
    )
    current = counts.get(start, 0)
    if current + counts.get(start - rule.window, 0) < rule.limit:
        return 0
    # The hits of this window still count through the next one.
    until = start + (2 * rule.window if current >= rule.limit else rule.window)
    return max(1, math.ceil((until - when).total_seconds()))


def _counter_key(rule: RateLimit, key: str) -> str:
    return f"{rule.scope}:{key}"[:160]


def rate_counters_prune(*, older_than: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Delete counters of windows that ended long ago (the periodic worker calls this)."""
    deleted, _ = RateCounter.objects.filter(window_start__lt=clock.now() - older_than).delete()
    return deleted


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(item.strip(), strict=False)
        for item in settings.VAXREG_TRUSTED_PROXIES
        if item.strip()
    ]


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the socket's peer is one of the proxies named in ``VAXREG_TRUSTED_PROXIES``."""
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in net for net in _trusted_proxies())


def client_address(request: HttpRequest) -> str:
    """The caller's IP address: the socket's peer, or the last untrusted hop of X-Forwarded-For."""
    peer = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"
    proxies = _trusted_proxies()
    if not proxies:
        return peer
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    chain = [*hops, peer]
    # Walk from the nearest hop back; the first address that is not one of our proxies is the client.
    for hop in reversed(chain):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:64]
        if not any(address in net for net in proxies):
            return str(address)
    return chain[0]


def subnet_of(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) network of an address: one home or office, one mobile carrier NAT."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
