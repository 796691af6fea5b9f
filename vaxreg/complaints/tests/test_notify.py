import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from vaxreg.accounts.models import User
from vaxreg.complaints.deadline import complaints_tick
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint, Notice
from vaxreg.complaints.notify import NoticesSent, notices_send
from vaxreg.complaints.services import complaint_reject
from vaxreg.core.messaging import memory_outbox
from vaxreg.core.models import ChangeRecord


@pytest.fixture(autouse=True)
def outbox() -> Iterator[list[Any]]:
    memory_outbox.clear()
    yield memory_outbox
    memory_outbox.clear()


def _submit(phone: str = "0912345601", **values: Any) -> Complaint:
    intake: dict[str, Any] = {
        "category": 3,
        "full_name": "Nguyễn Thị Đào",
        "phone": phone,
        "id_number": "001190012345",
    }
    return complaint_submit(intake=Intake(**(intake | values)))


def test_the_citizen_gets_the_receipt_by_sms_once(world: Any, outbox: list[Any]) -> None:
    complaint = _submit(facility_code="HN001")
    assert notices_send() == NoticesSent(sent=1, in_app=0, failed=0)
    assert [(m.to, complaint.tracking_code in m.text) for m in outbox] == [("0912345601", True)]
    notice = Notice.objects.get(complaint=complaint)
    assert notice.sent_at is not None
    history = ChangeRecord.objects.get(entity="notice", entity_id=notice.pk)
    assert (history.field, history.source_id) == ("sent_at", complaint.tracking_code)
    assert notices_send() == NoticesSent(sent=0, in_app=0, failed=0)
    assert len(outbox) == 1


def test_the_citizen_is_told_the_outcome(world: Any, outbox: list[Any]) -> None:
    complaint = _submit(facility_code="HN001")
    complaint_reject(
        actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="unreadable", text="Ảnh mờ"
    )
    notices_send()
    texts = [m.text for m in outbox if m.to == "0912345601"]
    assert len(texts) == 2 and "Ảnh mờ" in texts[1]


def test_reminders_go_to_the_units_staff_by_email_or_stand_in_its_inbox(
    world: Any, outbox: list[Any]
) -> None:
    User.objects.filter(username="facility_hn1").update(email="tiemchung@bachmai.vn")
    complaint = _submit(facility_code="HN001")
    notices_send()
    outbox.clear()
    complaints_tick(now=complaint.due_at - dt.timedelta(hours=11))
    complaints_tick(now=complaint.due_at + dt.timedelta(minutes=1))
    # The facility has a contact; the province (no staff e-mail) sees the late complaint in its inbox.
    assert notices_send() == NoticesSent(sent=1, in_app=1, failed=0)
    assert [(m.to, m.subject) for m in outbox] == [
        ("tiemchung@bachmai.vn", f"VaxReg: phản ánh {complaint.tracking_code}")
    ]
    escalated = Notice.objects.get(complaint=complaint, kind=Notice.Kind.ESCALATED)
    assert escalated.sent_at is not None
    reason = ChangeRecord.objects.get(entity="notice", entity_id=escalated.pk).reason
    assert "in-app only" in reason


def test_a_refused_message_is_kept_and_sent_next_round(world: Any, settings: Any, outbox: list[Any]) -> None:
    _submit(facility_code="HN001")
    _submit(phone="0912345602", id_number="001090054321", full_name="Trần Văn Bình", facility_code="HN002")
    settings.VAXREG_MESSAGE_BACKEND = "smtp"  # without an SMS gateway domain a phone cannot be reached
    settings.VAXREG_SMS_EMAIL_DOMAIN = ""
    assert notices_send() == NoticesSent(sent=0, in_app=0, failed=2)
    assert not Notice.objects.exclude(sent_at=None).exists()
    settings.VAXREG_MESSAGE_BACKEND = "memory"
    assert notices_send() == NoticesSent(sent=2, in_app=0, failed=0)
    assert sorted(m.to for m in outbox) == ["0912345601", "0912345602"]


def test_a_backend_that_is_down_is_not_hammered(world: Any, settings: Any) -> None:
    for i in range(8):
        _submit(phone=f"09123456{i:02d}", id_number=f"0011900123{i:02d}", facility_code="HN001")
    settings.VAXREG_MESSAGE_BACKEND = "smtp"
    settings.VAXREG_SMS_EMAIL_DOMAIN = ""
    assert notices_send().failed == 5
    assert Notice.objects.filter(sent_at=None).count() == 8


def test_one_round_sends_at_most_its_limit_oldest_first(world: Any, outbox: list[Any]) -> None:
    phones = [f"09123456{i:02d}" for i in range(5)]
    for i, phone in enumerate(phones):
        _submit(phone=phone, id_number=f"0011900123{i:02d}", facility_code="HN001")
    assert notices_send(limit=3).sent == 3
    assert notices_send(limit=3).sent == 2
    assert [m.to for m in outbox] == phones


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_each_notice_once(outbox: list[Any]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite lets one writer in at a time, so there is no race to show")
    from vaxreg.testing.world import world_build

    world_build()
    for i in range(60):
        _submit(phone=f"0912{i:06d}", id_number=f"0011900{i:05d}", facility_code="HN001")
    results: list[NoticesSent] = []

    def worker() -> None:
        results.append(notices_send(limit=100))
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in results) == 60
    assert len(outbox) == 60 and len({m.to for m in outbox}) == 60
    assert not Notice.objects.filter(sent_at=None).exists()
