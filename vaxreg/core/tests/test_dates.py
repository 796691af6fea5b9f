import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaxreg.core.dates import DateParseError, PartialDate, parse_full_date, parse_partial_date

AUG_1 = PartialDate(2021, 8, 1)


@pytest.mark.parametrize(
    "value",
    [
        "01/08/2021",
        "1/8/2021",
        "01-08-2021",
        "01.08.2021",
        " 01 / 08 / 2021 ",
        "01/08/2021 00:00:00",
        "2021-08-01",
        "2021/08/01",
        "2021-8-1",
        "2021-08-01 00:00:00",
        "2021-08-01T00:00:00",
        "2021-08-01T07:30:00+07:00",
        "０１/０８/２０２１",
        dt.date(2021, 8, 1),
        dt.datetime(2021, 8, 1, 14, 30),
        44409,
        44409.0,
        44409.6,
        "44409",
        Decimal("44409"),
    ],
)
def test_every_form_of_first_of_august_2021(value):
    assert parse_partial_date(value) == AUG_1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("08/2021", PartialDate(2021, 8)),
        ("8-2021", PartialDate(2021, 8)),
        ("2021-08", PartialDate(2021, 8)),
        ("1950", PartialDate(1950)),
        ("1950.0", PartialDate(1950)),
        # A birth year typed into a number cell: read as the year, not as a serial of 1905.
        (1950, PartialDate(1950)),
        (1950.0, PartialDate(1950)),
    ],
)
def test_partial_birth_dates(value, expected):
    assert parse_partial_date(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", float("nan")])
def test_blank_is_none(value):
    assert parse_partial_date(value) is None
    assert parse_full_date(value) is None


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, dt.date(1900, 1, 1)),
        (59, dt.date(1900, 2, 28)),
        (61, dt.date(1900, 3, 1)),  # after Excel's fake leap day, one day ahead of a plain count
        (36526, dt.date(2000, 1, 1)),
        (44450, dt.date(2021, 9, 11)),
        (2958465, dt.date(9999, 12, 31)),
    ],
)
def test_excel_serials(serial, expected):
    assert parse_partial_date(serial).as_date() == expected


@pytest.mark.parametrize(
    "value",
    [
        "31/02/1990",
        "29/02/2021",
        "29/02/1900",
        "00/08/2021",
        "01/13/2021",
        "13/2021",
        "0000",
        "2021-02-30",
        60,
        0,
        -1,
        2958466,
    ],
)
def test_impossible_dates(value):
    with pytest.raises(DateParseError) as error:
        parse_partial_date(value)
    assert error.value.code == "DATE_IMPOSSIBLE"


def test_day_always_comes_first():
    # A US-style date is not silently swapped into a different day.
    with pytest.raises(DateParseError) as error:
        parse_partial_date("13/25/2021")
    assert error.value.code == "DATE_IMPOSSIBLE"
    assert parse_partial_date("05/08/2021") == PartialDate(2021, 8, 5)
    assert parse_partial_date("29/02/2000") == PartialDate(2000, 2, 29)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "1/8/21",
        "01/08",
        "20210801",
        "01/08/2021 sáng",
        "ngày 1",
        "2021-08-01x",
        "123",
        True,
        float("inf"),
        ["01/08/2021"],
        object(),
    ],
)
def test_unreadable_dates(value):
    with pytest.raises(DateParseError) as error:
        parse_partial_date(value)
    assert error.value.code == "DATE_FORMAT"


def test_errors_speak_vietnamese_and_english_and_are_value_errors():
    with pytest.raises(ValueError) as error:
        parse_partial_date("31/02/1990")
    assert isinstance(error.value, DateParseError)
    assert "31/02/1990" in error.value.message_vi
    assert "không tồn tại" in error.value.message_vi
    assert "does not exist" in error.value.message_en
    with pytest.raises(DateParseError) as error:
        parse_partial_date("abc")
    assert error.value.message_vi.startswith("Không đọc được ngày")


def test_repeated_bad_values_raise_every_time():
    for _ in range(3):
        with pytest.raises(DateParseError):
            parse_partial_date("31/02/1990")


def test_full_date_for_vaccinations():
    assert parse_full_date("01/08/2021") == dt.date(2021, 8, 1)
    assert parse_full_date(44409) == dt.date(2021, 8, 1)
    for incomplete in ("08/2021", "2021", 2021):
        with pytest.raises(DateParseError) as error:
            parse_full_date(incomplete)
        assert error.value.code == "DATE_INCOMPLETE"
        assert "thiếu" in error.value.message_vi


def test_partial_date_display_and_conversion():
    assert str(PartialDate(2021, 8, 1)) == "01/08/2021"
    assert str(PartialDate(2021, 8)) == "08/2021"
    assert str(PartialDate(1950)) == "1950"
    assert PartialDate(2021, 8, 1).as_date() == dt.date(2021, 8, 1)
    assert PartialDate(2021, 8).as_date() is None
    assert PartialDate(1950).as_date() is None


def test_partial_date_refuses_impossible_values():
    with pytest.raises(ValueError):
        PartialDate(2021, None, 5)
    with pytest.raises(ValueError):
        PartialDate(2021, 2, 29)
    with pytest.raises(ValueError):
        PartialDate(2021, 0)


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)))
def test_any_date_written_either_way_or_as_a_serial_reads_back(day):
    expected = PartialDate(day.year, day.month, day.day)
    assert parse_partial_date(day.strftime("%d/%m/%Y")) == expected
    assert parse_partial_date(f"{day.day}/{day.month}/{day.year}") == expected
    assert parse_partial_date(day.isoformat()) == expected
    assert parse_partial_date(str(expected)) == expected
    serial = (day - dt.date(1899, 12, 30)).days
    if serial not in range(1800, 2200):
        assert parse_partial_date(serial) == expected


@given(st.text(max_size=30))
def test_text_either_parses_or_raises_a_date_error(text):
    try:
        parse_partial_date(text)
    except DateParseError as error:
        assert error.code in ("DATE_FORMAT", "DATE_IMPOSSIBLE")
