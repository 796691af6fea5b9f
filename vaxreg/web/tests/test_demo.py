"""`vaxreg demo` leaves a database where every role can log in and sees Huế's data."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from pytest_django.fixtures import Settings

from vaxreg.accounts.models import Role, User
from vaxreg.complaints.models import Complaint
from vaxreg.core import clock
from vaxreg.imports.models import ImportBatch
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose
from vaxreg.web.management.commands.demo import DEMO_PERSONS, demo_setup

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _files_in_tmp(settings: Settings, tmp_path: Path, reference_data: dict[str, Any]) -> None:
    # reference_data: the places and vaccines loaded once per session, so the demo skips that step.
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "private"


def test_demo_gives_every_role_an_account_on_hue_data_and_a_rerun_only_renews_passwords() -> None:
    accounts = demo_setup(persons=300, say=lambda _: None)

    assert sorted(a.role for a in accounts) == sorted(Role.values)
    assert Person.objects.filter(province_id="46").count() >= 250
    users = {u.role: u for u in User.objects.filter(username__in=[a.username for a in accounts])}
    # The commune, police and facility accounts point at units that have people and doses to work on.
    assert Person.objects.filter(commune=users[Role.COMMUNE].commune).exists()
    assert users[Role.POLICE].commune == users[Role.COMMUNE].commune
    assert Dose.objects.filter(facility=users[Role.FACILITY].facility).exists()
    assert users[Role.PROVINCE].province_id == "46"
    # The facility has signed off its past days, and complaints wait in its inbox; one is past due.
    assert not Dose.objects.filter(
        facility=users[Role.FACILITY].facility, signed_off=False, vaccination_date__lt=clock.today()
    ).exists()
    complaints = Complaint.objects.filter(handler_facility=users[Role.FACILITY].facility)
    filed = Complaint.objects.count()
    assert complaints.count() >= 3
    assert complaints.filter(escalated_at__isnull=False).count() == 1
    assert complaints.filter(reminded_at__isnull=False, escalated_at__isnull=True).count() == 1
    for account in accounts:
        client = Client()
        assert client.login(username=account.username, password=account.password), account.role
        assert client.get("/").status_code == 200

    again = demo_setup(persons=300, say=lambda _: None)

    assert ImportBatch.objects.count() == 1
    assert Complaint.objects.count() == filed
    assert Person.objects.filter(province_id="46").count() == Person.objects.count()
    for old, new in zip(accounts, again, strict=True):
        assert old.username == new.username and old.password != new.password
        assert not Client().login(username=old.username, password=old.password)
        assert Client().login(username=new.username, password=new.password)


def test_the_demo_sets_up_at_the_size_the_readme_runs() -> None:
    """The full-size synthetic data holds every kind of defect; the demo's own steps (complaints filed by
    citizens, signed-off days) must get through it."""
    accounts = demo_setup(persons=DEMO_PERSONS, say=lambda _: None)

    assert sorted(a.role for a in accounts) == sorted(Role.values)
    assert Person.objects.count() >= DEMO_PERSONS * 0.9
    assert Complaint.objects.count() == 6


def test_demo_command_prints_the_accounts_and_refuses_a_server_database_without_force() -> None:
    args = ["demo", "--no-serve", "--persons", "50"]
    if connection.vendor != "sqlite":
        with pytest.raises(CommandError, match="SQLite"):
            call_command(*args)
        args.append("--force")
    out = io.StringIO()

    call_command(*args, stdout=out)

    printed = out.getvalue()
    for user in User.objects.filter(username__startswith="demo-"):
        assert user.username in printed
    assert User.objects.filter(username__startswith="demo-").count() == len(Role.values)
