import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from vaxreg.core.ratelimit import (
    RateLimit,
    client_address,
    rate_count,
    rate_hit,
    rate_limits_parse,
    rate_limits_text,
    rate_lock_seconds,
    subnet_of,
)

pytestmark = pytest.mark.django_db

PER_HOUR = RateLimit(scope="test", limit=3, window=dt.timedelta(hours=1))
T0 = dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC)


def test_the_fourth_hit_in_an_hour_is_refused_and_the_next_hour_starts_again() -> None:
    decisions = [rate_hit(PER_HOUR, "1.2.3.4", now=T0 + dt.timedelta(minutes=i)) for i in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after_seconds == 55 * 60 - 3 * 60 + 1
    assert rate_count(PER_HOUR, "1.2.3.4", now=T0) == 4
    assert rate_hit(PER_HOUR, "1.2.3.4", now=T0 + dt.timedelta(hours=1)).allowed
    assert rate_hit(PER_HOUR, "5.6.7.8", now=T0).allowed  # other keys are not affected


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7")
    assert client_address(request) == "10.0.0.5"
    monkeypatch.setattr(settings, "VAXREG_TRUSTED_PROXIES", ["10.0.0.0/8"])
    assert client_address(request) == "203.0.113.7"
    assert subnet_of("203.0.113.7") == "203.0.113.0/24"
    assert subnet_of("2001:db8::1") == "2001:db8::/64"


def test_a_lock_holds_while_the_current_and_previous_window_reach_the_limit() -> None:
    for i in range(3):
        rate_hit(PER_HOUR, "key", now=T0 + dt.timedelta(minutes=50 + i))  # 10:55-10:57
    assert rate_lock_seconds(PER_HOUR, "key", now=T0 + dt.timedelta(minutes=53)) == 3600 + 3600 - 58 * 60
    # The hits of 10:xx still count through 11:xx, and no longer at 12:00.
    assert rate_lock_seconds(PER_HOUR, "key", now=T0 + dt.timedelta(hours=1)) == 55 * 60
    assert rate_lock_seconds(PER_HOUR, "key", now=dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)) == 0
    assert rate_lock_seconds(PER_HOUR, "other", now=T0) == 0


def test_hits_on_both_sides_of_a_window_boundary_add_up_to_a_lock() -> None:
    rate_hit(PER_HOUR, "key", now=T0 + dt.timedelta(minutes=54))  # 10:59
    assert rate_lock_seconds(PER_HOUR, "key", now=T0 + dt.timedelta(minutes=54)) == 0
    for _ in range(2):
        rate_hit(PER_HOUR, "key", now=T0 + dt.timedelta(minutes=56))  # 11:01
    assert rate_lock_seconds(PER_HOUR, "key", now=T0 + dt.timedelta(minutes=56)) == 59 * 60


def test_limits_are_read_from_a_setting_over_their_defaults() -> None:
    defaults = {"address": PER_HOUR, "phone": RateLimit(scope="phone", limit=3, window=dt.timedelta(days=1))}
    assert rate_limits_text(defaults) == "address=3/h,phone=3/d"
    rules = rate_limits_parse(" address = 20/15m ", setting="X", defaults=defaults)
    assert rules["address"] == RateLimit(scope="test", limit=20, window=dt.timedelta(minutes=15))
    assert rules["phone"] == defaults["phone"]
    with pytest.raises(ImproperlyConfigured, match="X: cannot read 'user=1/h'"):
        rate_limits_parse("user=1/h", setting="X", defaults=defaults)
