"""The findings export lists each open finding once per source record it concerns."""

import csv
import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from vaxreg.places.models import Facility
from vaxreg.quality.services import quality_check_persons
from vaxreg.quality.tests.conftest import NATIONAL
from vaxreg.quality.tests.test_rules import make_person

D = dt.date


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))[1:]


def test_person_findings_list_every_dose_record_and_dose_findings_one(
    facility: Facility, tmp_path: Path
) -> None:
    other = Facility.objects.exclude(pk=facility.pk).order_by("code").first()
    assert other is not None
    wrong_gender = make_person(facility, gender="M")  # the CCCD says female
    unknown_vaccine = make_person(other, doses=[(None, D(2021, 8, 1), 1, "Vắc xin lạ")])
    clean = make_person(facility)
    quality_check_persons(person_ids=[wrong_gender.pk, unknown_vaccine.pk, clean.pk])

    out = tmp_path / "findings.csv"
    call_command("quality_export", "--user", NATIONAL, "--out", str(out))
    rows = _rows(out)
    gender_rows = [r for r in rows if r[2] == "ID_GENDER_MISMATCH"]
    assert sorted(r[1] for r in gender_rows) == sorted(d.source_record_id for d in wrong_gender.doses.all())
    assert all(r[0] == facility.code and r[3] == "Chặn" for r in gender_rows)
    assert "CCCD" in gender_rows[0][4] and gender_rows[0][5]
    vaccine_rows = [r for r in rows if r[2] == "DOSE_VACCINE_UNKNOWN"]
    assert [(r[0], r[1]) for r in vaccine_rows] == [
        (other.code, unknown_vaccine.doses.get().source_record_id)
    ]
    assert not {d.source_record_id for d in clean.doses.all()} & {r[1] for r in rows}

    only_other = tmp_path / "other.xlsx"
    call_command("quality_export", "--user", NATIONAL, "--facility", other.code, "--out", str(only_other))
    sheet = load_workbook(only_other).active
    assert sheet is not None
    listed = [row for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert listed and {row[0] for row in listed} == {other.code}


def test_export_refuses_an_unknown_facility(facility: Facility, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="NOPE"):
        call_command(
            "quality_export", "--user", NATIONAL, "--facility", "NOPE", "--out", str(tmp_path / "x.csv")
        )
