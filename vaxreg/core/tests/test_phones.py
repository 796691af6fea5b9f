import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from vaxreg.core.phones import _national, _national_by_parsing, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "0912345678",
        " 0912 345 678 ",
        "0912.345.678",
        "091-234-5678",
        "(+84) 912 345 678",
        "+84912345678",
        "+84 (0) 912 345 678",
        "84912345678",
        "0084912345678",
        "'0912345678",
        "０９１２３４５６７８",
        # Excel dropped the leading zero of a number typed without quotes.
        "912345678",
        912345678,
        912345678.0,
        "912345678.0",
        84912345678,
    ],
)
def test_one_national_form_for_every_way_of_typing_a_mobile(raw):
    assert normalize_phone(raw) == ("0912345678", True)


@pytest.mark.parametrize("raw", ["0862345678", "0352345678", "0592345678", "0772345678", "849123456"])
def test_current_mobile_prefixes_are_valid(raw):
    national, valid = normalize_phone(raw)
    assert valid and len(national) == 10 and national.startswith("0")


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("0123456789", "0123456789"),  # no such prefix since the 2018 renumbering
        ("091234567", "091234567"),  # a digit short
        ("09123456789", "09123456789"),  # a digit too many
        ("02438251234", "02438251234"),  # a Hà Nội landline has 11 digits: not the 10-digit form
        ("+1 650 253 0000", "+16502530000"),  # valid, but not Vietnamese
        ("1900 1234", "19001234"),  # hotline, not a person's phone
        ("không có", "khôngcó"),
        ("0912345678 / 0987654321", "0912345678/0987654321"),  # two numbers are kept as written
        (1.5, "1.5"),
    ],
)
def test_invalid_numbers_keep_their_cleaned_text(raw, cleaned):
    assert normalize_phone(raw) == (cleaned, False)


@pytest.mark.parametrize("raw", [None, "", "  ", float("nan")])
def test_blank_phone(raw):
    assert normalize_phone(raw) == ("", False)


def test_unhashable_input_does_not_break_the_row():
    assert normalize_phone(["0912345678"])[1] is False


@given(
    st.sampled_from(
        [
            "32",
            "33",
            "34",
            "35",
            "36",
            "37",
            "38",
            "39",
            "86",
            "96",
            "97",
            "98",
            "88",
            "91",
            "94",
            "81",
            "82",
            "83",
            "84",
            "85",
            "70",
            "76",
            "77",
            "78",
            "79",
            "89",
            "90",
            "93",
        ]
    ),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
)
def test_any_number_reads_the_same_in_every_notation(prefix, rest):
    national = f"0{prefix}{rest}"
    expected = normalize_phone(national)
    # Not every block of a prefix is allocated, so validity comes from phonenumbers' metadata; what must
    # hold is that the notation never changes the answer.
    assert expected[0] == national
    for raw in (f"+84{prefix}{rest}", f"84{prefix}{rest}", f"0084 {prefix} {rest}", int(f"{prefix}{rest}")):
        if expected[1]:
            assert normalize_phone(raw) == expected
        else:
            assert normalize_phone(raw)[1] is False


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.none()))
def test_junk_never_raises(raw):
    national, valid = normalize_phone(raw)
    assert isinstance(national, str)
    assert not valid or (len(national) == 10 and national.isdigit())


@settings(max_examples=300)
@given(
    st.sampled_from(["", "0", "84", "+84", "0084", "00", "+", "8", "1"]),
    st.text(alphabet="0123456789", min_size=7, max_size=11),
)
def test_the_shortcut_for_common_shapes_agrees_with_phonenumbers_parse(prefix, digits):
    # The usual shapes skip phonenumbers.parse for speed; the answer must be the one parsing gives.
    assert _national(prefix + digits) == _national_by_parsing(prefix + digits)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda d: d[0] != "0"))
def test_valid_means_a_valid_vietnamese_mobile_or_landline_for_phonenumbers(digits):
    national, valid = normalize_phone("0" + digits)
    number = phonenumbers.parse("0" + digits, "VN")
    expected = phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    assert valid == expected
