"""The findings export holds what the acting account may read, is written to the audit log, and escapes
cells a spreadsheet would run as formulas."""

import csv
import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from vaxreg.accounts.models import Role, User
from vaxreg.core.models import AuditEvent
from vaxreg.places.models import Facility
from vaxreg.quality.services import quality_check_persons
from vaxreg.quality.tests.conftest import NATIONAL
from vaxreg.quality.tests.test_rules import AZ1, make_person
from vaxreg.vaccinations.models import Dose

D = dt.date


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))[1:]


@pytest.fixture
def two_facilities(facility: Facility) -> tuple[Facility, Facility]:
    other = Facility.objects.exclude(pk=facility.pk).order_by("code").first()
    assert other is not None
    # The CCCD says female: a finding about the person, on each of her dose records at both facilities.
    traveller = make_person(facility, gender="M", doses=[AZ1])
    make_person(other, gender="M", doses=[(None, D(2021, 9, 1), 1, "AstraZeneca")])
    second = traveller.doses.get()
    second.pk = None
    second.facility = other
    second.source_record_id = "traveller-at-other"
    second.vaccination_date = D(2021, 10, 1)
    second.save()
    quality_check_persons(person_ids=list(traveller.__class__.objects.values_list("pk", flat=True)))
    return facility, other


def test_a_facility_accounts_export_holds_only_its_own_records_and_is_audited(
    two_facilities: tuple[Facility, Facility], tmp_path: Path
) -> None:
    facility, other = two_facilities
    User.objects.create(
        username="facility-user", role=Role.FACILITY, facility=facility, province_id=facility.province_id
    )
    everything = _rows(_export(tmp_path / "all.csv", NATIONAL))
    assert {r[0] for r in everything} == {facility.code, other.code}

    own = _rows(_export(tmp_path / "own.csv", "facility-user"))
    assert own and {r[0] for r in own} == {facility.code}
    assert "traveller-at-other" not in {r[1] for r in own}
    assert len(own) == sum(1 for r in everything if r[0] == facility.code)

    event = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="findings").latest("pk")
    assert event.actor_id == User.objects.get(username="facility-user").pk
    assert event.detail["rows"] == len(own) and event.detail["channel"] == "cli"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="findings").count() == 2


def test_an_account_that_reads_no_person_exports_nothing(facility: Facility, tmp_path: Path) -> None:
    User.objects.create(
        username="police-user",
        role=Role.POLICE,
        commune_id=facility.commune_id,
        province_id=facility.province_id,
    )
    with pytest.raises(CommandError, match="police-user"):
        _export(tmp_path / "x.csv", "police-user")
    with pytest.raises(CommandError, match="nobody"):
        _export(tmp_path / "x.csv", "nobody")
    assert not (tmp_path / "x.csv").exists()
    assert not AuditEvent.objects.filter(object_type="findings").exists()


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_record_id_written_as_a_formula_is_escaped(
    two_facilities: tuple[Facility, Facility], tmp_path: Path, suffix: str
) -> None:
    facility, _ = two_facilities
    Dose.objects.filter(facility=facility).update(source_record_id='=HYPERLINK("http://x","y")')
    out = _export(tmp_path / f"findings.{suffix}", NATIONAL)
    if suffix == "csv":
        ids = {r[1] for r in _rows(out)}
    else:
        sheet = load_workbook(out).active
        assert sheet is not None
        ids = {str(row[1]) for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert '\'=HYPERLINK("http://x","y")' in ids
    assert not any(i.startswith("=") for i in ids)


def _export(out: Path, username: str) -> Path:
    call_command("quality_export", "--user", username, "--out", str(out))
    return out
