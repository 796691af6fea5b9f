"""Each injected defect really shows in the rows the ground truth names, and a clean file has none."""

import datetime as dt
import re
import unicodedata
from collections import Counter, defaultdict

import pytest

from vaxreg.core import clock
from vaxreg.core.cccd import (
    IdKind,
    cccd_birth_year_mismatch,
    cccd_gender_mismatch,
    cccd_province_known,
    parse_id_number,
)
from vaxreg.core.dates import DateParseError, PartialDate, parse_full_date, parse_partial_date
from vaxreg.core.phones import normalize_phone
from vaxreg.core.text import fold, has_vietnamese_diacritics
from vaxreg.synth.defects import DEFECT_CODES, DefectRates
from vaxreg.synth.generator import DoseFileGenerator, PersonRows
from vaxreg.synth.tables import tables
from vaxreg.synth.tests.conftest import MIXED_RATES, PERSONS, Hue, csv_rows, truth_rows
from vaxreg.vaccinations.selectors import vaccine_min_age_months, vaccine_resolve

GENDERS = {"Nam": "M", "Nữ": "F", "M": "M", "F": "F"}
CAMPAIGN_START = dt.date(2021, 3, 8)
(NAME, DOB, GENDER, ID, PHONE, ADDRESS, COMMUNE, FACILITY, SRID, VDATE, DOSE_NO, VACCINE, LOT) = range(13)


def _persons(hue: Hue, *, seed: int, rates: DefectRates) -> list[PersonRows]:
    return list(DoseFileGenerator(place=hue.place, seed=seed, rates=rates).persons(PERSONS))


def _dob(text: str) -> PartialDate | None:
    try:
        return parse_partial_date(text)
    except DateParseError:
        return None


def _vdate(row: list[str]) -> dt.date:
    value = parse_full_date(row[VDATE])
    assert value is not None
    return value


def _months(born: dt.date, on: dt.date) -> int:
    return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


def _shows(  # noqa: C901 — one branch per defect code, mirroring the generator's _inject
    defect: str, truth: dict[str, str], row: list[str], person: list[list[str]], hue: Hue, ids: dict
) -> bool:
    """Whether the row as written shows the defect the ground truth says was injected."""
    original, injected = truth["original_value"], truth["injected_value"]
    gender = GENDERS.get(row[GENDER], "")
    dob = _dob(row[DOB])
    vdate = parse_full_date(row[VDATE])
    vaccine = vaccine_resolve(row[VACCINE], alias_map=hue.alias_map)
    if defect == "NAME_MISSING":
        return row[NAME] == "" and original != ""
    if defect == "DOB_MISSING":
        return row[DOB] == "" and original != ""
    if defect == "GENDER_MISSING":
        return row[GENDER] == "" and original != ""
    if defect == "ID_MISSING":
        return row[ID] == "" and original != ""
    if defect == "ID_FORMAT":
        return parse_id_number(row[ID]).kind == IdKind.INVALID
    if defect == "ID_LEADING_ZEROS":
        parsed = parse_id_number(row[ID])
        return (
            not row[ID].startswith("0")
            and parsed.kind == IdKind.CCCD
            and parsed.repaired
            and parsed.number == original
        )
    if defect == "ID_GENDER_MISMATCH":
        return cccd_gender_mismatch(row[ID], gender)
    if defect == "ID_BIRTHYEAR_MISMATCH":
        return dob is not None and cccd_birth_year_mismatch(row[ID], dob.year)
    if defect == "ID_SHARED":
        return row[ID] == injected and len(ids[row[ID]]) >= 2
    if defect == "DOB_INVALID":
        return dob is None or dob.year < 1900 or (dob.as_date() or dt.date(dob.year, 1, 1)) > clock.today()
    if defect == "DOB_SWAPPED":
        day, month, year = original.split("/")
        return row[DOB] == f"{month}/{day}/{year}" and row[DOB] != original
    if defect == "NAME_SUSPECT":
        name = row[NAME]
        placeholder = fold(name) in {"khong ro", "chua co ten", "x", "kr"}
        return placeholder or len(name.split()) == 1 or bool(re.search(r"\d|[^\w\s]", name))
    if defect == "NAME_NO_DIACRITICS":
        return not has_vietnamese_diacritics(row[NAME]) and has_vietnamese_diacritics(original)
    if defect == "PHONE_INVALID":
        return row[PHONE] != "" and not normalize_phone(row[PHONE])[1]
    if defect == "DOSE_DATE_FUTURE":
        return vdate is not None and vdate > clock.today()
    if defect == "DOSE_BEFORE_CAMPAIGN":
        return vdate is not None and vdate < CAMPAIGN_START
    if defect == "DOSE_BEFORE_BIRTH":
        born = dob.as_date() if dob else None
        return vdate is not None and born is not None and vdate < born
    if defect == "DOSE_VACCINE_UNKNOWN":
        return vaccine is None and row[VACCINE] != ""
    if defect == "DOSE_DUPLICATE":
        twins = [r for r in person if r[SRID] == original]
        return (
            len(twins) == 1
            and parse_full_date(twins[0][VDATE]) == vdate
            and twins[0][VACCINE] == row[VACCINE]
            and row[SRID] == injected
        )
    if defect == "DOSE_NUMBER_CONFLICT":
        numbers = [int(r[DOSE_NO]) for r in sorted(person, key=_vdate)]
        return any(a >= b for a, b in zip(numbers, numbers[1:], strict=False))
    if defect == "DOSE_INTERVAL_SHORT":
        number = int(row[DOSE_NO])
        previous = [_vdate(r) for r in person if int(r[DOSE_NO]) == number - 1]
        minimum = hue.vaccines[vaccine].min_interval_days[str(number)] if vaccine else 0
        return len(previous) == 1 and vdate is not None and (vdate - previous[0]).days < minimum
    if defect == "DOSE_AGE_INELIGIBLE":
        born = dob.as_date() if dob else None
        if vaccine is None or born is None or vdate is None:
            return False
        return _months(born, vdate) < vaccine_min_age_months(hue.vaccines[vaccine], on=vdate)
    if defect == "DUPLICATE_SUSPECT":
        others = [r for r in person if r[NAME] == original]
        return (
            row[NAME] == injected != original
            and bool(others)
            and all(r[DOB] == row[DOB] or not r[DOB] or not row[DOB] for r in others)
            and has_vietnamese_diacritics(row[NAME])
            and row[ID] != others[0][ID]
        )
    raise AssertionError(f"no check for {defect}")


def test_every_defect_kind_appears_and_every_truth_row_shows_its_defect(hue: Hue) -> None:
    persons = _persons(hue, seed=11, rates=MIXED_RATES)
    file_rows = csv_rows(hue.mixed.out)[1:]
    assert [row.cells for p in persons for row in p.rows] == file_rows, (
        "the file holds exactly the generated rows"
    )
    truth = truth_rows(hue.mixed.truth_out)
    assert [tuple(t.values()) for t in truth] == [t for p in persons for t in p.truth]

    by_key = {(row[FACILITY], row[SRID]): row for row in file_rows}
    rows_of: dict[str, list[list[str]]] = {p.key: [r.cells for r in p.rows] for p in persons}
    ids: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in file_rows:
        ids[row[ID]].add((row[NAME], row[DOB]))

    assert set(DEFECT_CODES) <= {t["defect"] for t in truth}
    failures: Counter[str] = Counter()
    for t in truth:
        row = by_key[(t["facility_code"], t["source_record_id"])]
        if not _shows(t["defect"], t, row, rows_of[t["person_key"]], hue, ids):
            failures[t["defect"]] += 1
    assert not failures, f"truth rows whose defect does not show: {dict(failures)}"

    # Person-level defects show on every row of the person: a person has one record.
    for p in persons:
        if p.defect in ("ID_GENDER_MISMATCH", "NAME_MISSING", "ID_MISSING", "NAME_NO_DIACRITICS"):
            assert len(p.truth) == len(p.rows)


def test_the_truth_names_each_defect_with_its_field_and_values(hue: Hue) -> None:
    truth = truth_rows(hue.mixed.truth_out)
    fields = {t["field"] for t in truth}
    assert fields <= {
        "full_name",
        "date_of_birth",
        "gender",
        "id_number",
        "phone",
        "vaccination_date",
        "dose_number",
        "vaccine",
        "source_record_id",
    }
    counts = Counter(t["defect"] for t in truth)
    assert counts == Counter(hue.mixed.defects_by_code)
    for t in truth:
        assert t["person_key"].startswith("P") and t["facility_code"] and t["source_record_id"]


def test_a_clean_file_has_no_defect_at_all(hue: Hue) -> None:
    assert truth_rows(hue.clean.truth_out) == []
    persons = _persons(hue, seed=13, rates=DefectRates.none())
    assert [row.cells for p in persons for row in p.rows] == csv_rows(hue.clean.out)[1:]
    facilities = {code for code, _ in hue.place.facilities}
    today = clock.today()
    id_owner: dict[str, str] = {}
    for person in persons:
        rows = [r.cells for r in person.rows]
        first = rows[0]
        name, gender = first[NAME], GENDERS[first[GENDER]]
        dob = parse_partial_date(first[DOB])
        assert dob is not None and dob.year >= 1900 and (dob.as_date() or dt.date(dob.year, 12, 31)) <= today
        parsed = parse_id_number(first[ID])
        assert parsed.kind in (IdKind.CCCD, IdKind.CMND, IdKind.PASSPORT) and not parsed.repaired
        if parsed.kind == IdKind.CCCD:
            assert cccd_province_known(parsed.number)
            assert not cccd_gender_mismatch(parsed.number, gender), (name, first)
            assert not cccd_birth_year_mismatch(parsed.number, dob.year), (name, first)
        assert id_owner.setdefault(parsed.number, person.key) == person.key, "one ID, one person"
        assert unicodedata.is_normalized("NFC", name) and len(name.split()) >= 2
        assert not re.search(r"\d|[^\w\s]", name)
        if parsed.kind != IdKind.PASSPORT:
            assert has_vietnamese_diacritics(name), name
        assert first[PHONE] == "" or normalize_phone(first[PHONE])[1], first[PHONE]
        new_code, _ = hue.commune_codes.get(first[COMMUNE], (None, None)) if first[COMMUNE] else ("x", None)
        assert new_code is not None, first[COMMUNE]
        born = dob.as_date()
        previous: dt.date | None = None
        for number, row in enumerate(rows, start=1):
            assert row[: COMMUNE + 1][:5] == first[:5], "a person's identity is the same on every row"
            assert row[FACILITY] in facilities and int(row[DOSE_NO]) == number
            vdate = parse_full_date(row[VDATE])
            assert vdate is not None and CAMPAIGN_START <= vdate <= today
            vaccine = vaccine_resolve(row[VACCINE], alias_map=hue.alias_map)
            assert vaccine is not None, row[VACCINE]
            if previous is not None:
                minimum = hue.vaccines[vaccine].min_interval_days.get(str(number), 0)
                assert (vdate - previous).days >= minimum, (vaccine, number, previous, vdate)
            if born is not None:
                assert _months(born, vdate) >= vaccine_min_age_months(hue.vaccines[vaccine], on=vdate), (
                    vaccine,
                    born,
                    vdate,
                )
            previous = vdate


def test_people_look_like_vietnam(hue: Hue) -> None:
    persons = _persons(hue, seed=13, rates=DefectRates.none())
    first_rows = [p.rows[0].cells for p in persons]
    surnames = Counter(row[NAME].split()[0] for row in first_rows)
    assert 0.33 <= surnames["Nguyễn"] / len(first_rows) <= 0.43
    assert surnames["Trần"] > surnames["Lý"] and surnames["Lê"] > surnames["Ngô"]
    genders = Counter(GENDERS[row[GENDER]] for row in first_rows)
    assert 0.45 <= genders["M"] / len(first_rows) <= 0.55
    female_middle = Counter(row[NAME].split()[1] for row in first_rows if GENDERS[row[GENDER]] == "F")
    male_middle = Counter(row[NAME].split()[1] for row in first_rows if GENDERS[row[GENDER]] == "M")
    assert female_middle.most_common(1)[0][0] == "Thị" and male_middle.most_common(1)[0][0] == "Văn"
    doses = Counter(len(p.rows) for p in persons)
    assert doses[2] + doses[3] > 0.6 * len(persons) and doses[1] > 0 and doses[4] > 0
    years = [parse_partial_date(row[DOB]).year for row in first_rows]
    adults = sum(1 for y in years if y <= 2003)
    assert 0.7 <= adults / len(years) <= 0.9 and min(years) < 1950 and max(years) >= 2012
    elderly = [row[DOB] for row, year in zip(first_rows, years, strict=True) if year < 1950]
    year_only = sum(1 for text in elderly if len(text) == 4)
    assert 0 < year_only < 0.1 * len(elderly), "a few elderly people have only a birth year"
    addresses = [row[ADDRESS] for row in first_rows]
    assert all(a.startswith("Số ") for a in addresses)
    communes = {c.code: c.name for c in hue.place.communes}
    assert all(
        row[ADDRESS].endswith(communes[hue.commune_codes[row[COMMUNE]][0]])
        for row in first_rows
        if row[COMMUNE]
    )
    legacy = [row for row in first_rows if row[COMMUNE] and hue.commune_codes[row[COMMUNE]][1] is not None]
    assert 0.05 < len(legacy) / len(first_rows) < 0.3, "some rows still carry the old commune code"
    vaccines = Counter(r.cells[VACCINE] for p in persons for r in p.rows)
    assert vaccines.most_common(1)[0][0] in ("AstraZeneca", "Pfizer", "Vero Cell")


@pytest.mark.parametrize("name", ["Nguyễn Thị Hương", "Lê Văn Đức", "Phan Thanh Lan"])
def test_name_typo_keeps_a_plausible_vietnamese_name(name: str) -> None:
    import random

    from vaxreg.synth.defects import name_typo

    rng = random.Random(1)
    for _ in range(50):
        typo = name_typo(name, rng)
        assert typo != name and len(typo.split()) >= 2 and has_vietnamese_diacritics(typo)
        assert unicodedata.is_normalized("NFC", typo)


def test_data_files_are_nfc_and_name_lists_have_both_genders() -> None:
    t = tables()
    for table in (t.surnames, *t.middle.values(), *t.given.values()):
        assert all(unicodedata.is_normalized("NFC", v) for v in table.values)
    assert "Thị" in t.middle[("F", False)].values and "Văn" in t.middle[("M", False)].values
