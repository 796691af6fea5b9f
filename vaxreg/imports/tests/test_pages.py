"""The import page: upload, follow the batch, read its report; all within the user's reach."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from vaxreg.core.models import AuditEvent
from vaxreg.imports.models import ImportBatch

pytestmark = pytest.mark.django_db

HEADER = (
    "Họ và tên,Ngày sinh,Giới tính,Số CCCD/CMND,Số điện thoại,Mã xã,"
    "Mã cơ sở tiêm,Mã bản ghi,Ngày tiêm,Mũi số,Tên vắc xin,Số lô"
)
ROWS = [
    "Hoàng Văn Nam,12/03/1980,Nam,1080012345,0912000001,00004,HN001,R-1,02/08/2021,1,AstraZeneca,A1",
    "Hoàng Văn Nam,12/03/1980,Nam,1080012345,0912000001,00004,HN001,R-2,01/10/2021,2,AstraZeneca,A2",
    "Đỗ Thị Lan,1975,Nữ,001175000111,,00004,HN001,,05/08/2021,1,AstraZeneca,A3",  # no source record id
]


def csv_upload(rows=ROWS, name="tiem-bachmai.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, ("\n".join([HEADER, *rows]) + "\n").encode("utf-8"), content_type="text/csv"
    )


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def login(client, world, key):
    client.force_login(world.users[key])
    return client


def test_facility_user_has_its_facility_preset_and_locked(client, world):
    html = login(client, world, "facility_hn1").get(reverse("web:imports")).content.decode()
    assert 'value="HN001"' in html
    assert "disabled" in html.split('name="facility_code"')[1].split(">")[0]


def test_upload_runs_the_import_and_shows_the_report(client, world):
    login(client, world, "facility_hn1")
    response = client.post(reverse("web:imports"), {"file": csv_upload()})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("web:import_detail", args=[batch.pk])
    assert batch.uploaded_by == world.users["facility_hn1"]
    assert batch.facility.code == "HN001"

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE
    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (3, 2, 1)
    html = client.get(response.url).content.decode()
    assert "tiem-bachmai.csv" in html and "Hoàn tất" in html
    assert "Số dòng đã đọc 3 = đã lưu 2 + bị loại 1." in html
    assert "<td>4</td>" in html  # the rejected row's number in the file (header is row 1)

    listing = client.get(reverse("web:imports")).content.decode()
    assert "tiem-bachmai.csv" in listing
    assert 'http-equiv="refresh"' not in listing  # nothing left running


def test_report_in_english_shows_english_reasons(client, world):
    login(client, world, "facility_hn1")
    client.post(reverse("web:imports"), {"file": csv_upload()})
    batch = ImportBatch.objects.get()
    reason = batch.rejected_rows.get().reasons[0]
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("web:import_detail", args=[batch.pk])).content.decode()
    assert reason["message_en"] in html
    assert reason["message_vi"] not in html


def test_rejected_rows_download_csv_and_xlsx(client, world):
    login(client, world, "facility_hn1")
    client.post(reverse("web:imports"), {"file": csv_upload()})
    batch = ImportBatch.objects.get()
    csv_response = client.get(reverse("web:import_rejected_download", args=[batch.pk, "csv"]))
    assert csv_response.status_code == 200
    assert "attachment" in csv_response["Content-Disposition"]
    assert "Đỗ Thị Lan" in csv_response.content.decode("utf-8-sig")
    xlsx_response = client.get(reverse("web:import_rejected_download", args=[batch.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).active
    assert any("Đỗ Thị Lan" in [str(c) for c in row] for row in sheet.iter_rows(values_only=True))
    assert client.get(reverse("web:import_rejected_download", args=[batch.pk, "pdf"])).status_code == 404


def test_a_facility_cannot_post_another_facility_code(client, world):
    login(client, world, "facility_hn1")
    client.post(reverse("web:imports"), {"file": csv_upload(), "facility_code": "HCM01"})
    # The locked field ignores what was posted: the batch is the user's own facility's.
    assert ImportBatch.objects.get().facility.code == "HN001"


def test_unknown_facility_code_is_refused_with_a_message(client, world):
    login(client, world, "national")
    response = client.post(reverse("web:imports"), {"file": csv_upload(), "facility_code": "NOPE"})
    assert response.status_code == 200
    assert "NOPE" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_only_csv_and_xlsx_are_accepted(client, world):
    login(client, world, "national")
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(reverse("web:imports"), {"file": upload})
    assert "Chỉ nhập được tệp .csv và .xlsx." in response.content.decode()
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize("user_key", ["commune_badinh", "police_badinh"])
def test_roles_that_do_not_import_are_refused(client, world, user_key):
    login(client, world, user_key)
    assert client.get(reverse("web:imports")).status_code == 403
    assert client.post(reverse("web:imports"), {"file": csv_upload()}).status_code == 403
    assert not ImportBatch.objects.exists()


def test_batches_of_other_units_are_invisible(client, world):
    login(client, world, "facility_hn1")
    client.post(reverse("web:imports"), {"file": csv_upload()})
    batch = ImportBatch.objects.get()
    for other in ("facility_hcm", "province_hcm"):
        other_client = login(type(client)(), world, other)
        assert other_client.get(reverse("web:import_detail", args=[batch.pk])).status_code == 404
        assert (
            other_client.get(reverse("web:import_rejected_download", args=[batch.pk, "csv"])).status_code
            == 404
        )
        assert "tiem-bachmai.csv" not in other_client.get(reverse("web:imports")).content.decode()
    for allowed in ("province_hn", "national"):
        allowed_client = login(type(client)(), world, allowed)
        assert allowed_client.get(reverse("web:import_detail", args=[batch.pk])).status_code == 200


def test_anonymous_cannot_upload_or_read_batches(client, world):
    assert client.post(reverse("web:imports"), {"file": csv_upload()}).status_code == 302
    assert not ImportBatch.objects.exists()
    assert client.get(reverse("web:import_detail", args=[1])).status_code == 302


def test_running_batch_page_refreshes_itself(client, world):
    login(client, world, "national")
    from vaxreg.core import clock

    batch = ImportBatch.objects.create(
        file_name="big.csv",
        uploaded_by=world.users["national"],
        status=ImportBatch.Status.RUNNING,
        progress_rows=1200,
        created_at=clock.now(),
    )
    html = client.get(reverse("web:import_detail", args=[batch.pk])).content.decode()
    assert 'http-equiv="refresh"' in html
    assert "1200 dòng" in html
    assert 'http-equiv="refresh"' in client.get(reverse("web:imports")).content.decode()


def _interrupted_batch(world) -> ImportBatch:
    """A batch whose import process died: sent, marked running, then closed by the worker's periodic job."""
    from vaxreg.imports.services import import_batch_create, import_batches_interrupted_close

    upload = csv_upload()
    batch = import_batch_create(
        file_name="tiem-bachmai.csv",
        content=upload.read(),
        uploaded_by=world.users["facility_hn1"],
        facility_code="HN001",
    )
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    assert import_batches_interrupted_close() == 1
    batch.refresh_from_db()
    return batch


def test_an_interrupted_import_is_run_again_from_its_page(client, world):
    from vaxreg.core.models import AuditEvent

    batch = _interrupted_batch(world)
    login(client, world, "facility_hn1")
    page = reverse("web:import_detail", args=[batch.pk])
    html = client.get(page).content.decode()
    assert "Lỗi" in html and "không dòng nào của tệp được lưu" in html and "Chạy lại lần nhập này" in html

    response = client.post(reverse("web:import_run_again", args=[batch.pk]))

    assert response.status_code == 302 and response.url == page
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE and (batch.rows_stored, batch.rows_rejected) == (2, 1)
    assert batch.message == ""
    event = AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT_STARTED, object_id=str(batch.pk)).last()
    assert (
        event.actor == world.users["facility_hn1"]
        and "no row of the file was stored" in event.detail["run_again_after"]
    )
    html = client.get(page).content.decode()
    assert "Hoàn tất" in html and "Chạy lại lần nhập này" not in html
    # A finished import is not run again.
    html = client.post(reverse("web:import_run_again", args=[batch.pk]), follow=True).content.decode()
    assert "Chỉ chạy lại được một lần nhập bị lỗi." in html


def test_an_import_whose_file_changed_is_not_run_again(client, world):
    from pathlib import Path

    batch = _interrupted_batch(world)
    Path(batch.stored_path).write_bytes(b"other content")
    login(client, world, "facility_hn1")
    html = client.post(reverse("web:import_run_again", args=[batch.pk]), follow=True).content.decode()
    assert "đã bị thay đổi từ khi tải lên" in html
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED


def test_only_who_may_import_the_batch_can_run_it_again(client, world):
    batch = _interrupted_batch(world)
    url = reverse("web:import_run_again", args=[batch.pk])
    assert client.post(url).status_code == 302 and "/login/" in client.post(url).url  # anonymous
    for other in ("facility_hcm", "province_hcm"):
        assert login(type(client)(), world, other).post(url).status_code == 404
    for no_imports in ("commune_badinh", "police_badinh"):
        assert login(type(client)(), world, no_imports).post(url).status_code == 403
    assert login(type(client)(), world, "facility_hn1").get(url).status_code == 405
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED
    assert login(type(client)(), world, "province_hn").post(url).status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE


def test_the_rejected_rows_page_masks_the_id_and_says_the_download_holds_it(client, world):
    login(client, world, "facility_hn1")
    client.post(reverse("web:imports"), {"file": csv_upload()})
    batch = ImportBatch.objects.get()
    html = client.get(reverse("web:import_detail", args=[batch.pk])).content.decode()
    assert "001175000111" not in html  # the rejected row's CCCD
    assert "Số CCCD/CMND: •••••••••111" in html and "Đỗ Thị Lan" in html
    assert "số CCCD/CMND đầy đủ" in html and "ghi nhật ký" in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_download_of_the_rejected_rows_is_an_audited_full_id_read(client, world, fmt):
    login(client, world, "facility_hn1")
    client.post(reverse("web:imports"), {"file": csv_upload()})
    batch = ImportBatch.objects.get()
    reads = AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ)
    assert not reads.exists()
    for _ in range(2):
        response = client.get(reverse("web:import_rejected_download", args=[batch.pk, fmt]))
        assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert [
        (r.actor_id, r.object_type, r.object_id, r.detail["rows"], r.detail["format"]) for r in reads
    ] == [(world.users["facility_hn1"].pk, "import_batch", str(batch.pk), 1, fmt)] * 2
    # The file keeps the full values, so that the rows can be corrected and sent again.
    if fmt == "csv":
        assert "001175000111" in response.content.decode("utf-8-sig")
    else:
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert any("001175000111" in [str(c) for c in row] for row in sheet.iter_rows(values_only=True))
