"""The 48-hour clock with time moved forward: a reminder at 12 hours left, escalation past due, each
exactly once — within one process, and across worker processes killed and started again."""

import datetime as dt
import signal
from typing import Any

import pytest

from vaxreg.complaints.deadline import TickResult, complaints_tick
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.complaints.models import Complaint, Notice
from vaxreg.complaints.selectors import complaints_for_user
from vaxreg.complaints.services import complaint_defer, complaint_reject
from vaxreg.core.models import ChangeRecord
from vaxreg.core.tests.test_worker import WORKER, Scratch, scratch, stop, wait_until

__all__ = ["scratch"]

NOTHING = TickResult(reminded=0, escalated=0)


def _submit(**values: Any) -> Complaint:
    intake: dict[str, Any] = {
        "category": 3,
        "full_name": "Nguyễn Thị Đào",
        "phone": "0912345601",
        "id_number": "001190012345",
    }
    return complaint_submit(intake=Intake(**(intake | {"facility_code": "HN001"} | values)))


def _history(complaint: Complaint, field: str) -> int:
    return ChangeRecord.objects.filter(entity="complaint", entity_id=complaint.pk, field=field).count()


def test_one_reminder_at_36_hours_one_escalation_at_48_and_nothing_else(world: Any) -> None:
    complaint = _submit()
    t = complaint.received_at
    assert complaint.due_at == t + dt.timedelta(hours=48)

    assert complaints_tick(now=t + dt.timedelta(hours=35, minutes=59)) == NOTHING
    assert complaints_tick(now=t + dt.timedelta(hours=36)) == TickResult(reminded=1, escalated=0)
    assert complaints_tick(now=t + dt.timedelta(hours=36)) == NOTHING
    assert complaints_tick(now=t + dt.timedelta(hours=40)) == NOTHING
    facility, province = world.users["facility_hn1"], world.users["province_hn"]
    assert complaint in complaints_for_user(user=facility)  # still the facility's, 8 hours left

    assert complaints_tick(now=t + dt.timedelta(hours=48)) == TickResult(reminded=0, escalated=1)
    for hours in (48, 49, 72, 24 * 30):
        assert complaints_tick(now=t + dt.timedelta(hours=hours)) == NOTHING

    complaint.refresh_from_db()
    assert complaint.reminded_at == t + dt.timedelta(hours=36)
    assert complaint.escalated_at == t + dt.timedelta(hours=48)  # counted late
    assert complaint.handler_province_id == "01"
    assert complaint in complaints_for_user(user=province)  # now in the province's inbox...
    assert complaint not in complaints_for_user(user=facility)  # ...and no longer the facility's
    kinds = sorted(Notice.objects.filter(complaint=complaint).values_list("kind", "recipient"))
    assert kinds == [("escalated", "SYT 01"), ("received", "0912345601"), ("reminder", "HN001")]
    assert (_history(complaint, "reminded_at"), _history(complaint, "escalated_at")) == (1, 1)


def test_a_complaint_closed_in_time_is_neither_reminded_nor_escalated(world: Any) -> None:
    complaint = _submit()
    complaint_reject(actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="unreadable")
    for hours in (36, 48, 72):
        assert complaints_tick(now=complaint.received_at + dt.timedelta(hours=hours)) == NOTHING


def test_a_deferred_complaint_still_runs_against_its_48_hours(world: Any) -> None:
    complaint = _submit()
    complaint_defer(
        actor=world.users["facility_hn1"], complaint_id=complaint.pk, reason="Chờ hồ sơ gốc",
        until=complaint.received_at.date() + dt.timedelta(days=7),
    )  # fmt: skip
    assert complaints_tick(now=complaint.due_at).escalated == 1


def test_a_joined_complaint_runs_on_the_clock_of_the_one_it_joined(world: Any) -> None:
    first = _submit()
    second = _submit(description="gửi lại")
    assert second.joined_to_id == first.pk and second.due_at == first.due_at
    assert complaints_tick(now=first.due_at) == TickResult(reminded=0, escalated=1)


def test_a_worker_down_through_the_reminder_window_escalates_on_its_return(world: Any) -> None:
    complaint = _submit()
    assert complaints_tick(now=complaint.due_at + dt.timedelta(hours=5)) == TickResult(
        reminded=0, escalated=1
    )


# --- across worker processes ---------------------------------------------------------------------------

T = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
_SETUP = (
    "from vaxreg.testing.world import world_build\n"
    "from vaxreg.accounts.models import User\n"
    "from vaxreg.complaints.intake import Intake, complaint_submit\n"
    "world_build()\n"
    "User.objects.filter(username='facility_hn1').update(email='tiemchung@bachmai.vn')\n"
    "User.objects.filter(username='province_hn').update(email='phananh@syt.hanoi.vn')\n"
    "complaint_submit(intake=Intake(category=3, full_name='Nguyễn Thị Đào', phone='0912345601',\n"
    "                               id_number='001190012345', facility_code='HN001'))\n"
)


def _at(hours: float) -> str:
    return (T + dt.timedelta(hours=hours)).isoformat()


def _sent(db: Scratch, kind: str) -> int:
    return int(
        db.value(f"SELECT COUNT(*) FROM complaints_notice WHERE kind = '{kind}' AND sent_at IS NOT NULL")
    )


@pytest.mark.slow
def test_a_worker_killed_between_reminder_and_escalation_repeats_nothing_after_a_restart(
    scratch: Scratch,
) -> None:
    scratch.run(["shell", "-c", _SETUP], now=T.isoformat())

    first = scratch.start(WORKER, now=_at(36), log="first.log")
    try:
        wait_until(lambda: _sent(scratch, "reminder") == 1, what="the reminder to be sent")
    finally:
        assert stop(first, signal.SIGKILL) == -signal.SIGKILL
    assert _sent(scratch, "escalated") == 0

    # Started again 4 hours later, then killed again: nothing is due, nothing is sent twice.
    second = scratch.start(WORKER, now=_at(40), log="second.log")
    try:
        wait_until(lambda: "periodic job notices_send:" in scratch.log("second.log"), what="a round")
    finally:
        assert stop(second, signal.SIGKILL) == -signal.SIGKILL
    assert "TickResult(reminded=0, escalated=0)" in scratch.log("second.log")

    third = scratch.start(WORKER, now=_at(48), log="third.log")
    try:
        wait_until(lambda: _sent(scratch, "escalated") == 1, what="the escalation to be sent")
    finally:
        assert stop(third) == 0  # SIGTERM: a clean stop
    assert "reminded 0, escalated 0" in scratch.run(["complaints_tick", "--now", _at(60)])

    notices = scratch.query(
        "SELECT kind, COUNT(*), COUNT(sent_at) FROM complaints_notice GROUP BY kind ORDER BY kind"
    )
    assert notices == [("escalated", 1, 1), ("received", 1, 1), ("reminder", 1, 1)]
    history = scratch.query(
        "SELECT field, COUNT(*) FROM core_changerecord WHERE entity = 'complaint' GROUP BY field ORDER BY field"
    )
    assert history == [("escalated_at", 1), ("reminded_at", 1), ("state", 1)]
    log = "".join(scratch.log(name) for name in ("first.log", "second.log", "third.log"))
    assert log.count("[SMS → 0912345601]") == 1  # the receipt, sent by the first worker only
    assert log.count("[E-MAIL → tiemchung@bachmai.vn]") == 1  # the reminder, to the facility
    assert log.count("[E-MAIL → phananh@syt.hanoi.vn]") == 1  # the escalation, to the province
