"""The fields of a vaccination record as every way in reads them: the dose import, corrections, complaints,
the police's result file and FHIR bundles call these, so that a value one path takes another does not refuse.

- dose number: 1 and 2 primary, 3 and 4 boosters (SPEC §3);
- birth date: from 1900 to today, as a full date, a month or a year;
- vaccination date: from 01/01/2021 (no COVID-19 dose was given in Vietnam before) to today;
- vaccine: a catalogue code, name or alias ("AZ", "Pfizer"), through the catalogue's alias table;
- phone and ID number: ``vaxreg.core.phones`` and ``vaxreg.core.cccd``, re-exported here.
"""

import datetime as dt

from vaxreg.core.cccd import IdKind, ParsedId, parse_id_number
from vaxreg.core.dates import PartialDate
from vaxreg.core.phones import normalize_phone
from vaxreg.core.tables import CellInvalid, cell_text
from vaxreg.core.text import fold
from vaxreg.vaccinations.selectors import vaccine_alias_map, vaccine_resolve

MIN_DOSE_NUMBER = 1
MAX_DOSE_NUMBER = 4
DOSE_NUMBERS = range(MIN_DOSE_NUMBER, MAX_DOSE_NUMBER + 1)
# A dose number written as text: a form posts "2", a file may say "Mũi 2" or "dose 2".
DOSE_NUMBER_PATTERN = f"^[{MIN_DOSE_NUMBER}-{MAX_DOSE_NUMBER}]?$"
MIN_BIRTH_YEAR = 1900
FIRST_VACCINATION = dt.date(2021, 1, 1)

__all__ = [
    "DOSE_NUMBERS",
    "FIRST_VACCINATION",
    "MAX_DOSE_NUMBER",
    "MIN_BIRTH_YEAR",
    "IdKind",
    "ParsedId",
    "birth_date_in_bounds",
    "dose_number_cell",
    "dose_number_in_range",
    "dose_number_read",
    "normalize_phone",
    "parse_id_number",
    "vaccination_date_in_bounds",
    "vaccine_alias_map",
    "vaccine_resolve",
]


def dose_number_in_range(number: int) -> bool:
    return MIN_DOSE_NUMBER <= number <= MAX_DOSE_NUMBER


_DOSE_WORDS = str.maketrans("", "", " .")


def dose_number_read(text: str) -> int | None:
    """The dose number a cell means ("2", "Mũi 2", "dose 2", "mũi số 2"), or None when it names none in range."""
    if not text:
        return None
    cleaned = fold(text).translate(_DOSE_WORDS).removeprefix("mui").removeprefix("dose").removeprefix("so")
    if cleaned.isdigit() and dose_number_in_range(int(cleaned)):
        return int(cleaned)
    return None


def dose_number_cell(value: object) -> int | None:
    """The dose number column's reading of a cell (``Column.rule``): None when blank, ``CellInvalid`` when it
    names no dose number in range."""
    text = cell_text(value)
    if not text:
        return None
    number = dose_number_read(text)
    if number is None:
        raise CellInvalid(
            "DOSE_NUMBER_INVALID",
            f"Mũi số “{text[:40]}” phải từ {MIN_DOSE_NUMBER} đến {MAX_DOSE_NUMBER}.",
            f"The dose number “{text[:40]}” must be from {MIN_DOSE_NUMBER} to {MAX_DOSE_NUMBER}.",
            value=text,
        )
    return number


def birth_date_in_bounds(partial: PartialDate, *, today: dt.date) -> bool:
    """Whether a birth date (full, month or year) lies between 1900 and today."""
    full = partial.as_date()
    return MIN_BIRTH_YEAR <= partial.year <= today.year and (full is None or full <= today)


def vaccination_date_in_bounds(day: dt.date, *, today: dt.date) -> bool:
    return FIRST_VACCINATION <= day <= today
