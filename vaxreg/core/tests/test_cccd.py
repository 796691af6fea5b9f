from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaxreg.core.cccd import (
    CCCD_PROVINCES,
    IdKind,
    build_cccd,
    cccd_birth_year_mismatch,
    cccd_gender_mismatch,
    cccd_province_known,
    decode_cccd,
    parse_id_number,
)
from vaxreg.people.models import IdType

provinces = st.sampled_from(sorted(CCCD_PROVINCES))
genders = st.sampled_from(["M", "F"])
twelve_digits = st.text(alphabet="0123456789", min_size=12, max_size=12)


def test_province_table_has_the_63_old_provinces():
    assert len(CCCD_PROVINCES) == 63
    assert CCCD_PROVINCES["001"] == "Hà Nội"
    assert CCCD_PROVINCES["079"] == "TP Hồ Chí Minh"
    assert CCCD_PROVINCES["096"] == "Cà Mau"
    # Codes of provinces that were split before 2004 were never used.
    assert "003" not in CCCD_PROVINCES and "097" not in CCCD_PROVINCES


def test_kinds_can_be_stored_as_the_person_id_type():
    assert {kind.value for kind in IdKind} == set(IdType.values)


@pytest.mark.parametrize(
    ("raw", "kind", "number", "repaired"),
    [
        ("001090012345", IdKind.CCCD, "001090012345", False),
        (" 001 090 012 345 ", IdKind.CCCD, "001090012345", False),
        ("001.090.012.345", IdKind.CCCD, "001090012345", False),
        ("001-090-012-345", IdKind.CCCD, "001090012345", False),
        ("'001090012345", IdKind.CCCD, "001090012345", False),  # Excel's "keep as text" quote
        ("CCCD: 001090012345", IdKind.CCCD, "001090012345", False),
        ("Số CMND 123456789", IdKind.CMND, "123456789", False),
        ("123456789", IdKind.CMND, "123456789", False),
        # Excel dropped the leading zeros: the zero-padded number starts with a province code.
        (1090012345, IdKind.CCCD, "001090012345", True),
        (79123456789, IdKind.CCCD, "079123456789", True),
        ("79123456789", IdKind.CCCD, "079123456789", True),
        ("1234567890", IdKind.CCCD, "001234567890", True),
        (1090012345.0, IdKind.CCCD, "001090012345", True),
        ("1090012345.0", IdKind.CCCD, "001090012345", True),
        (Decimal("1090012345"), IdKind.CCCD, "001090012345", True),
        ("1.090012345E9", IdKind.CCCD, "001090012345", True),
        ("7.9123456789E+10", IdKind.CCCD, "079123456789", True),
        ("1,090,012,345", IdKind.CCCD, "001090012345", True),
        ("１０９００１２３４５", IdKind.CCCD, "001090012345", True),  # full-width digits from a web form
        ("B1234567", IdKind.PASSPORT, "B1234567", False),
        ("c 123-4567", IdKind.PASSPORT, "C1234567", False),
        ("E12345678", IdKind.PASSPORT, "E12345678", False),
    ],
)
def test_parse_id_number_reads_what_facilities_send(raw, kind, number, repaired):
    parsed = parse_id_number(raw)
    assert (parsed.kind, parsed.number, parsed.repaired) == (kind, number, repaired)


@pytest.mark.parametrize("raw", [None, "", "   ", "\u200b", float("nan")])
def test_blank_ids_are_none(raw):
    parsed = parse_id_number(raw)
    assert parsed.kind is IdKind.NONE
    assert parsed.number == ""


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("99123456789", "99123456789"),  # 11 digits, padded prefix 099 is no province: not repaired
        ("12345678", "12345678"),
        ("1234567890123", "1234567890123"),
        ("ABCDE", "ABCDE"),
        ("1234567", "1234567"),  # digits only, no letter: not a passport either
        ("không có", "khôngcó"),
        ("chua co", "chuaco"),  # placeholders typed without diacritics are not passports
        ("KHONGRO", "KHONGRO"),
        ("1.09001E+11", "1.09001E+11"),  # Excel's truncated display: the hidden digits are lost
        (1.5, "1.5"),
        (-123456789, "-123456789"),
        (True, "True"),
    ],
)
def test_unusable_ids_are_invalid_with_the_cleaned_text(raw, number):
    parsed = parse_id_number(raw)
    assert parsed.kind is IdKind.INVALID
    assert parsed.number == number
    assert not parsed.repaired


def test_parsed_id_keeps_the_raw_text_for_the_repair_record():
    assert parse_id_number(1090012345).raw == "1090012345"
    assert parse_id_number("CCCD 001090012345").raw == "CCCD 001090012345"


def test_int_and_float_of_the_same_value_are_not_confused_by_the_cache():
    assert parse_id_number(1090012345).raw == "1090012345"
    assert parse_id_number(1090012345.0).raw == "1090012345.0"
    assert parse_id_number(True).kind is IdKind.INVALID
    assert parse_id_number(1).kind is IdKind.INVALID


def test_unhashable_input_does_not_break_the_row():
    assert parse_id_number(["001090012345"]).kind is IdKind.INVALID


def test_decode_reads_province_gender_and_birth_year():
    info = decode_cccd("079303001234")
    assert info is not None
    assert info.province_code == "079"
    assert info.province_name == "TP Hồ Chí Minh"
    assert info.gender == "F"
    assert info.birth_year == 2003
    assert info.serial == "001234"
    assert decode_cccd("001090012345").birth_year == 1990
    assert decode_cccd("001090012345").gender == "M"


@pytest.mark.parametrize(
    ("digit", "century", "gender"),
    [
        (0, 1900, "M"),
        (1, 1900, "F"),
        (2, 2000, "M"),
        (3, 2000, "F"),
        (4, 2100, "M"),
        (5, 2100, "F"),
        (6, 2200, "M"),
        (7, 2200, "F"),
        (8, 2300, "M"),
        (9, 2300, "F"),
    ],
)
def test_century_and_gender_digit(digit, century, gender):
    info = decode_cccd(f"001{digit}45123456")
    assert (info.birth_year, info.gender) == (century + 45, gender)


@pytest.mark.parametrize(
    "number", ["", "12345678901", "1234567890123", "00109001234a", "１２３４５６７８９０１２", None]
)
def test_decode_rejects_anything_but_twelve_digits(number):
    assert decode_cccd(number) is None


def test_unknown_province_prefix_still_decodes():
    info = decode_cccd("099090012345")
    assert info is not None and info.province_name is None
    assert not cccd_province_known("099090012345")
    assert cccd_province_known("001090012345")
    assert not cccd_province_known("123456789")


def test_mismatch_checks_catch_wrong_personal_information():
    number = build_cccd(province_code="001", gender="F", birth_year=1985, serial=1)
    assert cccd_gender_mismatch(number, "M")
    assert not cccd_gender_mismatch(number, "F")
    assert cccd_birth_year_mismatch(number, 1958)
    assert not cccd_birth_year_mismatch(number, 1985)
    # Without a stated value, or with "other", there is nothing to contradict.
    assert not cccd_gender_mismatch(number, "")
    assert not cccd_gender_mismatch(number, "O")
    assert not cccd_birth_year_mismatch(number, None)
    # A CMND carries no gender or year.
    assert not cccd_gender_mismatch("123456789", "M")
    assert not cccd_birth_year_mismatch("123456789", 1900)


def test_build_cccd_rejects_what_a_cccd_cannot_hold():
    with pytest.raises(ValueError):
        build_cccd(province_code="1", gender="M", birth_year=1990, serial=1)
    with pytest.raises(ValueError):
        build_cccd(province_code="001", gender="O", birth_year=1990, serial=1)
    with pytest.raises(ValueError):
        build_cccd(province_code="001", gender="M", birth_year=1899, serial=1)
    with pytest.raises(ValueError):
        build_cccd(province_code="001", gender="M", birth_year=1990, serial=1_000_000)


@given(provinces, genders, st.integers(1900, 2299), st.integers(0, 999_999))
def test_build_then_decode_round_trips(province, gender, year, serial):
    number = build_cccd(province_code=province, gender=gender, birth_year=year, serial=serial)
    info = decode_cccd(number)
    assert info is not None
    decoded = (info.province_code, info.gender, info.birth_year, int(info.serial))
    assert decoded == (province, gender, year, serial)
    assert info.province_name == CCCD_PROVINCES[province]
    parsed = parse_id_number(number)
    assert (parsed.kind, parsed.number, parsed.repaired) == (IdKind.CCCD, number, False)


@settings(max_examples=300)
@given(twelve_digits)
def test_every_twelve_digit_number_decodes_and_agrees_with_itself(number):
    info = decode_cccd(number)
    assert info is not None
    assert 1900 <= info.birth_year <= 2399
    assert info.gender in ("M", "F")
    assert not cccd_gender_mismatch(number, info.gender)
    assert not cccd_birth_year_mismatch(number, info.birth_year)
    assert cccd_gender_mismatch(number, "F" if info.gender == "M" else "M")
    assert parse_id_number(number).kind is IdKind.CCCD


@settings(max_examples=300)
@given(
    st.one_of(
        twelve_digits.map(lambda n: "0" + n[1:]),
        st.builds(
            lambda p, rest: p + rest, provinces, st.text(alphabet="0123456789", min_size=9, max_size=9)
        ),
    )
)
def test_lost_leading_zeros_are_restored_exactly_when_the_prefix_is_a_province(number):
    stripped = number.lstrip("0")
    parsed = parse_id_number(stripped)
    if len(stripped) in (10, 11) and number[:3] in CCCD_PROVINCES:
        assert (parsed.kind, parsed.number, parsed.repaired) == (IdKind.CCCD, number, True)
    else:
        assert not parsed.repaired
    # The same holds for the number Excel stores.
    if stripped:
        from_cell = parse_id_number(int(stripped))
        assert from_cell.kind == parsed.kind
        assert (from_cell.number, from_cell.repaired) == (parsed.number, parsed.repaired)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_nine_digits_are_cmnd(number):
    parsed = parse_id_number(number)
    assert (parsed.kind, parsed.number, parsed.repaired) == (IdKind.CMND, number, False)


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet="0123456789 .-,eE+'ABCxyz"),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.decimals(),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_junk_never_raises_and_always_gets_a_kind(raw):
    parsed = parse_id_number(raw)
    assert parsed.kind in IdKind
    if parsed.kind is IdKind.CCCD:
        assert len(parsed.number) == 12 and parsed.number.isdigit()
    if parsed.kind is IdKind.CMND:
        assert len(parsed.number) == 9 and parsed.number.isdigit()
