import datetime as dt

import pytest
from django.test import RequestFactory

from vaxreg.core.ratelimit import RateLimit, client_address, rate_count, rate_hit, subnet_of

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
    monkeypatch.setenv("VAXREG_TRUSTED_PROXIES", "10.0.0.0/8")
    assert client_address(request) == "203.0.113.7"
    assert subnet_of("203.0.113.7") == "203.0.113.0/24"
    assert subnet_of("2001:db8::1") == "2001:db8::/64"
