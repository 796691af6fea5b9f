"""Submission tickets and quotas: what makes a scripted flood expensive while a citizen notices nothing."""

import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from vaxreg.complaints.antiflood import (
    DEFAULT_LIMITS,
    FORM_MIN_AGE,
    FloodRefused,
    complaint_limits,
    limits_parse,
    submission_admit,
    ticket_issue,
)
from vaxreg.core import clock

pytestmark = pytest.mark.django_db


def _refusal_code(**kwargs: object) -> str:
    with pytest.raises(FloodRefused) as refused:
        submission_admit(**kwargs)  # type: ignore[arg-type]
    return refused.value.code


def test_the_default_limits_and_a_custom_setting() -> None:
    limits = limits_parse(DEFAULT_LIMITS)
    assert (limits.address.limit, limits.address.window) == (20, dt.timedelta(hours=1))
    assert (limits.subnet.limit, limits.subnet.window) == (100, dt.timedelta(hours=1))
    assert (limits.phone.limit, limits.phone.window) == (3, dt.timedelta(days=1))
    custom = limits_parse("phone=5/d, address=2/15m")
    assert (custom.address.limit, custom.address.window) == (2, dt.timedelta(minutes=15))
    assert custom.phone.limit == 5 and custom.subnet.limit == 100  # a missing key keeps its default


@pytest.mark.parametrize(
    "bad", ["address=many/h", "address=20/week", "user=3/d", "phone=0/d", "address=20/0h", "20/h"]
)
def test_a_bad_limit_setting_is_a_clear_configuration_error(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ImproperlyConfigured, match="VAXREG_COMPLAINT_LIMITS"):
        limits_parse(bad)
    monkeypatch.setattr(settings, "VAXREG_COMPLAINT_LIMITS", bad)
    with pytest.raises(ImproperlyConfigured, match=bad.split(",")[0]):
        complaint_limits()


def test_a_ticket_is_good_once_from_its_own_network() -> None:
    ticket = ticket_issue(address="203.0.113.7")
    submission_admit(ticket=ticket, address="203.0.113.99")  # same /24: a phone that changed address
    assert _refusal_code(ticket=ticket, address="203.0.113.7") == "ticket_used"
    assert (
        _refusal_code(ticket=ticket_issue(address="203.0.113.7"), address="198.51.100.7")
        == "ticket_elsewhere"
    )
    v6 = ticket_issue(address="2001:db8:1:2::10")
    assert _refusal_code(ticket=v6, address="2001:db8:1:3::10") == "ticket_elsewhere"
    submission_admit(ticket=v6, address="2001:db8:1:2:ffff::1")


def test_forged_stale_and_early_tickets_are_refused() -> None:
    ticket = ticket_issue(address="203.0.113.7")
    assert _refusal_code(ticket=ticket[:-2] + "xx", address="203.0.113.7") == "ticket_invalid"
    assert _refusal_code(ticket="", address="203.0.113.7") == "ticket_invalid"
    stale = ticket_issue(address="203.0.113.7", now=clock.now() - dt.timedelta(hours=2, minutes=1))
    assert _refusal_code(ticket=stale, address="203.0.113.7") == "ticket_expired"
    fresh = ticket_issue(address="203.0.113.7")
    with pytest.raises(FloodRefused) as refused:
        submission_admit(ticket=fresh, address="203.0.113.7", min_age=FORM_MIN_AGE)
    assert refused.value.code == "too_fast" and refused.value.retry_after >= 1
    # Refused for its age, the ticket was not used up: the same form can be sent again a moment later.
    older = ticket_issue(address="203.0.113.7", now=clock.now() - dt.timedelta(seconds=5))
    submission_admit(ticket=older, address="203.0.113.7", min_age=FORM_MIN_AGE)


def test_a_replay_across_a_window_boundary_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    issued = dt.datetime(2026, 3, 1, 1, 59, 50, tzinfo=dt.UTC)  # ten seconds before a two-hour window ends
    ticket = ticket_issue(address="203.0.113.7", now=issued)
    monkeypatch.setattr(clock, "now", lambda: issued + dt.timedelta(seconds=5))
    submission_admit(ticket=ticket, address="203.0.113.7")
    monkeypatch.setattr(clock, "now", lambda: issued + dt.timedelta(minutes=30))
    assert _refusal_code(ticket=ticket, address="203.0.113.7") == "ticket_used"


def address_quota_hit(*, address: str) -> None:
    """A submission with a fresh ticket of its own: only the quotas can refuse it."""
    issued = clock.now() - FORM_MIN_AGE
    submission_admit(ticket=ticket_issue(address=address, now=issued), address=address)


def test_address_and_subnet_quotas(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every submission counts against its address and its subnet, a refused one too.
    monkeypatch.setattr(settings, "VAXREG_COMPLAINT_LIMITS", "address=2/h,subnet=4/h")
    address_quota_hit(address="203.0.113.1")
    address_quota_hit(address="203.0.113.1")
    with pytest.raises(FloodRefused) as refused:
        address_quota_hit(address="203.0.113.1")
    assert refused.value.code == "rate_address" and refused.value.retry_after > 0
    # A script walking the addresses of one network meets the subnet quota.
    address_quota_hit(address="203.0.113.2")
    with pytest.raises(FloodRefused) as refused:
        address_quota_hit(address="203.0.113.3")
    assert refused.value.code == "rate_subnet"
    address_quota_hit(address="198.51.100.1")  # another network is not affected
