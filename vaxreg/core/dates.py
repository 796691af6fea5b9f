"""Dates as facilities send them: Excel cells, serial numbers and text, always read day first.

Birth dates may be partial (elderly people often know only the year), vaccination dates may not. The
import pipeline calls these once per row, so results are cached and nothing here touches the ORM.
"""

import calendar
import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from vaxreg.core.refusals import Refusal

DATE_FORMAT = "DATE_FORMAT"
DATE_IMPOSSIBLE = "DATE_IMPOSSIBLE"
DATE_INCOMPLETE = "DATE_INCOMPLETE"

_MESSAGES: dict[str, tuple[str, str]] = {
    DATE_FORMAT: (
        "Không đọc được ngày «{value}»: hãy dùng dd/mm/yyyy, yyyy-mm-dd, mm/yyyy hoặc yyyy.",
        "Cannot read the date “{value}”: use dd/mm/yyyy, yyyy-mm-dd, mm/yyyy or yyyy.",
    ),
    DATE_IMPOSSIBLE: (
        "Ngày «{value}» không tồn tại (ngày hoặc tháng ngoài phạm vi; ngày được đọc trước tháng).",
        "The date “{value}” does not exist (day or month out of range; the day is read before the month).",
    ),
    DATE_INCOMPLETE: (
        "Ngày «{value}» thiếu ngày hoặc tháng: cần ngày đầy đủ dd/mm/yyyy.",
        "The date “{value}” lacks the day or the month: a full date dd/mm/yyyy is needed.",
    ),
}


class DateParseError(Refusal, ValueError):
    """A date that cannot be read; ``code`` says why, the messages say it to people."""

    status = 422

    def __init__(self, code: str, value: object) -> None:
        template_vi, template_en = _MESSAGES[code]
        super().__init__(template_vi.format(value=value), template_en.format(value=value), code=code)
        self.value = value

    def __str__(self) -> str:
        return f"{self.code}: {self.message_en}"


@dataclass(frozen=True, slots=True)
class PartialDate:
    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year out of range: {self.year}")
        if self.month is None:
            if self.day is not None:
                raise ValueError("a day needs a month")
            return
        if not 1 <= self.month <= 12:
            raise ValueError(f"month out of range: {self.month}")
        if self.day is not None and not 1 <= self.day <= calendar.monthrange(self.year, self.month)[1]:
            raise ValueError(f"day out of range: {self.day}/{self.month}/{self.year}")

    @property
    def is_full(self) -> bool:
        return self.day is not None

    def as_date(self) -> dt.date | None:
        if self.month is None or self.day is None:
            return None
        return dt.date(self.year, self.month, self.day)

    def __str__(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.month:02d}/{self.year:04d}"
        return f"{self.day:02d}/{self.month:02d}/{self.year:04d}"


# Excel's 1900 date system counts 1900-02-29, a day that never was (serial 60), to stay compatible with
# Lotus 1-2-3; serials after it are one day ahead of a plain count. 2958465 is 9999-12-31.
_EXCEL_EPOCH_BEFORE_LEAP_BUG = dt.date(1899, 12, 31)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_FAKE_LEAP_DAY = 60
_EXCEL_MAX_SERIAL = 2_958_465
# A whole number in this range is a birth year typed into a number cell, not a serial: as serials these
# would be days of 1904–1906, and nobody vaccinated from 2021 on was born then.
_YEAR_AS_NUMBER = range(1800, 2200)

_TIME = r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AP]M)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_SEP = r"\s*[/.\-]\s*"
_DMY = re.compile(rf"^(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}}){_TIME}$", re.IGNORECASE)
_YMD = re.compile(rf"^(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}}){_TIME}$", re.IGNORECASE)
_MY = re.compile(rf"^(\d{{1,2}}){_SEP}(\d{{4}})$")
_YM = re.compile(rf"^(\d{{4}}){_SEP}(\d{{1,2}})$")
_Y = re.compile(r"^(\d{4})(?:[.,]0+)?$")  # "1950.0": a year cell that went through a float
_SERIAL = re.compile(r"^(\d{5})(?:[.,]\d+)?$")

_CACHE_SIZE = 1 << 16


def _from_serial(serial: int) -> PartialDate | str:
    if serial == _EXCEL_FAKE_LEAP_DAY or not 1 <= serial <= _EXCEL_MAX_SERIAL:
        return DATE_IMPOSSIBLE
    epoch = _EXCEL_EPOCH_BEFORE_LEAP_BUG if serial < _EXCEL_FAKE_LEAP_DAY else _EXCEL_EPOCH
    day = epoch + dt.timedelta(days=serial)
    return PartialDate(day.year, day.month, day.day)


def _from_number(value: int | float | Decimal) -> PartialDate | str | None:
    if isinstance(value, float) and math.isnan(value):
        return None  # pandas' empty cell
    if isinstance(value, Decimal) and not value.is_finite():
        return None if value.is_nan() else DATE_FORMAT
    if isinstance(value, float) and math.isinf(value):
        return DATE_FORMAT
    whole = math.floor(value)  # a fraction is the time of day
    if whole == value and whole in _YEAR_AS_NUMBER:
        return PartialDate(int(whole))
    return _from_serial(int(whole))


def _build(year: str, month: str | None = None, day: str | None = None) -> PartialDate | str:
    try:
        return PartialDate(int(year), int(month) if month else None, int(day) if day else None)
    except ValueError:
        return DATE_IMPOSSIBLE


def _from_text(value: str) -> PartialDate | str | None:
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    if match := _DMY.match(text):
        day, month, year = match.groups()
        return _build(year, month, day)
    if match := _YMD.match(text):
        return _build(*match.groups())
    if match := _MY.match(text):
        month, year = match.groups()
        return _build(year, month)
    if match := _Y.match(text):  # before yyyy-mm: "1950.0" is not month 0
        return _build(match.group(1))
    if match := _YM.match(text):
        return _build(*match.groups())
    if match := _SERIAL.match(text):
        return _from_serial(int(match.group(1)))
    return DATE_FORMAT


def _parse(value: object) -> PartialDate | str | None:
    """The parsed date, None for blank, or the error code (memoised too: bad values repeat)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return PartialDate(value.year, value.month, value.day)
    if isinstance(value, dt.date):
        return PartialDate(value.year, value.month, value.day)
    if isinstance(value, bool):
        return DATE_FORMAT
    if isinstance(value, int | float | Decimal):
        return _from_number(value)
    if isinstance(value, str):
        return _from_text(value)
    return DATE_FORMAT


# Memo per exact input type (an int serial and the float with its time of day must not share an entry).
# A plain dict cleared when full costs half of what an lru_cache lookup does, and this runs for every cell.
_MEMO: dict[type, dict[object, PartialDate | str | None]] = {
    str: {},
    int: {},
    float: {},
    dt.date: {},
    dt.datetime: {},
}
_MISSING = object()


def parse_partial_date(value: object) -> PartialDate | None:
    """Read a date cell or text, day first; None when blank.

    Raises DateParseError with code DATE_FORMAT (unreadable) or DATE_IMPOSSIBLE (31/02/1990, month 13,
    Excel's 29/02/1900). "13/25/2021" is impossible, never swapped: Vietnamese dates put the day first.
    """
    memo = _MEMO.get(type(value))
    if memo is None:
        result = _parse(value)
    else:
        result = memo.get(value, _MISSING)  # type: ignore[arg-type]
        if result is _MISSING:
            result = _parse(value)
            if len(memo) >= _CACHE_SIZE:
                memo.clear()
            if value == value:  # NaN never finds itself again
                memo[value] = result  # type: ignore[assignment]
    if type(result) is str:
        raise DateParseError(result, value)
    return result  # type: ignore[return-value]


def clear_caches() -> None:
    for memo in _MEMO.values():
        memo.clear()


def parse_full_date(value: object) -> dt.date | None:
    """Like parse_partial_date, but a month/year or a bare year raises DATE_INCOMPLETE."""
    partial = parse_partial_date(value)
    if partial is None:
        return None
    full = partial.as_date()
    if full is None:
        raise DateParseError(DATE_INCOMPLETE, value)
    return full
