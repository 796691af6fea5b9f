import datetime as dt

import pytest
from django.urls import reverse

from vaxreg.core.models import AuditEvent
from vaxreg.corrections.services import dose_correct
from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.vaccinations.models import DaySignOff, Dose
from vaxreg.vaccinations.services import SignOffRefused, day_sign_off

DAY = dt.date(2021, 8, 1)  # the world's first doses, at HN001 and HN002


def test_the_facility_signs_off_a_day_once(world):
    head = world.users["facility_hn1"]
    signed = day_sign_off(actor=head, facility_id=head.facility_id, day=DAY)
    assert signed.doses == 2  # Đào's and Hoa's first doses at HN001
    assert set(
        Dose.objects.filter(facility_id=head.facility_id, vaccination_date=DAY).values_list(
            "signed_off", flat=True
        )
    ) == {True}
    assert not Dose.objects.filter(facility=world.facilities["HN002"], signed_off=True).exists()
    assert AuditEvent.objects.filter(action="day_signed_off", actor=head).exists()
    with pytest.raises(SignOffRefused, match="already signed off"):
        day_sign_off(actor=head, facility_id=head.facility_id, day=DAY)


@pytest.mark.parametrize("user_key", ["facility_hcm", "commune_badinh", "province_hn", "national"])
def test_nobody_else_signs_off_a_facilitys_day(world, user_key):
    with pytest.raises(SignOffRefused):
        day_sign_off(actor=world.users[user_key], facility_id=world.facilities["HN001"].pk, day=DAY)
    assert not DaySignOff.objects.exists()


def test_a_signed_off_dose_changes_by_correction_only(world, tmp_path):
    head = world.users["facility_hn1"]
    day_sign_off(actor=head, facility_id=head.facility_id, day=DAY)
    dose = Dose.objects.get(source_record_id="dao_hn-0")
    text = (
        "Họ và tên,Ngày sinh,Giới tính,Số CCCD/CMND,Số điện thoại,Địa chỉ,Mã xã,Mã cơ sở tiêm,Mã bản ghi,Ngày tiêm,Mũi số,Tên vắc xin,Số lô\n"
        "Nguyễn Thị Đào,15/01/1990,Nữ,001190012345,0912345601,,00004,HN001,dao_hn-0,01/08/2021,1,AZ,OTHER-LOT\n"
    )
    path = tmp_path / "again.csv"
    path.write_text(text, encoding="utf-8")
    batch = import_batch_run(batch_id=import_batch_create(file_name=path.name, path=path).pk)
    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (1, 0, 1)
    assert batch.rejected_rows.get().reasons[0]["code"] == "DOSE_SIGNED_OFF"
    assert Dose.objects.get(pk=dose.pk).lot_number == "LOT-dao_hn-0"
    dose_correct(
        dose_id=dose.pk,
        expected_version=1,
        changes={"lot_number": "OTHER-LOT"},
        reason="Sai số lô khi nhập",
        actor_id=head.pk,
    )
    assert Dose.objects.get(pk=dose.pk).lot_number == "OTHER-LOT"


def test_the_sign_off_page(client, world):
    client.force_login(world.users["facility_hn1"])
    page = client.get(reverse("web:sign_off")).content.decode()
    assert "01/08/2021" in page and "Chưa ký" in page
    client.post(reverse("web:sign_off"), {"day": "2021-08-01"})
    page = client.get(reverse("web:sign_off")).content.decode()
    assert "Đã ký duyệt" in page and "facility_hn1" in page
    client.force_login(world.users["commune_badinh"])
    assert client.get(reverse("web:sign_off")).status_code == 403
