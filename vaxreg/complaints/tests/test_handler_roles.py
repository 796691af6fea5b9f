"""Who sees and handles which complaint, through every page and API endpoint of the handlers' side."""

import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Attachment, Complaint, ComplaintState
from vaxreg.core import clock
from vaxreg.core.models import AuditEvent, ChangeRecord
from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# Which complaints (see ``complaints`` below) each user sees; the police see none of them.
SEES = {
    "national": {"hn1", "hn2", "hcm", "prov", "late"},
    "admin": {"hn1", "hn2", "hcm", "prov", "late"},
    "province_hn": {"hn1", "hn2", "prov", "late"},
    "province_hcm": {"hcm"},
    "commune_badinh": {"hn1"},
    "commune_hoankiem": {"hn2"},
    "facility_hn1": {"hn1"},
    "facility_hcm": {"hcm"},
    "police_badinh": set(),
}
READERS = {"national", "admin"}
HANDLERS = set(SEES) - READERS - {"police_badinh"}


def _submit(**values: Any) -> Complaint:
    defaults: dict[str, Any] = {"category": 3, "full_name": "Nguyễn Thị Đào", "phone": "0912345601"}
    return complaint_submit(intake=Intake(**(defaults | values)))


@pytest.fixture
def complaints(world: World, settings: Any, tmp_path: Any) -> dict[str, Complaint]:
    """One complaint per kind of handler: three facilities, a province with no facility, one escalated."""
    settings.MEDIA_ROOT = tmp_path
    made = {
        "hn1": _submit(facility_code="HN001", id_number="001190012345"),
        "hn2": _submit(
            category=5, full_name="Trần Văn Bình", id_number="001090054321", facility_code="HN002"
        ),
        "hcm": _submit(full_name="Lê Văn Cường", id_number="079090077777", facility_code="HCM01"),
        "prov": _submit(category=2, full_name="Lê Văn Mới", province_code="01"),
        "late": _submit(
            category=4, full_name="Phạm Thị Hoa", id_number="079185001122", facility_code="HN001"
        ),
    }
    Complaint.objects.filter(pk=made["late"].pk).update(escalated_at=clock.now())
    for complaint in made.values():
        (tmp_path / f"{complaint.pk}.png").write_bytes(PNG)
        Attachment.objects.create(
            complaint=complaint,
            position=1,
            original_name="phieu.png",
            content_type=Attachment.Kind.PNG,
            size=len(PNG),
            sha256=hashlib.sha256(PNG).hexdigest(),
            storage_path=f"{complaint.pk}.png",
            created_at=clock.now(),
        )
    return {key: Complaint.objects.get(pk=c.pk) for key, c in made.items()}


def client_for(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def page_url(complaint: Complaint) -> str:
    return reverse("complaints:complaint", args=[complaint.pk])


def web_actions(world: World, complaint: Complaint) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each action's URL with a form that would succeed."""
    v, dao = complaint.version, world.persons["dao_hn"]
    return {
        "approve_dose": (
            reverse("complaints:approve_dose", args=[complaint.pk]),
            {
                "dose-version": v,
                "dose-person_id": dao.pk,
                "dose-vaccination_date": "2022-02-01",
                "dose-vaccine_id": "AZ",
                "dose-dose_number": "3",
                "dose-note": "Có phiếu tiêm",
            },
        ),
        "approve_correction": (
            reverse("complaints:approve_correction", args=[complaint.pk, dao.pk]),
            {
                f"person-{dao.pk}-version": v,
                f"person-{dao.pk}-person_id": dao.pk,
                f"person-{dao.pk}-person_version": dao.version,
                f"person-{dao.pk}-full_name": "Nguyễn Thị Hồng Đào",
                f"person-{dao.pk}-birth_year": "1990",
                f"person-{dao.pk}-birth_month": "1",
                f"person-{dao.pk}-birth_day": "15",
                f"person-{dao.pk}-gender": "F",
                f"person-{dao.pk}-note": "Theo CCCD",
            },
        ),
        "defer": (
            reverse("complaints:defer", args=[complaint.pk]),
            {"defer-version": v, "defer-until": "2999-01-01", "defer-reason": "Chờ sổ gốc"},
        ),
        "reject": (
            reverse("complaints:reject", args=[complaint.pk]),
            {"reject-version": v, "reject-reason": "unreadable", "reject-text": "Ảnh mờ"},
        ),
        "transfer": (
            reverse("complaints:transfer", args=[complaint.pk]),
            {"transfer-version": v, "transfer-facility_code": "HCM01", "transfer-reason": "Tiêm ở HCM"},
        ),
    }


def api_actions(world: World, complaint: Complaint) -> dict[str, dict[str, Any]]:
    v, dao = complaint.version, world.persons["dao_hn"]
    return {
        "approve-dose": {
            "version": v,
            "person_id": dao.pk,
            "vaccination_date": "2022-02-01",
            "vaccine_id": "AZ",
            "dose_number": 3,
        },
        "approve-correction": {
            "version": v,
            "person_id": dao.pk,
            "person_version": dao.version,
            "changes": {"full_name": "Nguyễn Thị Hồng Đào"},
            "note": "Theo CCCD",
        },
        "defer": {"version": v, "until": "2999-01-01", "reason": "Chờ sổ gốc"},
        "reject": {"version": v, "reason": "unreadable"},
        "transfer": {"version": v, "facility_code": "HCM01", "reason": "Tiêm ở HCM"},
    }


def _post_json(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def _unchanged(complaint: Complaint) -> tuple[Any, ...]:
    fresh = Complaint.objects.get(pk=complaint.pk)
    return fresh.state, fresh.version, fresh.handler_facility_id


def test_every_page_needs_a_login_and_the_api_a_session(world, complaints):
    client = Client()
    c = complaints["hn1"]
    gets = [
        reverse("complaints:inbox"),
        reverse("complaints:figures"),
        page_url(c),
        reverse("complaints:proof", args=[c.pk, 1]),
    ]
    posts = [url for url, _ in web_actions(world, c).values()] + [reverse("complaints:full_id", args=[c.pk])]
    for response in [client.get(u) for u in gets] + [client.post(u, {}) for u in posts]:
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))
    for path in ("/api/complaints", "/api/complaints/figures", f"/api/complaints/{c.pk}"):
        assert client.get(path).status_code == 401
    for action, body in api_actions(world, c).items():
        assert _post_json(client, f"/api/complaints/{c.pk}/{action}", body).status_code == 401
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.COMPLAINT_PROOF_READ).exists()


@pytest.mark.parametrize("user_key", sorted(SEES))
def test_each_role_lists_and_reads_only_the_complaints_of_its_unit(world, complaints, user_key):
    client = client_for(world, user_key)
    inbox = client.get(reverse("complaints:inbox"))
    if user_key == "police_badinh":
        assert inbox.status_code == 403
        assert client.get("/api/complaints").status_code == 403
    else:
        assert inbox.status_code == 200
        body = inbox.content.decode()
        listed = {c["id"] for c in client.get("/api/complaints").json()["complaints"]}
        for key, complaint in complaints.items():
            assert (page_url(complaint) in body) == (key in SEES[user_key]), key
            assert (complaint.pk in listed) == (key in SEES[user_key]), key
            assert complaint.id_number == "" or complaint.id_number not in body  # the list masks ID numbers
    for key, complaint in complaints.items():
        page = client.get(page_url(complaint))
        api = client.get(f"/api/complaints/{complaint.pk}")
        if user_key == "police_badinh":
            assert (page.status_code, api.status_code) == (403, 403)
        elif key in SEES[user_key]:
            assert (page.status_code, api.status_code) == (200, 200)
            assert complaint.tracking_code in page.content.decode()
        else:
            assert (page.status_code, api.status_code) == (404, 404), key
            assert complaint.full_name not in page.content.decode()
            assert api.json()["code"] == "not_found"


@pytest.mark.parametrize("user_key", sorted(SEES))
def test_the_actions_are_refused_outside_and_to_readers_and_work_inside(world, complaints, user_key):
    client = client_for(world, user_key)
    for key, complaint in complaints.items():
        before = _unchanged(complaint)
        if key in SEES[user_key] and user_key in HANDLERS:
            continue  # the handlers' own actions are exercised below, one at a time
        expected = 403 if user_key == "police_badinh" or user_key in READERS else 404
        for url, form in web_actions(world, complaint).values():
            assert client.post(url, form).status_code == expected, url
            assert _unchanged(complaint) == before
        for action, body in api_actions(world, complaint).items():
            response = _post_json(client, f"/api/complaints/{complaint.pk}/{action}", body)
            assert response.status_code == expected, (action, response.content)
            assert set(response.json()) >= {"code", "message_vi", "message_en"}
            assert _unchanged(complaint) == before

    if user_key in HANDLERS:
        mine = sorted(SEES[user_key])
        first = complaints[mine[0]]
        url, form = web_actions(world, first)["reject"]
        response = client.post(url, form)
        assert response.status_code == 302
        assert Complaint.objects.get(pk=first.pk).state == ComplaintState.REJECTED
        if len(mine) > 1:
            second = complaints[mine[1]]
            body = api_actions(world, second)["defer"]
            response = _post_json(client, f"/api/complaints/{second.pk}/defer", body)
            assert response.status_code == 200 and response.json()["state"] == "deferred"


@pytest.mark.parametrize("user_key", sorted(SEES))
def test_proof_files_are_served_only_to_the_complaints_handlers_and_every_read_is_logged(
    world, complaints, user_key
):
    client = client_for(world, user_key)
    served = 0
    for key, complaint in complaints.items():
        response = client.get(reverse("complaints:proof", args=[complaint.pk, 1]))
        if user_key == "police_badinh" or user_key in READERS:
            assert response.status_code == 403
        elif key in SEES[user_key]:
            assert response.status_code == 200
            assert response.content == PNG and response["Content-Type"] == "image/png"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"] == "sandbox"
            assert response["Content-Disposition"].startswith("inline")
            served += 1
        else:
            assert response.status_code == 404
        assert client.get(reverse("complaints:proof", args=[complaint.pk, 2])).status_code in (403, 404)
    reads = AuditEvent.objects.filter(
        action=AuditEvent.Action.COMPLAINT_PROOF_READ, actor=world.users[user_key]
    )
    assert reads.count() == served


@pytest.mark.parametrize("user_key", sorted(SEES))
def test_figures_page_and_api_per_role(world, complaints, user_key):
    client = client_for(world, user_key)
    page = client.get(reverse("complaints:figures"))
    api = client.get("/api/complaints/figures")
    if user_key == "police_badinh":
        assert (page.status_code, api.status_code) == (403, 403)
        return
    assert (page.status_code, api.status_code) == (200, 200)
    received = api.json()["total"]["received"] if api.json()["total"] else api.json()["rows"][0]["received"]
    counted = {
        "national": 5,
        "admin": 5,
        "province_hn": 4,
        "province_hcm": 1,
        "commune_badinh": 2,  # its facility's late complaint still counts for it
        "commune_hoankiem": 1,
        "facility_hn1": 2,
        "facility_hcm": 1,
    }
    assert received == counted[user_key]


@pytest.mark.parametrize("user_key", sorted(SEES))
def test_reading_the_full_id_number_is_logged_and_scoped(world, complaints, user_key):
    client = client_for(world, user_key)
    complaint = complaints["hn1"]
    response = client.post(reverse("complaints:full_id", args=[complaint.pk]))
    if user_key == "police_badinh":
        assert response.status_code == 403
    elif "hn1" in SEES[user_key]:
        assert response.status_code == 200 and complaint.id_number in response.content.decode()
        event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_ID_READ, actor=world.users[user_key])
        assert (event.object_type, event.object_id) == ("complaint", str(complaint.pk))
        page = client.get(page_url(complaint)).content.decode()
        assert complaint.id_number not in page  # masked again on the next read
    else:
        assert response.status_code == 404
    if "hn1" not in SEES[user_key]:
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()
    assert not ChangeRecord.objects.filter(entity="complaint", actor=world.users[user_key]).exists()
