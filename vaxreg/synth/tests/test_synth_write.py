import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from vaxreg.core.cccd import IdKind, parse_id_number
from vaxreg.places.services import facilities_generate
from vaxreg.synth import generator, services
from vaxreg.synth.defects import DefectRates
from vaxreg.synth.generator import HEADERS, TRUTH_HEADERS, DoseFileGenerator
from vaxreg.synth.services import synth_write
from vaxreg.synth.tests.conftest import PERSONS, Hue, csv_rows, truth_rows

TEMPLATE = [
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Số CCCD/CMND",
    "Số điện thoại",
    "Địa chỉ",
    "Mã xã",
    "Mã cơ sở tiêm",
    "Mã bản ghi",
    "Ngày tiêm",
    "Mũi số",
    "Tên vắc xin",
    "Số lô",
]


def test_csv_has_exactly_the_import_template_headers_with_a_bom(hue: Hue) -> None:
    raw = hue.default.out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads Vietnamese CSV as UTF-8 only with a BOM
    first_line = raw[3:].split(b"\r\n", 1)[0].decode("utf-8")
    assert first_line == ",".join(TEMPLATE)
    assert list(HEADERS) == TEMPLATE
    assert csv_rows(hue.default.truth_out)[0] == list(TRUTH_HEADERS)


def test_one_row_per_dose_and_the_summary_counts_them(hue: Hue) -> None:
    rows = csv_rows(hue.default.out)[1:]
    assert len(rows) == hue.default.rows
    assert 2.0 * PERSONS < len(rows) < 3.2 * PERSONS  # 1–4 doses, most people 2 or 3
    assert all(len(row) == len(TEMPLATE) for row in rows)
    keys = [(row[7], row[8]) for row in rows]
    assert len(set(keys)) == len(keys), "a source record id is unique within its facility"
    assert all(srid.startswith(facility + "-") for facility, srid in keys)
    truth = truth_rows(hue.default.truth_out)
    assert sum(hue.default.defects_by_code.values()) == len(truth)
    assert hue.default.defective_rows == len({(t["facility_code"], t["source_record_id"]) for t in truth})


def test_default_rates_put_a_defect_on_15_to_20_percent_of_rows(hue: Hue) -> None:
    assert 0.15 <= hue.default.defective_row_share <= 0.20


def test_the_same_seed_gives_a_byte_identical_file_and_another_seed_does_not(
    hue: Hue, tmp_path: Path
) -> None:
    again = DoseFileGenerator(place=hue.place, seed=12)
    rows = [row.cells for person in again.persons(PERSONS) for row in person.rows]
    assert rows == csv_rows(hue.default.out)[1:]
    other = DoseFileGenerator(place=hue.place, seed=99)
    other_rows = [row.cells for person in other.persons(PERSONS) for row in person.rows]
    assert other_rows[:50] != rows[:50]


@pytest.mark.django_db
def test_a_file_written_twice_with_one_seed_is_byte_identical_also_in_parallel(
    reference_data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    facilities_generate(province_code="46")
    # Small blocks so that three blocks go through worker processes (when the machine has two CPUs).
    monkeypatch.setattr(generator, "BLOCK_PERSONS", 400)
    monkeypatch.setattr(services, "BLOCK_PERSONS", 400)
    first = synth_write(out=tmp_path / "a.csv", persons=1_000, province_code="46", seed=5, parallel=True)
    second = synth_write(out=tmp_path / "b.csv", persons=1_000, province_code="46", seed=5, parallel=False)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.truth.csv").read_bytes() == (tmp_path / "b.truth.csv").read_bytes()
    assert first.rows == second.rows and first.defects_by_code == second.defects_by_code
    keys = [(row[7], row[8]) for row in csv_rows(tmp_path / "a.csv")[1:]]
    assert len(set(keys)) == len(keys), "source record ids stay unique across blocks"
    ids: dict[str, set[str]] = {}
    for row in csv_rows(tmp_path / "a.csv")[1:]:
        ids.setdefault(row[3], set()).add(row[0])
    # IDs stay unique across blocks too: only an injected ID_SHARED puts one ID on two names.
    shared = {t["injected_value"] for t in truth_rows(tmp_path / "a.truth.csv") if t["defect"] == "ID_SHARED"}
    assert all(len(names) == 1 or number in shared or not number for number, names in ids.items() if number)


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    return str(value)


def test_xlsx_holds_the_same_rows_as_the_csv_with_excel_cell_types(hue: Hue) -> None:
    workbook = load_workbook(hue.small_xlsx.out, read_only=True)
    sheet = workbook.active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == TEMPLATE
    csv_body = csv_rows(hue.small_csv.out)[1:]
    assert [[_xlsx_text(v) for v in row] for row in values[1:]] == csv_body
    assert hue.small_xlsx.truth_out.read_bytes() == hue.small_csv.truth_out.read_bytes()

    leading_zero_rows = {
        (t["facility_code"], t["source_record_id"])
        for t in truth_rows(hue.small_xlsx.truth_out)
        if t["defect"] == "ID_LEADING_ZEROS"
    }
    dob_types, vdate_types = set(), set()
    for row in values[1:]:
        id_value = row[3]
        if (row[7], row[8]) in leading_zero_rows:
            assert isinstance(id_value, int), "Excel turned this ID into a number"
            assert parse_id_number(id_value).repaired
        else:
            assert id_value is None or isinstance(id_value, str), "IDs are text cells"
        if row[1] is not None:
            dob_types.add(type(row[1]))
        vdate_types.add(type(row[9]))
    # Some dates are real date cells, others text, as facilities' spreadsheets mix them.
    assert dt.datetime in dob_types and str in dob_types
    assert dt.datetime in vdate_types and str in vdate_types
    assert leading_zero_rows or hue.small_xlsx.defects_by_code.get("ID_LEADING_ZEROS", 0) == 0


@pytest.mark.django_db
def test_command_writes_the_file_and_creates_facilities_when_asked(
    reference_data: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "hanoi.csv"
    stdout = io.StringIO()
    with pytest.raises(CommandError, match="vaxreg facilities load"):
        call_command("synth", persons=50, province="01", seed=1, out=str(out), stdout=stdout)
    call_command(
        "synth",
        "--persons=50",
        "--province=01",
        "--seed=1",
        f"--out={out}",
        "--create-facilities",
        "--rate-id-missing=0.5",
        stdout=stdout,
    )
    text = stdout.getvalue()
    assert "Đã ghi" in text and "Wrote" in text
    rows = csv_rows(out)
    assert rows[0] == TEMPLATE and len(rows) > 50
    truth = truth_rows(tmp_path / "hanoi.truth.csv")
    assert sum(1 for t in truth if t["defect"] == "ID_MISSING") > 10


@pytest.mark.django_db
def test_command_rejects_rates_that_add_up_to_more_than_one(
    reference_data: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="Invalid defect rates"):
        call_command(
            "synth",
            "--persons=5",
            "--province=46",
            f"--out={tmp_path / 'x.csv'}",
            "--rate-id-missing=0.9",
            "--rate-dob-missing=0.9",
        )


def test_defect_rates_none_is_all_zero_and_defaults_are_valid() -> None:
    assert DefectRates.none().total() == 0
    assert 0.15 <= DefectRates().total() <= 0.2
    with pytest.raises(ValueError):
        DefectRates(name_missing=1.5)


def test_id_kinds_look_like_vietnam(hue: Hue) -> None:
    rows = csv_rows(hue.clean.out)[1:]
    first_rows: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        first_rows.setdefault((row[0], row[1], row[3]), row)
    kinds = [parse_id_number(row[3]).kind for row in first_rows.values()]
    share = {kind: kinds.count(kind) / len(kinds) for kind in set(kinds)}
    assert 0.02 <= share[IdKind.CMND] <= 0.09  # old 9-digit CMND, mostly the elderly
    assert share.get(IdKind.PASSPORT, 0) < 0.02
    assert share[IdKind.CCCD] > 0.9
