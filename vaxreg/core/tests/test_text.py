import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from vaxreg.core.text import fold, has_vietnamese_diacritics, normalize_text


def test_fold_removes_diacritics_and_maps_d_with_stroke():
    assert fold("Nguyễn Thị Đào") == "nguyen thi dao"
    assert fold("  ĐẶNG   văn  Ánh ") == "dang van anh"


def test_normalize_text_composes_decomposed_input():
    decomposed = "Nguye\u0302\u0303n"
    assert normalize_text(decomposed) == "Nguyễn"
    assert len(normalize_text(decomposed)) == 6


def test_diacritics_detection():
    assert has_vietnamese_diacritics("Trần Văn Bình")
    assert not has_vietnamese_diacritics("Tran Van Binh")


@given(
    st.text(
        alphabet=st.sampled_from(
            "aĐđ ễ\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000\ufeffx"
        ),
        max_size=30,
    )
)
def test_every_run_of_white_space_becomes_one_space_and_the_ends_are_trimmed(text: str) -> None:
    expected = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()

    assert normalize_text(text) == expected
    assert fold(text) == re.sub(r"\s+", " ", fold_reference(text)).strip()


@given(
    st.text(alphabet=st.sampled_from("aAđĐeê ễ\u0301\u0303\u034f\u200bΣσİ\t\xa0\u2000\u2001x"), max_size=30)
    | st.text(max_size=30)
)
def test_folding_and_normalising_agree_with_their_definitions_on_any_text(text: str) -> None:
    """The fast paths (text already folded, words folded once) give what the plain definitions give: combining
    marks alone, marks after a space, the grapheme joiner (not a combining mark), unprintable characters that
    are not white space, Greek final sigma, spaces that decompose to other spaces."""
    assert normalize_text(text) == " ".join(unicodedata.normalize("NFC", text).split())
    assert fold(text) == " ".join(fold_reference(text).split())


def fold_reference(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
