"""The TOTP second factor when it is switched on: required for national, province and admin accounts,
voluntary (and then required) for the others; a session without the code reaches no page and no API."""

import io
import time

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from vaxreg.core.models import AuditEvent
from vaxreg.testing.world import TEST_PASSWORD

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
API_URL = "/api/people?q=dao"


@pytest.fixture
def second_factor_on(settings):
    settings.VAXREG_SECOND_FACTOR = True


def code_of(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the user's app shows now (or in the next time step: a code is accepted only once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def device_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="TOTP", confirmed=True)


def log_in(client: Client, username: str, password: str = TEST_PASSWORD, address: str = "203.0.113.7"):
    return client.post(
        reverse("web:login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def give_code(client: Client, code: str, step: str = "web:login_code", address: str = "203.0.113.7"):
    return client.post(reverse(step), {"code": code}, REMOTE_ADDR=address)


def reaches_pages_and_api(client: Client) -> bool:
    home = client.get(reverse("web:home")).status_code
    api = client.get(API_URL).status_code
    assert (home == 200) == (api == 200), (home, api)
    return home == 200


@pytest.mark.parametrize("user_key", ["national", "province_hn", "admin"])
def test_a_required_role_without_the_code_reaches_no_page_and_no_api(world, second_factor_on, user_key):
    device = device_for(world.users[user_key])
    client = Client()

    response = log_in(client, user_key)

    assert response.status_code == 302 and response["Location"] == reverse("web:login_code")
    assert "Mã xác thực" in client.get(reverse("web:login_code")).content.decode()
    assert not reaches_pages_and_api(client)
    assert client.get(API_URL).status_code == 401
    assert not AuditEvent.objects.filter(action=Action.LOGIN_SUCCEEDED).exists()

    response = give_code(client, code_of(device))

    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    assert reaches_pages_and_api(client)
    event = AuditEvent.objects.get(action=Action.LOGIN_SUCCEEDED)
    assert event.detail["second_factor"] is True


def test_a_wrong_code_does_not_log_in_and_is_audited_as_a_failure(world, second_factor_on):
    device = device_for(world.users["national"])
    client = Client()
    log_in(client, "national")

    right = code_of(device)
    response = give_code(client, "000000" if right != "000000" else "111111")

    assert response.status_code == 200
    assert "Mã xác thực không đúng" in response.content.decode()
    assert not reaches_pages_and_api(client)
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.detail["step"] == "second_factor" and event.detail["address"] == "203.0.113.7"


def test_a_wrong_code_counts_like_a_wrong_password(world, second_factor_on):
    device = device_for(world.users["national"])
    for i in range(19):
        log_in(Client(), "national", "wrong-password", f"198.51.100.{i + 1}")
    client = Client()
    log_in(client, "national", address="198.51.100.100")
    give_code(client, "000000" if code_of(device) != "000000" else "111111", address="198.51.100.100")

    refused = log_in(Client(), "national", address="198.51.100.101")

    assert refused.status_code == 429
    # A code is not even looked at once the account is locked.
    assert give_code(client, code_of(device, steps_ahead=1), address="198.51.100.100").status_code == 429
    assert not reaches_pages_and_api(client)


def test_a_required_role_without_a_device_sets_one_up_at_login(world, second_factor_on):
    client = Client()

    response = log_in(client, "province_hn")

    assert response.status_code == 302 and response["Location"] == reverse("web:login_setup")
    page = client.get(reverse("web:login_setup"))
    assert "<svg" in page.content.decode()
    assert not reaches_pages_and_api(client)
    device = TOTPDevice.objects.get(user=world.users["province_hn"], confirmed=False)
    assert (
        give_code(
            client, "000000" if code_of(device) != "000000" else "111111", "web:login_setup"
        ).status_code
        == 200
    )
    assert not reaches_pages_and_api(client)

    response = give_code(client, code_of(device, steps_ahead=1), "web:login_setup")

    assert response.status_code == 302
    assert reaches_pages_and_api(client)
    device.refresh_from_db()
    assert device.confirmed
    added = AuditEvent.objects.get(action=Action.SECOND_FACTOR_ADDED)
    assert added.actor_id == world.users["province_hn"].pk
    # The next login asks for a code of that device.
    assert log_in(Client(), "province_hn")["Location"] == reverse("web:login_code")


def test_other_roles_log_in_with_the_password_until_they_set_up_a_device(world, second_factor_on):
    client = Client()
    assert log_in(client, "commune_badinh").status_code == 302
    assert reaches_pages_and_api(client)

    page = client.get(reverse("web:second_factor"))
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=world.users["commune_badinh"], confirmed=False)
    client.post(reverse("web:second_factor"), {"code": code_of(device)})
    assert reaches_pages_and_api(client)  # the session that set it up gave a code
    assert AuditEvent.objects.filter(action=Action.SECOND_FACTOR_ADDED).count() == 1

    other = Client()
    assert log_in(other, "commune_badinh")["Location"] == reverse("web:login_code")
    assert not reaches_pages_and_api(other)


def test_a_session_from_before_the_second_factor_was_required_counts_as_logged_out(world, settings):
    client = Client()
    client.force_login(world.users["national"])
    assert reaches_pages_and_api(client)

    settings.VAXREG_SECOND_FACTOR = True

    assert not reaches_pages_and_api(client)


def test_a_voluntary_device_can_be_removed_with_a_code_and_a_required_one_cannot(world, second_factor_on):
    device = device_for(world.users["facility_hn1"])
    client = Client()
    log_in(client, "facility_hn1")
    give_code(client, code_of(device))
    assert reaches_pages_and_api(client)

    client.post(reverse("web:second_factor"), {"code": code_of(device, steps_ahead=1)})

    assert not TOTPDevice.objects.filter(user=world.users["facility_hn1"]).exists()
    removed = AuditEvent.objects.get(action=Action.SECOND_FACTOR_REMOVED)
    assert removed.actor_id == world.users["facility_hn1"].pk
    assert log_in(Client(), "facility_hn1")["Location"] == reverse("web:home")

    national = device_for(world.users["national"])
    client = Client()
    log_in(client, "national")
    give_code(client, code_of(national))
    response = client.post(reverse("web:second_factor"), {"code": code_of(national, steps_ahead=1)})
    assert response.status_code == 400 and "administrator can reset" in response.content.decode()
    assert TOTPDevice.objects.filter(user=world.users["national"]).exists()


def test_an_admin_resets_a_lost_device_from_the_command_line(world, second_factor_on):
    user = world.users["national"]
    device = device_for(user)
    client = Client()
    log_in(client, "national")
    give_code(client, code_of(device))
    assert reaches_pages_and_api(client)

    out = io.StringIO()
    call_command("second_factor_reset", "--username", "national", "--reason", "phone lost", stdout=out)

    assert "Second factor removed" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action=Action.SECOND_FACTOR_REMOVED)
    assert event.object_id == str(user.pk) and event.detail["reason"] == "phone lost"
    assert not reaches_pages_and_api(client)  # the session's device is gone
    assert log_in(Client(), "national")["Location"] == reverse("web:login_setup")


def test_switched_off_no_code_is_asked_even_with_a_device(world):
    device_for(world.users["national"])
    client = Client()
    assert log_in(client, "national")["Location"] == reverse("web:home")
    assert reaches_pages_and_api(client)


def test_the_pending_login_expires(world, second_factor_on, monkeypatch):
    import datetime as dt

    from vaxreg.core import clock

    device = device_for(world.users["national"])
    client = Client()
    log_in(client, "national")
    later = clock.now() + dt.timedelta(minutes=11)
    monkeypatch.setattr(clock, "now", lambda: later)

    response = give_code(client, code_of(device))

    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert not reaches_pages_and_api(client)


def test_a_code_right_after_a_wrong_one_is_asked_to_wait_not_counted(world, second_factor_on):
    device = device_for(world.users["national"])
    client = Client()
    log_in(client, "national")
    give_code(client, "000000" if code_of(device) != "000000" else "111111")

    response = give_code(client, code_of(device, steps_ahead=1))

    assert response.status_code == 429
    assert "hãy chờ 1 giây" in response.content.decode() and "wait 1 second(s)" in response.content.decode()
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED).count() == 1
    assert AuditEvent.objects.get(action=Action.LOGIN_THROTTLED).detail["step"] == "second_factor"
    assert not reaches_pages_and_api(client)
