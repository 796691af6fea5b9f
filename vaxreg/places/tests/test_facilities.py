import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from vaxreg.places.models import Commune, Facility
from vaxreg.places.services import facilities_generate

pytestmark = pytest.mark.django_db


def _write_csv(tmp_path: Path, text: str, bom: bool = True) -> Path:
    path = tmp_path / "facilities.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def _load(path: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("facilities_load", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_bad_rows_are_reported_and_the_others_loaded(reference_data, tmp_path):
    path = _write_csv(
        tmp_path,
        "code,name,commune_code\n"
        "F001,Trạm Y tế phường Hồng Hà,00097\n"
        "F002,Cơ sở có mã xã sai,99999\n"
        "F003,Trạm Y tế phường Phúc Xá cũ,00001\n"
        "F004,Mã xã mất số 0,4\n"
        ",Không có mã,00004\n",
    )

    out, err = _load(path)

    assert "Dòng/Row 3: Mã xã 99999 không tồn tại / Commune code 99999 does not exist" in err
    assert "Dòng/Row 6: Thiếu mã cơ sở / Facility code is missing" in err
    assert "rows read 5: mới/new 3" in out
    assert "lỗi/rejected 2" in out
    loaded = {f.code: (f.commune_id, f.province_id) for f in Facility.objects.all()}
    assert loaded == {"F001": ("00097", "01"), "F003": ("00097", "01"), "F004": ("00004", "01")}


def test_loading_the_same_file_again_changes_nothing_and_a_changed_name_is_updated(reference_data, tmp_path):
    path = _write_csv(tmp_path, "code,name,commune_code\nF001,Trạm Y tế phường Hồng Hà,00097\n", bom=False)
    _load(path)
    out, _ = _load(path)
    assert "mới/new 0, cập nhật/updated 0, giữ nguyên/unchanged 1" in out

    path.write_text("Code,Name,Commune_Code\nF001,Trạm Y tế P. Hồng Hà,00097\n", encoding="utf-8")
    out, _ = _load(path)
    assert "cập nhật/updated 1" in out
    assert Facility.objects.get(code="F001").name == "Trạm Y tế P. Hồng Hà"


def test_a_code_twice_in_one_file_is_reported(reference_data, tmp_path):
    path = _write_csv(tmp_path, "code,name,commune_code\nF1,A,00097\nF1,B,00004\n")
    _, err = _load(path)
    assert "Dòng/Row 3" in err and "appears twice" in err
    assert Facility.objects.get(code="F1").name == "A"


def test_a_file_without_the_required_columns_is_refused(reference_data, tmp_path):
    path = _write_csv(tmp_path, "ma,ten\nF1,A\n")
    with pytest.raises(CommandError, match="Missing columns: code, name, commune_code"):
        _load(path)


def test_generated_demo_facilities_cover_every_commune_and_are_stable(reference_data):
    communes = Commune.objects.filter(province_id="46").count()

    first = facilities_generate(province_code="46", seed=1)
    again = facilities_generate(province_code="46", seed=1)

    assert len(first) == communes + 6
    assert [f.pk for f in first] == [f.pk for f in again]
    assert Facility.objects.filter(province_id="46").count() == communes + 6
    names = {f.code: f.name for f in first}
    assert names["BV4601"] == "Bệnh viện Đa khoa thành phố Huế"
    station = Facility.objects.get(code="TYT19942")
    assert station.name == "Trạm Y tế xã Phú Vang"
    assert station.province_id == "46"
