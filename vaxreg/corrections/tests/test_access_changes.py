"""Changes of the fields that open a citizen's own access wait for a second step, and never outlive it."""

import datetime as dt

import pytest
from django.utils import timezone

from vaxreg.core import clock
from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType
from vaxreg.corrections.models import AccessChangeConfirmer
from vaxreg.corrections.services import (
    AccessChangeRefused,
    CorrectionRefused,
    access_change_confirm,
    access_change_request,
    access_changes_expire,
    person_correct,
)
from vaxreg.people.models import Person


def _ask(world, **changes):
    return access_change_request(
        person_id=world.persons["dao_hn"].pk, changes=changes, reason="Theo phản ánh",
        actor_id=world.users["facility_hn1"].pk, source_type=SourceType.COMPLAINT, source_id="ABCD-EFGH",
    )  # fmt: skip


def test_nothing_changes_until_the_second_step_and_the_request_is_audited(world):
    change = _ask(world, phone="+84 977 000 111")
    assert change.changes == {"phone": "0977000111"} and change.old_values == {"phone": "0912345601"}
    assert Person.objects.get(pk=change.person_id).phone == "0912345601"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IDENTITY_CHANGE_REQUESTED).count() == 1
    assert _ask(world, phone="0912345601") is None  # already the stored value: nothing to ask
    with pytest.raises(CorrectionRefused, match="cannot be corrected"):
        _ask(world, full_name="Ai đó")  # not an access field: an ordinary correction changes it
    with pytest.raises(CorrectionRefused, match="phone"):
        _ask(world, phone="12")


def test_a_request_is_refused_once_its_value_moved_on_or_its_time_is_past(world, monkeypatch):
    station = world.users["commune_badinh"]
    moved = _ask(world, phone="0977000111")
    person = Person.objects.get(pk=moved.person_id)
    person_correct(
        person_id=person.pk, expected_version=person.version, changes={"phone": "0977000999"},
        reason="Trạm gọi điện xác nhận", actor_id=station.pk,
    )  # fmt: skip
    with pytest.raises(AccessChangeRefused, match="changed since"):
        access_change_confirm(
            change_id=moved.pk, how=AccessChangeConfirmer.STATION, actor=station, note="CCCD gốc"
        )
    assert Person.objects.get(pk=person.pk).phone == "0977000999"

    late = _ask(world, commune_id="00070")
    later = clock.now() + dt.timedelta(days=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    monkeypatch.setattr(clock, "today", lambda: timezone.localdate(later))
    with pytest.raises(AccessChangeRefused, match="expired"):
        access_change_confirm(
            change_id=late.pk, how=AccessChangeConfirmer.STATION, actor=station, note="CCCD gốc"
        )
    assert access_changes_expire() == 2  # the stale one waits too until its time is past
    late.refresh_from_db()
    assert late.state == "expired"
    assert ChangeRecord.objects.filter(
        entity="access_change", entity_id=late.pk, new_value="expired"
    ).exists()
    assert access_changes_expire() == 0
