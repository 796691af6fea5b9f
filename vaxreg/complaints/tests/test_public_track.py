"""The tracking page: the outcome only for the right code and phone, one neutral answer otherwise."""

import datetime as dt
import html
import re
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint
from vaxreg.complaints.services import complaint_defer, complaint_reject
from vaxreg.core import clock

TRACK = reverse("complaints_public:track")


def _complaint(**values: Any) -> Complaint:
    defaults: dict[str, Any] = {
        "category": 3,
        "full_name": "Nguyễn Thị Đào",
        "phone": "0912345601",
        "id_number": "001190012345",
        "facility_code": "HN001",
        "description": "Thiếu mũi 3",
    }
    return complaint_submit(intake=Intake(**(defaults | values)))


def _track(client: Client, code: str, phone: str, status: int = 200) -> str:
    response = client.post(TRACK, {"code": code, "phone": phone})
    assert response.status_code == status
    return html.unescape(response.content.decode())


def test_the_right_phone_in_any_writing_shows_the_status_and_due_time(world: Any) -> None:
    complaint = _complaint()
    client = Client()
    assert (
        f'value="{complaint.tracking_code}"'
        in client.get(TRACK + f"?ma={complaint.tracking_code}").content.decode()
    )
    for phone in ("0912345601", "+84 912 345 601", "0912.345.601"):
        page = _track(client, f" {complaint.tracking_code} ", phone)
        assert "Đang xử lý" in page and "open" in page
        assert timezone.localtime(complaint.due_at).strftime("%d/%m/%Y %H:%M") in page
        assert "Thiếu mũi 3" in page and "Nguyễn Thị Đào" in page


def test_the_code_can_be_typed_loosely(world: Any) -> None:
    complaint = _complaint()
    code = complaint.tracking_code
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    loose = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    assert code in _track(Client(), loose, "0912345601")


def test_a_rejection_shows_the_standard_reason_and_where_to_go(world: Any) -> None:
    complaint = _complaint()
    complaint_reject(
        actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="unreadable", text="Ảnh bị mờ"
    )
    page = _track(Client(), complaint.tracking_code, "0912345601")
    assert (
        "Từ chối" in page
        and "Thông tin chính bị cắt hoặc mờ" in page
        and "Key fields are cropped or blurred" in page
    )
    assert "Ảnh bị mờ" in page and "take your paper proof to the place where you were vaccinated" in page


def test_a_deferral_shows_the_new_date_and_the_reason(world: Any) -> None:
    complaint = _complaint()
    until = clock.today() + dt.timedelta(days=5)
    complaint_defer(
        actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="Chờ sổ tiêm gốc", until=until
    )
    page = _track(Client(), complaint.tracking_code, "0912345601")
    assert "Hẹn lại" in page and until.strftime("%d/%m/%Y") in page and "Chờ sổ tiêm gốc" in page


def test_a_joined_complaint_shows_the_outcome_of_the_first(world: Any) -> None:
    first = _complaint()
    second = _complaint(description="gửi lại")
    complaint_reject(actor=world.users["facility_hn1"], complaint_id=first.pk, reason="nothing_matches")
    page = _track(Client(), second.tracking_code, "0912345601")
    assert "joined to your earlier one" in page and "Nothing matches" in page and "gửi lại" in page


def test_a_wrong_phone_and_an_unknown_code_give_the_same_neutral_answer(world: Any) -> None:
    complaint = _complaint()
    complaint_reject(actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="unreadable")
    client = Client()
    wrong_phone = _track(client, complaint.tracking_code, "0912345699", status=404)
    unknown = _track(client, "AAAAAAAAAAAAAAAA", "0912345601", status=404)
    assert "No complaint matches this tracking code and phone number" in wrong_phone
    for page in (wrong_phone, unknown):
        assert "Thông tin chính bị cắt" not in page and "Nguyễn Thị Đào" not in page

    # The pages differ only in what is echoed back in the form (and the per-response CSRF mask).
    def neutral(page: str, code: str, phone: str) -> str:
        page = page.replace(code, "CODE").replace(phone, "PHONE")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)

    assert neutral(wrong_phone, complaint.tracking_code, "0912345699") == neutral(
        unknown, "AAAAAAAAAAAAAAAA", "0912345601"
    )


def test_wrong_tries_are_limited_per_address_and_per_code(world: Any) -> None:
    complaint = _complaint()
    client = Client()
    for i in range(10):
        _track(client, complaint.tracking_code, f"09123456{10 + i}", status=404)
    # Even the right phone is not checked any more: guessing cannot go on.
    response = client.post(TRACK, {"code": complaint.tracking_code, "phone": "0912345601"})
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assert "Too many wrong tries" in html.unescape(response.content.decode())
    # From another address the code itself is locked too.
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert other.post(TRACK, {"code": complaint.tracking_code, "phone": "0912345601"}).status_code == 429
    # Another code from that other address still works.
    fresh = _complaint(category=5, phone="0912345602")
    assert other.post(TRACK, {"code": fresh.tracking_code, "phone": "0912345602"}).status_code == 200


def test_the_track_form_needs_csrf(world: Any) -> None:
    complaint = _complaint()
    response = Client(enforce_csrf_checks=True).post(
        TRACK, {"code": complaint.tracking_code, "phone": "0912345601"}
    )
    assert response.status_code == 403
