import io

import pytest
from django.core.management import call_command

from vaxreg.core.models import AuditEvent
from vaxreg.places import sources
from vaxreg.places.models import Commune, LegacyCommune, LegacyDistrict, LegacyProvince, Province
from vaxreg.places.services import reference_load

pytestmark = pytest.mark.django_db


def test_reference_data_has_the_2025_units_and_the_63_old_provinces(reference_data):
    assert Province.objects.count() == 34
    assert Commune.objects.count() == 3321
    assert LegacyProvince.objects.count() == 63
    assert LegacyDistrict.objects.count() > 690
    assert LegacyCommune.objects.count() > 10_000
    assert set(Commune.objects.values_list("kind", flat=True)) == {"xa", "phuong", "dac_khu"}


def test_hue_keeps_code_46_and_takes_in_thua_thien_hue(reference_data):
    hue = Province.objects.get(code="46")
    assert hue.short_name == "Huế"
    assert hue.name_key == "thanh pho hue"
    old = LegacyProvince.objects.get(code="46")
    assert (old.name, old.cccd_code, old.new_province_id) == ("Thừa Thiên Huế", "046", "46")


def test_merged_provinces_point_to_the_province_that_took_them_in(reference_data):
    new_of = dict(LegacyProvince.objects.values_list("cccd_code", "new_province_id"))
    assert new_of["002"] == "08"  # Hà Giang → Tuyên Quang
    assert new_of["074"] == "79"  # Bình Dương → TP Hồ Chí Minh
    assert new_of["049"] == "48"  # Quảng Nam → Đà Nẵng
    assert None not in new_of.values()


def test_cccd_prefixes_follow_the_specification_list(reference_data):
    assert sources.cccd_provinces_read()["079"] == "TP Hồ Chí Minh"
    assert LegacyProvince.objects.get(cccd_code="001").name == "Hà Nội"
    assert all(p.cccd_code == "0" + p.code for p in LegacyProvince.objects.all())


def test_old_communes_map_to_the_commune_they_were_merged_into(reference_data):
    phuc_xa = LegacyCommune.objects.select_related("district").get(code="00001")
    assert (phuc_xa.name, phuc_xa.district.name) == ("Phường Phúc Xá", "Quận Ba Đình")
    assert Commune.objects.get(legacy_communes__code="00001").name == "Phường Hồng Hà"
    # Xã Phú Gia of old Thừa Thiên Huế went into the new Xã Phú Vang of Huế.
    assert Commune.objects.get(legacy_communes__code="19954").name == "Xã Phú Vang"
    assert not LegacyCommune.objects.filter(new_commune__isnull=True).exists()


def test_loading_again_changes_nothing_and_prints_a_summary(reference_data):
    before = [m.objects.count() for m in (Province, Commune, LegacyProvince, LegacyDistrict, LegacyCommune)]
    audited = AuditEvent.objects.count()
    out = io.StringIO()

    call_command("reference_load", stdout=out)

    after = [m.objects.count() for m in (Province, Commune, LegacyProvince, LegacyDistrict, LegacyCommune)]
    assert after == before
    assert AuditEvent.objects.count() == audited
    text = out.getvalue()
    assert (
        "communes                   3321  (mới/new 0, cập nhật/updated 0, giữ nguyên/unchanged 3321)" in text
    )
    assert "old communes without a 2025 commune: 0" in text
    assert "vaccines" in text


def test_a_changed_unit_is_put_right_by_the_next_load(reference_data):
    Commune.objects.filter(code="00097").update(name="Phường Sai Tên")
    LegacyCommune.objects.filter(code="00001").update(new_commune=None)

    summary = reference_load()

    assert Commune.objects.get(code="00097").name == "Phường Hồng Hà"
    assert LegacyCommune.objects.get(code="00001").new_commune_id == "00097"
    assert summary["communes"].updated == 1
    assert summary["legacy_communes"].updated == 1
    event = AuditEvent.objects.filter(action=AuditEvent.Action.REFERENCE_LOADED).latest("id")
    assert event.detail["communes"] == {"created": 0, "updated": 1, "unchanged": 3320}
