"""Fixed-window rate limits kept in the database, so that every web worker shares them.

A public endpoint calls ``rate_hit`` once per limit that applies (per address, per subnet, per phone, per
person); each call is one atomic upsert. ``client_address`` reads the caller's address, trusting
``X-Forwarded-For`` only from the proxies named in ``VAXREG_TRUSTED_PROXIES``.
"""

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass

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
        rows.append((f"{rule.scope}:{key}"[:160], start, rule, when))
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
    row = RateCounter.objects.filter(key=f"{rule.scope}:{key}"[:160], window_start=start).values_list(
        "count", flat=True
    )
    return int(row.first() or 0)


def rate_counters_prune(*, older_than: dt.timedelta = dt.timedelta(days=2)) -> int:
    """Delete counters of windows that ended long ago (the periodic worker calls this)."""
    deleted, _ = RateCounter.objects.filter(window_start__lt=clock.now() - older_than).delete()
    return deleted


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(item.strip(), strict=False)
        for item in os.environ.get("VAXREG_TRUSTED_PROXIES", "").split(",")
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
