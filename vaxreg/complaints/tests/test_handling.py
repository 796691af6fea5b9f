"""What each handler action does to the complaint and the records, as the handler and the citizen see it."""

import datetime as dt
import html
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.complaints.common import ComplaintRefused
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Attachment, Complaint, ComplaintState, Notice
from vaxreg.complaints.services import ComplaintChanged, complaint_defer, complaint_reject
from vaxreg.core import clock
from vaxreg.core.models import AuditEvent, ChangeRecord
from vaxreg.people.models import Person
from vaxreg.testing.world import World, person_make
from vaxreg.vaccinations.models import Dose

pytestmark = pytest.mark.django_db


def _submit(**values: Any) -> Complaint:
    defaults: dict[str, Any] = {
        "category": 3,
        "full_name": "Nguyễn Thị Đào",
        "phone": "0912345601",
        "id_number": "001190012345",
        "facility_code": "HN001",
    }
    return complaint_submit(intake=Intake(**(defaults | values)))


def client_for(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def page_text(response: Any) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def page_url(complaint: Complaint) -> str:
    return reverse("complaints:complaint", args=[complaint.pk])


def _post_json(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_approving_with_the_missing_dose_adds_it_with_the_complaint_as_source(world):
    complaint = _submit(
        claimed_doses=({"date": "01/02/2022", "vaccine": "AZ", "dose_number": "3", "lot": "AB123"},)
    )
    dao = world.persons["dao_hn"]
    handler = client_for(world, "facility_hn1")
    page = handler.get(page_url(complaint))
    body = page.content.decode()
    assert 'value="2022-02-01"' in body and 'value="AB123"' in body  # filled in from the claimed dose
    assert "Nguyễn Thị Đào" in page_text(page) and "khớp theo số giấy tờ" in page_text(page)

    response = handler.post(
        reverse("complaints:approve_dose", args=[complaint.pk]),
        {
            "dose-version": complaint.version,
            "dose-person_id": dao.pk,
            "dose-vaccination_date": "2022-02-01",
            "dose-vaccine_id": "AZ",
            "dose-dose_number": "3",
            "dose-lot_number": "AB123",
            "dose-note": "Có phiếu tiêm giấy",
        },
    )
    assert response.status_code == 302 and response["Location"] == page_url(complaint)
    dose = Dose.objects.get(person=dao, dose_number=3)
    assert (dose.vaccination_date, dose.vaccine_id, dose.lot_number, dose.facility.code) == (
        dt.date(2022, 2, 1),
        "AZ",
        "AB123",
        "HN001",
    )
    created = ChangeRecord.objects.get(entity="dose", entity_id=dose.pk)
    assert (created.source_type, created.source_id) == ("complaint", complaint.tracking_code)
    assert created.actor == world.users["facility_hn1"]
    stored = Complaint.objects.get(pk=complaint.pk)
    assert (stored.state, stored.version) == (ComplaintState.APPROVED, complaint.version + 1)
    assert stored.closed_at is not None
    assert Notice.objects.filter(complaint=complaint, kind=Notice.Kind.OUTCOME).count() == 1

    text = page_text(handler.get(page_url(complaint)))
    assert "Đã bổ sung mũi tiêm và đóng phản ánh." in text
    assert "Đã giải quyết" in text and "Phản ánh đã đóng; chỉ xem được." in text
    assert "AB123" in text  # the new dose among the person's doses
    assert "approve-dose" not in handler.get(page_url(complaint)).content.decode()


def test_approving_by_correcting_the_person_goes_through_the_correction_service(world):
    complaint = _submit(category=5)
    dao = world.persons["dao_hn"]
    handler = client_for(world, "commune_badinh")  # the health station of the facility's commune
    prefix = f"person-{dao.pk}-"
    response = handler.post(
        reverse("complaints:approve_correction", args=[complaint.pk, dao.pk]),
        {
            prefix + "version": complaint.version,
            prefix + "person_id": dao.pk,
            prefix + "person_version": dao.version,
            prefix + "full_name": "Nguyễn Thị Hồng Đào",
            prefix + "birth_year": "1990",
            prefix + "birth_month": "1",
            prefix + "birth_day": "15",
            prefix + "gender": "F",
            prefix + "phone": dao.phone,
            prefix + "note": "Theo CCCD bản gốc",
        },
    )
    assert response.status_code == 302
    assert Person.objects.get(pk=dao.pk).full_name == "Nguyễn Thị Hồng Đào"
    change = ChangeRecord.objects.get(entity="person", entity_id=dao.pk, field="full_name")
    assert (change.source_type, change.source_id, change.reason) == (
        "complaint",
        complaint.tracking_code,
        "Theo CCCD bản gốc",
    )
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.APPROVED


def test_someone_elses_correction_of_the_person_in_between_is_refused(world):
    complaint = _submit(category=5)
    dao = world.persons["dao_hn"]
    Person.objects.filter(pk=dao.pk).update(version=dao.version + 1)
    response = _post_json(
        client_for(world, "facility_hn1"),
        f"/api/complaints/{complaint.pk}/approve-correction",
        {
            "version": complaint.version,
            "person_id": dao.pk,
            "person_version": dao.version,
            "changes": {"full_name": "Nguyễn Thị Hồng Đào"},
            "note": "Theo CCCD",
        },
    )
    assert response.status_code == 409 and response.json()["code"] == "stale"
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.OPEN
    assert Person.objects.get(pk=dao.pk).full_name == "Nguyễn Thị Đào"


def test_rejection_keeps_the_standard_reason_and_tells_the_citizen(world):
    complaint = _submit()
    handler = client_for(world, "facility_hn1")
    response = handler.post(
        reverse("complaints:reject", args=[complaint.pk]),
        {
            "reject-version": complaint.version,
            "reject-reason": "hand_edited",
            "reject-text": "Ngày tiêm bị tẩy xóa",
        },
    )
    assert response.status_code == 302
    stored = Complaint.objects.get(pk=complaint.pk)
    assert (stored.state, stored.reject_reason) == (ComplaintState.REJECTED, "hand_edited")
    assert "Giấy xác nhận bị sửa tay — Ngày tiêm bị tẩy xóa" in stored.outcome
    notice = Notice.objects.get(complaint=complaint, kind=Notice.Kind.OUTCOME)
    assert "Giấy xác nhận bị sửa tay" in notice.text and "cơ sở tiêm chủng" in notice.text
    text = page_text(handler.get(page_url(complaint)))
    assert "Từ chối" in text and "Giấy xác nhận bị sửa tay" in text

    english = client_for(world, "facility_hn1")
    english.cookies["django_language"] = "en"
    assert "The form was edited by hand" in page_text(english.get(page_url(complaint)))


def test_a_rejection_without_a_standard_reason_is_refused_naming_the_field(world):
    complaint = _submit()
    handler = client_for(world, "facility_hn1")
    response = handler.post(
        reverse("complaints:reject", args=[complaint.pk]),
        {"reject-version": complaint.version, "reject-reason": "", "reject-text": "không rõ"},
    )
    assert response.status_code == 400
    assert "Hãy chọn một lý do từ chối chuẩn." in page_text(response)
    api = _post_json(
        handler,
        f"/api/complaints/{complaint.pk}/reject",
        {"version": complaint.version, "reason": "whatever"},
    )
    # The standard reasons are the API schema's enum: anything else is invalid input, named.
    assert api.status_code == 422
    assert (api.json()["code"], api.json()["field"]) == ("invalid_input", "reason")
    assert api.json()["message_vi"] and api.json()["message_en"]
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.OPEN


def test_defer_sets_a_new_date_after_today_with_a_reason(world):
    complaint = _submit()
    handler = client_for(world, "facility_hn1")
    today = clock.today()
    refused = handler.post(
        reverse("complaints:defer", args=[complaint.pk]),
        {"defer-version": complaint.version, "defer-until": today.isoformat(), "defer-reason": "Chờ sổ gốc"},
    )
    assert refused.status_code == 400 and "Ngày hẹn phải sau hôm nay." in page_text(refused)
    until = today + dt.timedelta(days=3)
    response = handler.post(
        reverse("complaints:defer", args=[complaint.pk]),
        {"defer-version": complaint.version, "defer-until": until.isoformat(), "defer-reason": "Chờ sổ gốc"},
    )
    assert response.status_code == 302
    stored = Complaint.objects.get(pk=complaint.pk)
    assert (stored.state, stored.deferred_until, stored.due_at) == (
        ComplaintState.DEFERRED,
        until,
        complaint.due_at,
    )
    change = ChangeRecord.objects.get(entity="complaint", entity_id=complaint.pk, field="deferred_until")
    assert (change.reason, change.actor) == ("Chờ sổ gốc", world.users["facility_hn1"])
    inbox = page_text(handler.get(reverse("complaints:inbox")))
    assert "Hẹn lại" in inbox and f"{until:%d/%m/%Y}" in inbox
    # A deferred complaint can still be approved or rejected.
    complaint_reject(
        actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="unreadable", expected_version=2
    )


def test_transfer_keeps_the_deadline_and_moves_who_sees_it(world):
    complaint = _submit()
    joined = _submit(description="Gửi lại lần hai")
    assert joined.joined_to_id == complaint.pk
    sender = client_for(world, "facility_hn1")
    response = sender.post(
        reverse("complaints:transfer", args=[complaint.pk]),
        {
            "transfer-version": complaint.version,
            "transfer-facility_code": "hcm01",
            "transfer-reason": "Tiêm ở HCM",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("complaints:inbox")
    assert "Đã chuyển phản ánh đến cơ sở HCM01." in page_text(sender.get(reverse("complaints:inbox")))
    stored = Complaint.objects.get(pk=complaint.pk)
    assert (stored.handler_facility.code, stored.handler_province_id, stored.due_at) == (
        "HCM01",
        "79",
        complaint.due_at,
    )
    change = ChangeRecord.objects.get(entity="complaint", entity_id=complaint.pk, field="handler_facility")
    assert (change.old_value, change.new_value, change.reason) == ("HN001", "HCM01", "Tiêm ở HCM")
    for key, status in [
        ("facility_hn1", 404),
        ("commune_badinh", 404),
        ("province_hn", 404),
        ("facility_hcm", 200),
        ("province_hcm", 200),
    ]:
        client = client_for(world, key)
        assert client.get(page_url(complaint)).status_code == status, key
        assert client.get(page_url(joined)).status_code == status, key  # the joined one went along
    refused = _post_json(
        client_for(world, "facility_hcm"),
        f"/api/complaints/{complaint.pk}/transfer",
        {"version": stored.version, "facility_code": "XX999", "reason": "?"},
    )
    assert refused.status_code == 400 and refused.json()["field"] == "facility_code"
    moved = _post_json(
        client_for(world, "facility_hcm"),
        f"/api/complaints/{complaint.pk}/transfer",
        {"version": stored.version, "facility_code": "HN002", "reason": "Nhầm nơi"},
    )
    assert moved.status_code == 200
    assert moved.json()["handler_facility"] == "HN002" and moved.json()["due_at"].startswith(
        complaint.due_at.isoformat()[:16]
    )


def test_two_handlers_cannot_both_act_on_the_same_complaint(world):
    complaint = _submit()
    facility, station = client_for(world, "facility_hn1"), client_for(world, "commune_badinh")
    seen = complaint.version
    assert facility.get(page_url(complaint)).status_code == 200
    assert station.get(page_url(complaint)).status_code == 200
    first = facility.post(
        reverse("complaints:reject", args=[complaint.pk]),
        {"reject-version": seen, "reject-reason": "unreadable"},
    )
    assert first.status_code == 302
    second = station.post(
        reverse("complaints:defer", args=[complaint.pk]),
        {"defer-version": seen, "defer-until": "2999-01-01", "defer-reason": "Chờ sổ gốc"},
    )
    assert second.status_code == 409
    assert "Phản ánh vừa được người khác xử lý hoặc thay đổi" in page_text(second)
    api = _post_json(
        station,
        f"/api/complaints/{complaint.pk}/approve-dose",
        {"version": seen, "person_id": world.persons["dao_hn"].pk, "vaccination_date": "2022-02-01"},
    )
    assert api.status_code == 409
    assert api.json()["code"] == "conflict" and api.json()["current"] == {
        "state": "rejected",
        "version": seen + 1,
    }
    stored = Complaint.objects.get(pk=complaint.pk)
    assert (stored.state, stored.deferred_until) == (ComplaintState.REJECTED, None)
    assert not Dose.objects.filter(person=world.persons["dao_hn"], dose_number=None).exists()
    with pytest.raises(ComplaintChanged):
        complaint_defer(
            actor=world.users["province_hn"],
            complaint_id=complaint.pk,
            reason="x y z",
            until=dt.date(2999, 1, 1),
            expected_version=seen,
        )
    with pytest.raises(ComplaintRefused, match="closed"):
        complaint_defer(
            actor=world.users["province_hn"],
            complaint_id=complaint.pk,
            reason="x y z",
            until=dt.date(2999, 1, 1),
            expected_version=seen + 1,
        )


def test_a_bad_dose_is_refused_naming_the_field_and_nothing_is_written(world):
    complaint = _submit()
    handler = client_for(world, "facility_hn1")
    dao = world.persons["dao_hn"]
    future = (clock.today() + dt.timedelta(days=2)).isoformat()
    response = handler.post(
        reverse("complaints:approve_dose", args=[complaint.pk]),
        {"dose-version": complaint.version, "dose-person_id": dao.pk, "dose-vaccination_date": future},
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "Chưa lưu được." in text and "Vắc xin: Hãy chọn vắc xin." in text
    api = _post_json(
        handler,
        f"/api/complaints/{complaint.pk}/approve-dose",
        {"version": complaint.version, "person_id": dao.pk, "vaccination_date": future, "vaccine_id": "AZ"},
    )
    assert api.status_code == 400 and api.json()["field"] == "vaccination_date"
    outsider = world.persons["cuong_hcm"]  # not a candidate, outside HN001's persons
    api = _post_json(
        handler,
        f"/api/complaints/{complaint.pk}/approve-dose",
        {"version": complaint.version, "person_id": outsider.pk, "vaccination_date": "2022-02-01"},
    )
    assert api.status_code == 400 and api.json()["field"] == "person_id"
    assert Dose.objects.filter(person__in=[dao, outsider]).count() == 3
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.OPEN


def test_a_complaint_with_no_person_on_record_offers_candidates_by_name_and_birth_year(world):
    nobody = _submit(
        category=2, id_number="", full_name="Lê Văn Mới", facility_code="HN001", birth_date="1990"
    )
    handler = client_for(world, "facility_hn1")
    page = handler.get(page_url(nobody))
    assert "Không có người nào trên hệ thống khớp" in page_text(page)
    # The dose can go to a new person recorded from the complaint's details.
    assert 'id="approve-dose"' in page.content.decode()
    assert "Người mới, theo thông tin phản ánh" in page.content.decode()

    namesake = person_make(
        full_name="Nguyễn Thị Đào", commune=world.communes["00004"], birth=(1990, None, None)
    )
    Dose.objects.create(
        person=namesake,
        facility=world.facilities["HN001"],
        source_record_id="namesake-1",
        vaccination_date=dt.date(2021, 9, 1),
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    by_name = _submit(category=2, id_number="", birth_date="03/04/1990")
    page = handler.get(page_url(by_name))
    body = page.content.decode()
    # Both Đào born 1990 that HN001 vaccinated; not the one in Hồ Chí Minh.
    assert f'id="person-{namesake.pk}"' in body and f'id="person-{world.persons["dao_hn"].pk}"' in body
    assert f'id="person-{world.persons["dao_hcm"].pk}"' not in body
    response = handler.post(
        reverse("complaints:approve_dose", args=[by_name.pk]),
        {
            "dose-version": by_name.version,
            "dose-person_id": namesake.pk,
            "dose-vaccination_date": "2021-11-01",
            "dose-vaccine_id": "AZ",
            "dose-dose_number": "2",
            "dose-note": "Đối chiếu sổ tiêm",
        },
    )
    assert response.status_code == 302
    stored = Complaint.objects.get(pk=by_name.pk)
    assert (stored.state, stored.person_id) == (ComplaintState.APPROVED, namesake.pk)
    assert ChangeRecord.objects.filter(entity="complaint", entity_id=by_name.pk, field="person_id").exists()


def test_joined_complaints_show_under_the_one_they_joined(world):
    first = _submit(description="Lần đầu")
    second = _submit(description="Gửi lại")
    handler = client_for(world, "facility_hn1")
    inbox = handler.get(reverse("complaints:inbox")).content.decode()
    assert page_url(first) in inbox and page_url(second) not in inbox
    assert "(+1 gộp)" in page_text(handler.get(reverse("complaints:inbox")))
    page = handler.get(page_url(first))
    assert page_url(second) in page.content.decode() and "Gửi lại" in page_text(page)
    assert handler.get(page_url(second)).status_code == 200
    detail = handler.get(f"/api/complaints/{first.pk}").json()
    assert detail["joined"] == [second.pk]
    complaint_reject(actor=world.users["facility_hn1"], complaint_id=first.pk, reason="unreadable")
    assert Notice.objects.filter(complaint=second, kind=Notice.Kind.OUTCOME).exists()


def test_everything_the_citizen_typed_is_shown_as_text(world):
    complaint = _submit(
        full_name="Nguyễn <script>alert(1)</script> Đào",
        description='<img src=x onerror="alert(2)"> & "quote"',
        claimed_doses=({"date": "01/02/2022", "vaccine": "AZ", "dose_number": "3", "lot": "<b>L1</b>"},),
    )
    handler = client_for(world, "facility_hn1")
    for url in (reverse("complaints:inbox"), page_url(complaint)):
        body = handler.get(url).content.decode()
        assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<img src=x" not in body and "<b>L1</b>" not in body
    assert "&lt;b&gt;L1&lt;/b&gt;" in handler.get(page_url(complaint)).content.decode()


def test_the_api_detail_carries_the_complaint_the_records_and_the_history(
    world, django_assert_max_num_queries
):
    complaint = _submit(claimed_doses=({"date": "01/02/2022", "vaccine": "AZ", "dose_number": "3"},))
    handler = client_for(world, "province_hn")
    with django_assert_max_num_queries(20):
        detail = handler.get(f"/api/complaints/{complaint.pk}").json()
    assert detail["tracking_code"] == complaint.tracking_code
    assert detail["id_number_masked"] == "•••••••••345"
    assert detail["claimed_doses"][0]["vaccine"] == "AZ"
    persons = {p["id"]: p for p in detail["persons"]}
    dao = persons[world.persons["dao_hn"].pk]
    assert dao["matched"] and [d["dose_number"] for d in dao["doses"]] == [1, 2]
    assert [h["field"] for h in detail["history"]] == ["state"]


def test_a_pdf_proof_is_downloaded_not_shown_and_a_stored_path_cannot_leave_the_media_folder(
    world, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "private"
    (tmp_path / "private" / "complaints").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("outside the media folder")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
    (tmp_path / "private" / "complaints" / "proof.pdf").write_bytes(pdf)
    complaint = _submit()
    for position, path in [(1, "complaints/proof.pdf"), (2, "../secret.txt"), (3, "complaints/gone.png")]:
        Attachment.objects.create(
            complaint=complaint,
            position=position,
            content_type=Attachment.Kind.PDF if position == 1 else Attachment.Kind.PNG,
            size=len(pdf),
            sha256="0" * 64,
            storage_path=path,
            created_at=clock.now(),
        )
    handler = client_for(world, "facility_hn1")
    response = handler.get(reverse("complaints:proof", args=[complaint.pk, 1]))
    assert response.status_code == 200 and response.content == pdf
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert (
        response["X-Content-Type-Options"] == "nosniff" and response["Content-Security-Policy"] == "sandbox"
    )
    for position in (2, 3, 4):
        assert handler.get(reverse("complaints:proof", args=[complaint.pk, position])).status_code == 404
    reads = AuditEvent.objects.filter(action=AuditEvent.Action.COMPLAINT_PROOF_READ)
    assert [(e.object_id, e.detail["position"]) for e in reads] == [(str(complaint.pk), 1)]
    page = handler.get(page_url(complaint)).content.decode()
    assert f'href="{reverse("complaints:proof", args=[complaint.pk, 1])}"' in page
    assert f'<img src="{reverse("complaints:proof", args=[complaint.pk, 2])}"' in page
