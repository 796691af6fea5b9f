"""The public complaint form, as a citizen's phone would send it: no account, CSRF, a ticket, files."""

import datetime as dt
import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from vaxreg.complaints.antiflood import ticket_issue
from vaxreg.complaints.models import Attachment, Complaint, Notice
from vaxreg.core import clock
from vaxreg.core.models import ChangeRecord

FORM = reverse("complaints_public:form")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 60)).save(out, "PNG")
    return out.getvalue()


def a_ticket() -> str:
    """A ticket handed out a minute ago: as long as a person takes to fill the form."""
    return ticket_issue(address="127.0.0.1", now=clock.now() - dt.timedelta(minutes=1))


def form_data(**values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ticket": a_ticket(),
        "website": "",
        "category": "3",
        "full_name": "Trần Văn Bình",
        "birth_date": "15/01/1990",
        "gender": "M",
        "id_number": "001090054321",
        "phone": "0912 345 602",
        "province_code": "01",
        "commune_code": "00070",
        "facility_code": "HN002",
        "dose1_date": "01/10/2021",
        "dose1_vaccine": "AZ",
        "dose1_number": "2",
        "dose1_lot": "A1234",
        "description": "Mũi 2 không hiện trên ứng dụng.\nTôi có phiếu tiêm.",
    }
    return data | values


@pytest.fixture(autouse=True)
def private_media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "private"
    return tmp_path / "private"


def stored_nothing(media: Path) -> bool:
    files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    return not Complaint.objects.exists() and not Attachment.objects.exists() and not files


def test_the_form_renders_for_a_phone_with_ticket_honeypot_and_the_five_categories(world: Any) -> None:
    response = Client().get(FORM)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in page and 'name="ticket"' in page
    assert re.search(r'<div class="hp" aria-hidden="true">', page)
    assert re.search(r'name="website"[^>]*tabindex="-1"', page)
    assert page.count('name="category"') == 5
    assert "Có tên trên hệ thống nhưng thiếu mũi tiêm" in page and "doses are missing" in page
    assert 'name="viewport"' in page and "Thành phố Hồ Chí Minh" in page and "AstraZeneca" in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_citizen_submits_with_csrf_and_gets_the_tracking_code(world: Any, private_media: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get(FORM)
    token = client.cookies["csrftoken"].value
    photo = SimpleUploadedFile("phieu-tiem.jpg", png(), content_type="image/jpeg")  # the header lies
    response = client.post(FORM, form_data(csrfmiddlewaretoken=token, attachments=[photo]))
    assert response.status_code == 302 and response["Location"] == reverse("complaints_public:sent")

    complaint = Complaint.objects.get()
    assert (complaint.full_name, complaint.phone, complaint.birth_date, complaint.gender) == (
        "Trần Văn Bình", "0912345602", "15/01/1990", "M",
    )  # fmt: skip
    assert complaint.handler_facility.code == "HN002" and complaint.commune_id == "00070"
    assert complaint.claimed_doses == [
        {"date": "2021-10-01", "vaccine": "AZ", "dose_number": 2, "lot": "A1234"}
    ]
    assert complaint.description == "Mũi 2 không hiện trên ứng dụng.\nTôi có phiếu tiêm."
    attachment = Attachment.objects.get(complaint=complaint)
    assert (attachment.content_type, attachment.original_name) == ("image/png", "phieu-tiem.jpg")
    assert (private_media / attachment.storage_path).read_bytes() == png()
    history = ChangeRecord.objects.filter(entity="complaint", entity_id=complaint.pk)
    assert {r.field for r in history} == {"state", "attachment_1"}
    assert all("web" in r.reason and r.actor_id is None for r in history)
    assert Notice.objects.filter(complaint=complaint, kind="received").exists()

    sent = client.get(response["Location"])
    page = sent.content.decode()
    assert complaint.tracking_code in page
    assert reverse("complaints_public:track") + f"?ma={complaint.tracking_code}" in html.unescape(page)


def test_a_post_without_the_csrf_token_is_refused(world: Any, private_media: Path) -> None:
    response = Client(enforce_csrf_checks=True).post(FORM, form_data())
    assert response.status_code == 403 and stored_nothing(private_media)


def _refused(client: Client, data: dict[str, Any], status: int = 422) -> str:
    response = client.post(FORM, data)
    assert response.status_code == status, response.content.decode()[:2000]
    return html.unescape(response.content.decode())


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"birth_date": "31/02/1990"}, "The date “31/02/1990” does not exist"),
        ({"birth_date": "hôm qua"}, "Cannot read the date “hôm qua”"),
        ({"birth_date": "01/01/2090"}, "must be between 1900 and today"),
        ({"dose1_date": "32/13/2021"}, "Claimed dose 1: The date “32/13/2021” does not exist"),
        ({"dose1_date": "15/06/2020"}, "must be between 01/01/2021 and today"),
        (
            {"dose1_date": (clock.today() + dt.timedelta(days=3)).strftime("%d/%m/%Y")},
            "between 01/01/2021 and today",
        ),
        ({"facility_code": "XX999"}, "Facility code “XX999” is not in the facility list"),
        ({"facility_code": "", "commune_code": "26740"}, "is not in the chosen province"),
        ({"facility_code": "HCM01"}, "Facility HCM01 is not in the chosen province"),
        ({"phone": "12345"}, "The phone number is not valid"),
        ({"id_number": "12-34"}, "ID number “12-34” is not valid"),
        ({"full_name": "Nguyễn " * 1700}, "The full name has at most 200 characters"),
        ({"category": "9"}, "Choose one of the five kinds"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(
    world: Any, private_media: Path, values: dict[str, Any], says: str
) -> None:
    data = form_data(**values)
    page = _refused(Client(), data, status=400 if "full_name" in values or "category" in values else 422)
    assert says in page
    assert 'class="field has-error"' in page or "has-error" in page
    assert "Trần Văn Bình" in page or "full_name" in values  # what was typed comes back
    assert "Mũi 2 không hiện trên ứng dụng." in page
    assert stored_nothing(private_media)


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ([("evil.jpg", EXE)], "File “evil.jpg”: not a JPEG/PNG photo or a PDF"),
        (
            [("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024))],
            "File “huge.png”: larger than 5 MB",
        ),
        ([(f"p{i}.png", png()) for i in range(4)], "At most 3 files per complaint"),
    ],
)
def test_bad_files_are_refused_by_name_and_must_be_attached_again(
    world: Any, private_media: Path, files: list[tuple[str, bytes]], says: str
) -> None:
    uploads = [SimpleUploadedFile(name, content, content_type="image/jpeg") for name, content in files]
    page = _refused(Client(), form_data(attachments=uploads))
    assert says in page
    assert "choose your photos or PDFs again" in page
    assert 'value="Trần Văn Bình"' in page and 'value="01/10/2021"' in page
    assert stored_nothing(private_media)


def test_html_and_script_in_the_fields_are_kept_as_text_and_never_run(world: Any) -> None:
    client = Client()
    evil = "<script>alert(1)</script> Bình"
    response = client.post(FORM, form_data(full_name=evil, description='<img src=x onerror="alert(1)">'))
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.full_name == evil and complaint.description == '<img src=x onerror="alert(1)">'
    page = client.post(
        reverse("complaints_public:track"), {"code": complaint.tracking_code, "phone": "0912345602"}
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bình" in page and "<script>alert(1)" not in page
    assert "&lt;img src=x onerror=" in page and "<img src=x" not in page
    # A refused submission echoes the text back escaped too.
    page = client.post(FORM, form_data(full_name=evil, phone="1")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_control_characters_never_reach_the_database(world: Any, private_media: Path) -> None:
    page = _refused(Client(), form_data(full_name="Trần\x00 Văn Bình"), status=400)
    assert re.search(r'has-error">\s*<label for="id_full_name"', page)
    assert stored_nothing(private_media)
    assert Client().post(FORM, form_data(full_name="Trần\x07 Văn\tBình")).status_code == 302
    assert Complaint.objects.get().full_name == "Trần Văn Bình"


def test_the_honeypot_a_fast_robot_and_a_reused_ticket_are_refused(world: Any, private_media: Path) -> None:
    client = Client()
    page = _refused(client, form_data(website="http://spam.example"), status=400)
    assert "Could not send" in page and 'value="Trần Văn Bình"' in page
    fresh = ticket_issue(address="127.0.0.1")
    page = _refused(client, form_data(ticket=fresh), status=400)
    assert "The form was sent too quickly" in page
    ticket = a_ticket()
    assert client.post(FORM, form_data(ticket=ticket)).status_code == 302
    page = _refused(client, form_data(ticket=ticket), status=400)
    assert "already used" in page
    assert Complaint.objects.count() == 1
    # Each refused page carries a new ticket, so the citizen can just send again.
    new_ticket = re.search(r'name="ticket" value="([^"]+)"', page)
    assert new_ticket is not None and new_ticket.group(1) != ticket


def test_past_the_address_quota_the_form_says_when_to_try_again(
    world: Any, monkeypatch: pytest.MonkeyPatch, private_media: Path
) -> None:
    monkeypatch.setattr(settings, "VAXREG_COMPLAINT_LIMITS", "address=1/h")
    client = Client()
    assert client.post(FORM, form_data()).status_code == 302
    response = client.post(FORM, form_data(category="5"))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many complaints from this address" in html.unescape(response.content.decode())
    assert Complaint.objects.count() == 1


def test_the_phone_quota_counts_only_accepted_complaints(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "VAXREG_COMPLAINT_LIMITS", "phone=1/d")
    client = Client()
    assert client.post(FORM, form_data(birth_date="xx")).status_code == 422  # a typo does not use the quota
    assert client.post(FORM, form_data()).status_code == 302
    response = client.post(FORM, form_data(category="5", phone="+84912345602"))
    assert response.status_code == 429
    assert "Too many complaints with this phone number" in html.unescape(response.content.decode())


def test_without_javascript_the_codes_typed_by_hand_are_enough(world: Any) -> None:
    response = Client().post(FORM, form_data(province_code="", commune_code="", facility_code=" hn001 "))
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert (complaint.facility.code, complaint.province_id, complaint.commune_id) == ("HN001", "01", "00004")


def test_not_knowing_the_place_routes_to_the_province(world: Any) -> None:
    data = form_data(id_number="", commune_code="", facility_code="", province_code="79")
    assert Client().post(FORM, data).status_code == 302
    complaint = Complaint.objects.get()
    assert (complaint.handler_facility, complaint.handler_province_id) == (None, "79")


@pytest.mark.parametrize("number", ["5", "0", "12"])
def test_a_dose_number_outside_1_to_4_is_refused_as_on_every_other_path(
    world: Any, private_media: Path, number: str
) -> None:
    response = Client().post(FORM, form_data(dose1_number=number))
    assert response.status_code in (400, 422), response.status_code
    assert stored_nothing(private_media)
