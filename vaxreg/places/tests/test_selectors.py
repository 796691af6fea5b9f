import pytest

from vaxreg.places import selectors
from vaxreg.places.services import FacilityInput, facility_upsert_many

pytestmark = pytest.mark.django_db


def test_commune_codes_resolve_to_the_2025_commune_and_keep_the_old_code(reference_data):
    codes = selectors.commune_code_map()

    assert codes["00097"] == ("00097", None)  # a 2025 code
    assert codes["00001"] == ("00097", "00001")  # old Phúc Xá → Hồng Hà
    assert codes["00004"] == ("00004", None)  # in both tables: read as 2025
    assert codes["97"] == codes["097"] == ("00097", None)  # leading zeros lost in Excel
    assert codes["1"] == ("00097", "00001")
    assert "99999" not in codes


def test_facility_map_finds_codes_as_typed(reference_data):
    facility_upsert_many(rows=[FacilityInput(code="hn-001", name="Trạm Y tế", commune_code="00097")])

    refs = selectors.facility_map()

    assert refs["hn-001"] == refs["HN-001"]
    assert (refs["HN-001"].province_code, refs["HN-001"].commune_code) == ("01", "00097")


def test_province_lists(reference_data):
    assert [p.name for p in selectors.legacy_province_for_new("46")] == ["Thừa Thiên Huế"]
    assert {p.cccd_code for p in selectors.legacy_province_for_new("79")} == {"074", "077", "079"}
    communes = selectors.province_communes("46")
    assert communes and all(c.province_id == "46" for c in communes)
    facility_upsert_many(rows=[FacilityInput(code="X1", name="Trạm", commune_code=communes[0].code)])
    assert [f.code for f in selectors.province_facilities("46")] == ["X1"]
    assert selectors.province_facilities("01") == []
