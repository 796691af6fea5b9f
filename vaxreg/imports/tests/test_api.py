"""The imports API: multipart upload with CSRF, status and counts, rejected rows; scoped to the uploader."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from vaxreg.imports.models import ImportBatch
from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db

CSV = (
    "Họ và tên,Ngày sinh,Giới tính,Số CCCD/CMND,Mã cơ sở tiêm,Mã bản ghi,Ngày tiêm,Mũi số,Tên vắc xin\n"
    "Vũ Văn Hải,1960,Nam,079060000123,HCM01,S-1,03/09/2021,1,AstraZeneca\n"
    "Vũ Văn Hải,1960,Nam,079060000123,HCM01,S-2,,2,AstraZeneca\n"
).encode()


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(name: str = "cho-ray.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, CSV, content_type="text/csv")


def csrf_client(world: World, user_key: str) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users[user_key])
    client.get("/login/")  # any page with a form sets the CSRF cookie
    client.get("/")
    return client, client.cookies["csrftoken"].value


def test_post_without_csrf_token_is_refused(world):
    client, _token = csrf_client(world, "facility_hcm")
    response = client.post("/api/imports", {"file": upload()})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert not ImportBatch.objects.exists()


def test_anonymous_post_is_401(world):
    response = Client().post("/api/imports", {"file": upload()})
    assert response.status_code in (401, 403)
    assert not ImportBatch.objects.exists()


def test_upload_queues_a_batch_and_reports_it(world):
    client, token = csrf_client(world, "facility_hcm")
    response = client.post("/api/imports", {"file": upload()}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    batch_id = response.json()["id"]
    assert response.json()["facility_code"] == "HCM01"

    status = client.get(f"/api/imports/{batch_id}").json()
    assert status["status"] == "done"
    assert (status["rows_read"], status["rows_stored"], status["rows_rejected"]) == (2, 1, 1)
    assert status["persons_created"] == 1 and status["doses_created"] == 1

    rejected = client.get(f"/api/imports/{batch_id}/rejected").json()
    assert rejected["total"] == 1
    row = rejected["rows"][0]
    assert row["row_number"] == 3
    assert row["reasons"][0]["message_vi"] and row["reasons"][0]["message_en"]
    assert row["raw"]["Mã bản ghi"] == "S-2"


def test_a_facility_naming_another_facility_gets_a_bilingual_refusal(world):
    client, token = csrf_client(world, "facility_hcm")
    response = client.post(
        "/api/imports", {"file": upload(), "facility_code": "HN001"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "forbidden" and "HCM01" in body["message_vi"] and body["message_en"]
    assert not ImportBatch.objects.exists()


def test_a_role_that_does_not_import_is_forbidden_and_an_unknown_facility_refused(world):
    client, token = csrf_client(world, "commune_badinh")
    response = client.post("/api/imports", {"file": upload()}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 403 and response.json()["message_vi"]
    client, token = csrf_client(world, "province_hn")
    unknown = client.post(
        "/api/imports", {"file": upload(), "facility_code": "ZZ999"}, HTTP_X_CSRFTOKEN=token
    )
    assert (unknown.status_code, unknown.json()["code"]) == (400, "import_refused")
    assert not ImportBatch.objects.exists()


def test_batches_are_invisible_outside_the_uploaders_reach(world):
    client, token = csrf_client(world, "facility_hcm")
    batch_id = client.post("/api/imports", {"file": upload()}, HTTP_X_CSRFTOKEN=token).json()["id"]
    for user_key in ("facility_hn1", "province_hn", "commune_badinh", "police_badinh"):
        other = Client()
        other.force_login(world.users[user_key])
        for path in (f"/api/imports/{batch_id}", f"/api/imports/{batch_id}/rejected"):
            response = other.get(path)
            assert response.status_code == 404, (user_key, path)
            assert response.json()["message_en"]
    for user_key in ("province_hcm", "national"):
        other = Client()
        other.force_login(world.users[user_key])
        assert other.get(f"/api/imports/{batch_id}").status_code == 200


def test_anonymous_reads_of_batches_are_401(client, world):
    assert client.get("/api/imports/1").status_code == 401
    assert client.get("/api/imports/1/rejected").status_code == 401


def test_rejected_rows_show_the_id_column_masked(world):
    client, token = csrf_client(world, "facility_hcm")
    batch_id = client.post("/api/imports", {"file": upload()}, HTTP_X_CSRFTOKEN=token).json()["id"]
    response = client.get(f"/api/imports/{batch_id}/rejected")
    assert "079060000123" not in response.content.decode()
    row = response.json()["rows"][0]
    assert row["raw"]["Số CCCD/CMND"] == "•••••••••123"
    assert row["raw"]["Họ và tên"] == "Vũ Văn Hải" and row["raw"]["Mã bản ghi"] == "S-2"
