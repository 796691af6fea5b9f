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
