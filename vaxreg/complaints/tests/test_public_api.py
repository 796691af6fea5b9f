"""The public complaint API: the ticket + submit contract a load test relies on, its errors and limits."""

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from vaxreg.complaints.models import Attachment, Complaint
from vaxreg.core import clock

BASE = "/api/public/complaints"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100


@pytest.fixture(autouse=True)
def private_media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "private"
    return tmp_path / "private"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 60)).save(out, "PNG")
    return out.getvalue()


def ticket(client: Client) -> str:
    response = client.get(f"{BASE}/ticket")
    assert response.status_code == 200
    return str(response.json()["ticket"])


def body(client: Client, **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ticket": ticket(client),
        "category": 3,
        "full_name": "Phạm Thị Hoa",
        "birth_date": "1985",
        "gender": "Nữ",
        "id_number": "079185001122",
        "phone": "+84912345603",
        "province_code": "01",
        "commune_code": "00004",
        "facility_code": "HN001",
        "claimed_doses": [{"date": "2021-12-01", "vaccine": "AstraZeneca", "dose_number": 3, "lot": "B77"}],
        "description": "Thiếu mũi 3",
    }
    return data | values


def post(client: Client, data: Any, **extra: Any) -> Any:
    payload = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(BASE, payload, content_type="application/json", **extra)


def test_ticket_then_submit_gives_201_with_the_tracking_code(
    world: Any, django_assert_max_num_queries: Any
) -> None:
    client = Client()
    data = body(client)
    with django_assert_max_num_queries(14):
        response = post(client, data)
    assert response.status_code == 201, response.content
    out = response.json()
    assert set(out) == {"tracking_code", "state", "due_at", "next_ticket"} and out["state"] == "open"
    complaint = Complaint.objects.get(tracking_code=out["tracking_code"])
    assert dt.datetime.fromisoformat(out["due_at"]) == complaint.due_at
    assert (complaint.phone, complaint.gender, complaint.birth_date) == ("0912345603", "F", "1985")
    assert complaint.claimed_doses == [
        {"date": "2021-12-01", "vaccine": "AZ", "dose_number": 3, "lot": "B77"}
    ]
    assert complaint.person == world.persons["hoa_traveller"] and complaint.handler_facility.code == "HN001"
    # The answer carries the ticket of the next submission: it is accepted once, like any other.
    again = {**data, "ticket": out["next_ticket"], "category": 5}
    assert post(client, again).status_code == 201
    assert post(client, again).json()["code"] == "ticket_used"


def test_the_minimal_body_the_load_test_sends(world: Any) -> None:
    client = Client()
    data = {
        "ticket": ticket(client), "category": 2, "full_name": "Lê Văn Mới", "birth_date": "02/03/1970",
        "gender": "M", "id_number": "", "phone": "0987654321", "province_code": "79", "commune_code": None,
        "facility_code": None, "claimed_doses": [], "description": "",
    }  # fmt: skip
    response = post(client, data)
    assert response.status_code == 201
    assert Complaint.objects.get().handler_province_id == "79"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("{not json", ""),
        ("[1, 2]", ""),
        ({"category": 3}, "ticket"),
        ({"category": "three"}, "category"),
        ({"claimed_doses": "all of them"}, "claimed_doses"),
        ({"claimed_doses": [{"date": "2021-12-01"}] * 4}, "claimed_doses"),
        ({"id_number": 1234}, "id_number"),
        ({"claimed_doses": [{"dose_number": 5}]}, "claimed_doses.0.dose_number"),  # 1 to 4, as everywhere
        ({"claimed_doses": [{"dose_number": "5"}]}, "claimed_doses.0.dose_number"),
        ({"category": True}, "category"),
        ({"category": 6}, "category"),  # the five kinds: the schema says so
        ({"full_name": "   "}, "full_name"),  # a name that says nothing
        ({"birth_date": ""}, "birth_date"),  # required of a citizen's own complaint
    ],
)
def test_an_unreadable_body_is_400_naming_the_field(world: Any, payload: Any, field: str) -> None:
    client = Client()
    if isinstance(payload, dict):
        data = body(client) | payload
        if field == "ticket":
            data.pop("ticket")
        payload = data
    response = post(client, payload)
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"code", "message_vi", "message_en", "field"} and error["field"] == field
    assert not Complaint.objects.exists()


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"birth_date": "31/02/1985"}, "birth_date", "does not exist"),
        ({"gender": "?"}, "gender", "Unknown gender"),
        ({"facility_code": "ZZ000"}, "facility_code", "not in the facility list"),
        (
            {"province_code": "99", "commune_code": None, "facility_code": None},
            "province_code",
            "not in the list",
        ),
        ({"commune_code": "26740", "facility_code": None}, "commune_code", "not in the chosen province"),
        ({"full_name": "x" * 10_000}, "full_name", "at most 200 characters"),
        ({"description": "y" * 6000}, "description", "at most 5000"),
        ({"phone": "0000"}, "phone", "not valid"),
        ({"claimed_doses": [{"date": "2020-05-01"}]}, "claimed_doses.0.date", "between 01/01/2021"),
        (
            {"claimed_doses": [{}, {"vaccine": "Snake oil"}]},
            "claimed_doses.1.vaccine",
            "not in the catalogue",
        ),
    ],
)
def test_a_refused_complaint_is_422_naming_the_field(
    world: Any, values: dict[str, Any], field: str, says: str
) -> None:
    client = Client()
    response = post(client, body(client, **values))
    assert response.status_code == 422, response.content
    error = response.json()
    assert error["field"] == field and says in error["message_en"] and error["message_vi"]
    assert not Complaint.objects.exists()


def test_html_is_stored_as_text_and_json_stays_json(world: Any) -> None:
    client = Client()
    response = post(client, body(client, full_name="<script>alert(1)</script>", description="<b>x</b>\x00"))
    assert response.status_code == 201
    complaint = Complaint.objects.get()
    assert complaint.full_name == "<script>alert(1)</script>" and complaint.description == "<b>x</b>"


def test_a_ticket_is_used_once_and_only_from_its_network(world: Any) -> None:
    client = Client()
    data = body(client)
    assert post(client, data).status_code == 201
    again = post(client, data | {"category": 5})
    assert again.status_code == 400 and again.json()["code"] == "ticket_used"
    assert again.json()["field"] == "ticket"
    elsewhere = post(Client(), body(client, category=5), REMOTE_ADDR="198.51.100.9")
    assert elsewhere.status_code == 400 and elsewhere.json()["code"] == "ticket_elsewhere"
    forged = post(client, body(client, ticket="eyJuIjoiYWJjIn0:forged"))
    assert forged.status_code == 400 and forged.json()["code"] == "ticket_invalid"
    assert Complaint.objects.count() == 1


def test_past_the_address_limit_the_answer_is_429_with_retry_after(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "VAXREG_COMPLAINT_LIMITS", "address=3/h,subnet=100/h,phone=3/d")
    client = Client()
    for i in range(3):
        assert post(client, body(client, category=i + 1)).status_code == 201
    response = post(client, body(client, category=4))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0 and response.json()["code"] == "rate_address"
    assert Complaint.objects.count() == 3


def test_the_phone_limit_is_429_naming_the_phone(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "VAXREG_COMPLAINT_LIMITS", "phone=2/d")
    client = Client()
    assert post(client, body(client, category=1)).status_code == 201
    assert post(client, body(client, category=2, phone="0912.345.603")).status_code == 201
    response = post(client, body(client, category=4, phone="0912345603"))
    assert response.status_code == 429 and response.json()["field"] == "phone"
    assert int(response["Retry-After"]) > 0


def _submitted(client: Client, **values: Any) -> str:
    response = post(client, body(client, **values))
    assert response.status_code == 201
    return str(response.json()["tracking_code"])


def test_status_needs_the_right_phone(world: Any) -> None:
    client = Client()
    code = _submitted(client)
    response = client.post(
        f"{BASE}/{code}/status", {"phone": "0912 345 603"}, content_type="application/json"
    )
    assert response.status_code == 200
    status = response.json()
    assert (status["tracking_code"], status["state"], status["outcome"]) == (code, "open", "")
    assert status["state_en"] == "open" and status["due_at"]
    wrong = client.post(f"{BASE}/{code}/status", {"phone": "0912345600"}, content_type="application/json")
    unknown = client.post(
        f"{BASE}/AAAAAAAAAAAAAAAA/status", {"phone": "0912345603"}, content_type="application/json"
    )
    assert wrong.status_code == unknown.status_code == 404 and wrong.json() == unknown.json()


def test_proof_files_are_added_by_content_within_the_hour(
    world: Any, private_media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client()
    code = _submitted(client)
    url = f"{BASE}/{code}/attachments"
    one = client.post(url, {"phone": "0912345603", "files": [SimpleUploadedFile("a.pdf", png())]})
    assert one.status_code == 201 and one.json() == [
        {"position": 1, "content_type": "image/png", "size": len(png())}
    ]
    stored = Attachment.objects.get()
    assert (private_media / stored.storage_path).read_bytes() == png()

    fake = client.post(url, {"phone": "0912345603", "files": [SimpleUploadedFile("evil.jpg", EXE)]})
    assert fake.status_code == 422 and "evil.jpg" in fake.json()["message_en"]
    three = [SimpleUploadedFile(f"p{i}.png", png()) for i in range(3)]
    too_many = client.post(url, {"phone": "0912345603", "files": three})
    assert too_many.status_code == 422 and "At most 3" in too_many.json()["message_en"]
    wrong_phone = client.post(url, {"phone": "0912345600", "files": [SimpleUploadedFile("b.png", png())]})
    assert wrong_phone.status_code == 404
    later = clock.now() + dt.timedelta(hours=1, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    late = client.post(url, {"phone": "0912345603", "files": [SimpleUploadedFile("c.png", png())]})
    assert late.status_code == 422 and "within 1 hour" in late.json()["message_en"]
    assert Attachment.objects.count() == 1


def test_a_broken_multipart_body_is_a_json_400_and_stores_nothing(world: Any) -> None:
    client = Client()
    code = _submitted(client)
    boundary = "37006d28e1c5c67d637cab15411e83b6"
    # A part whose headers never end: Django's parser gives up before any field is read.
    broken = f"--{boundary}\r\n" + "x" * 20_000 + f"--{boundary}--\r\n"
    response = client.post(
        f"{BASE}/{code}/attachments", broken, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    answer = response.json()
    assert answer["code"] == "invalid_multipart" and answer["message_vi"] and answer["message_en"]
    assert Attachment.objects.count() == 0


def test_places_to_pick_from(world: Any) -> None:
    client = Client()
    communes = client.get(f"{BASE}/places/communes", {"province": "01"})
    assert communes.status_code == 200 and "max-age" in communes["Cache-Control"]
    assert {c["code"] for c in communes.json()} == {"00004", "00070"}
    facilities = client.get(f"{BASE}/places/facilities", {"commune": "00004"}).json()
    assert facilities == [{"code": "HN001", "name": "Bệnh viện Bạch Mai"}]
    by_province = client.get(f"{BASE}/places/facilities", {"province": "79"}).json()
    assert [f["code"] for f in by_province] == ["HCM01"]
    provinces = client.get(f"{BASE}/places/provinces").json()
    assert {p["code"] for p in provinces} == {"01", "79"}


@pytest.mark.parametrize("typed", ["Vắc xin AstraZeneca", "astrazeneca covid-19 vaccine", "ASTRA ZENECA"])
def test_a_claimed_vaccine_is_resolved_as_the_dose_import_resolves_it(world: Any, typed: str) -> None:
    client = Client()
    dose = {"date": "2021-12-01", "vaccine": typed, "dose_number": 3, "lot": "B77"}
    response = post(client, body(client, claimed_doses=[dose]))
    assert response.status_code == 201, response.content
    assert Complaint.objects.get().claimed_doses[0]["vaccine"] == "AZ"
