"""Merging two records of one citizen and undoing it: stored rows, history, audit, certificates, refusals."""

import datetime as dt
from pathlib import Path

import pytest

from vaxreg.certificates.issuing import certificate_issue
from vaxreg.certificates.keys import KeyFiles
from vaxreg.certificates.models import Certificate, RevocationReason
from vaxreg.certificates.tests.test_issuing import (
    dcc_key_files,
    dcc_keys,
    qualified,
    sign_off_doses,
)
from vaxreg.complaints.intake import Intake, complaint_submit
from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType
from vaxreg.core.refusals import Forbidden, StaleVersion
from vaxreg.corrections.models import AccessChange, AccessChangeConfirmer, AccessChangeState
from vaxreg.corrections.selectors import access_changes_pending_of_person
from vaxreg.corrections.services import access_change_confirm, access_change_request, person_correct
from vaxreg.imports.tests.conftest import row, run_import, write_csv
from vaxreg.linkage.merging import (
    MergeRefused,
    UnmergeBlocked,
    _after_merge,
    after_merge_register,
    merge_defaults,
    person_merge,
    person_unmerge,
)
from vaxreg.linkage.models import PersonMerge
from vaxreg.linkage.tests.merge_helpers import complaint_make, full_dump
from vaxreg.people.models import Gender, Person
from vaxreg.people.selectors import person_search
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World, dose_make, person_make, world
from vaxreg.vaccinations.models import Dose
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.services import cases_sync

__all__ = ["dcc_key_files", "dcc_keys", "world"]


def second_record(w: World) -> Person:
    """Đào of Ba Đình recorded a second time: no diacritics, no ID, another phone, her booster."""
    twin = person_make(
        full_name="Nguyen Thi Dao", commune=w.communes["00004"], id_number="", phone="0987654321"
    )
    dose_make(
        person=twin,
        facility=w.facilities["HN001"],
        source_record_id="twin-3",
        date=dt.date(2022, 3, 1),
        number=3,
        vaccine=w.vaccine,
    )
    return twin


def test_a_merge_moves_everything_to_the_survivor_with_history_and_audit(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    quality_check_persons(person_ids=[dao.pk, twin.pk])
    cases_sync(person_ids=[twin.pk])  # no ID: a blocking finding, a case at the station
    assert VerificationCase.objects.filter(person=twin, state=CaseState.OPEN).exists()
    complaint = complaint_make(twin)
    station = world.users["commune_badinh"]

    result = person_merge(
        survivor=dao, merged=twin, field_choices={"phone": "merged"}, actor=station, reason="Cùng một người"
    )

    dao.refresh_from_db()
    twin.refresh_from_db()
    assert dao.phone == "0987654321"  # chosen
    assert dao.full_name == "Nguyễn Thị Đào" and dao.id_number == "001190012345"  # defaults kept hers
    assert twin.merged_into_id == dao.pk and twin.full_name == "Nguyen Thi Dao"  # kept, not deleted
    assert sorted(dao.doses.values_list("source_record_id", flat=True)) == ["dao_hn-0", "dao_hn-1", "twin-3"]
    assert not twin.doses.exists() and not Finding.objects.filter(person=twin).exists()
    assert VerificationCase.objects.filter(person=dao).count() == 1
    complaint.refresh_from_db()
    assert complaint.person_id == dao.pk
    # The survivor has a CCCD: the missing-ID finding the twin brought is closed by the rules' re-run.
    assert not Finding.objects.filter(person=dao, is_open=True, code="ID_MISSING").exists()
    assert Finding.objects.filter(person=dao, is_open=False, code="ID_MISSING").exists()

    merge = result.merge
    history = ChangeRecord.objects.filter(source_type=SourceType.MERGE, source_id=str(merge.pk))
    assert history.filter(entity="person", entity_id=dao.pk, field="phone").get().new_value == "0987654321"
    assert history.filter(entity="person", entity_id=dao.pk, field="merged_from").get().new_value == str(
        twin.pk
    )
    assert history.filter(entity="person", entity_id=twin.pk, field="merged_into_id").get().new_value == str(
        dao.pk
    )
    assert history.filter(entity="dose", field="person_id").count() == 1
    assert history.filter(entity="complaint", entity_id=complaint.pk).exists()
    assert all(r.actor_id == station.pk and r.reason == "Cùng một người" for r in history)
    event = AuditEvent.objects.get(action=AuditEvent.Action.PERSONS_MERGED, object_id=str(merge.pk))
    assert event.detail["survivor"] == dao.pk and event.detail["moved"]["dose"] == 1
    # Searches find the citizen once, through the survivor.
    assert [p.pk for p in person_search(user=station, q="Nguyen Thi Dao")] == [dao.pk]


def test_one_active_case_per_person_the_merged_one_is_closed(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    Person.objects.filter(pk=dao.pk).update(gender=Gender.MALE)  # her CCCD says female: blocking
    quality_check_persons(person_ids=[dao.pk, twin.pk])
    cases_sync(person_ids=[dao.pk, twin.pk])
    dao.refresh_from_db()
    twin_case = VerificationCase.objects.get(person=twin)

    person_merge(survivor=dao, merged=twin, field_choices={}, actor=world.users["national"], reason="Trùng")

    twin_case.refresh_from_db()
    assert twin_case.person_id == dao.pk and twin_case.state == CaseState.RESOLVED
    assert "merged into record" in twin_case.resolution
    assert VerificationCase.objects.filter(person=dao, state=CaseState.OPEN).count() == 1


def test_certificates_of_both_are_revoked_and_the_survivor_gets_one(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    twin = second_record(world)
    sign_off_doses(world, twin)
    old = certificate_issue(person_id=dao.pk)
    assert old.dose_ids and len(old.dose_ids) == 2

    result = person_merge(
        survivor=dao, merged=twin, field_choices={}, actor=world.users["commune_badinh"], reason="Trùng"
    )

    old.refresh_from_db()
    assert old.revoked_reason == RevocationReason.CORRECTED and old.replaced_by == result.certificate
    new = Certificate.objects.get(person=dao, revoked_at__isnull=True)
    assert new == result.certificate and len(new.dose_ids) == 3
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CERTIFICATE_REVOKED, object_id=str(old.pk)
    ).exists()

    person_unmerge(merge=result.merge, actor=world.users["commune_badinh"], reason="Nhầm người")

    new.refresh_from_db()
    assert new.revoked_at is not None
    # Đào qualifies again with her own two doses; the twin (no ID) does not.
    current = Certificate.objects.get(person=dao, revoked_at__isnull=True)
    assert len(current.dose_ids) == 2 and current not in (old, new)
    assert not Certificate.objects.filter(person=twin, revoked_at__isnull=True).exists()


def test_unmerge_restores_both_records_exactly(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    quality_check_persons(person_ids=[dao.pk, twin.pk])
    cases_sync(person_ids=[twin.pk])
    complaint_make(twin)
    before = full_dump([dao.pk, twin.pk])
    station = world.users["commune_badinh"]
    merge = person_merge(
        survivor=dao, merged=twin, field_choices={"phone": "merged", "full_name": "merged"}, actor=station,
        reason="Trùng",
    ).merge  # fmt: skip

    person_unmerge(merge=merge, actor=station, reason="Không phải một người")

    assert full_dump([dao.pk, twin.pk]) == before
    merge.refresh_from_db()
    assert merge.undone_by == station and merge.undo_reason == "Không phải một người"
    steps = ChangeRecord.objects.filter(entity="person", entity_id=dao.pk, field="phone", source_type="merge")
    assert [(r.old_value, r.new_value) for r in steps.order_by("pk")] == [
        ("0912345601", "0987654321"),
        ("0987654321", "0912345601"),
    ]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.PERSONS_UNMERGED, object_id=str(merge.pk)
    ).exists()
    with pytest.raises(MergeRefused) as refused:
        person_unmerge(merge=merge, actor=station, reason="Lần nữa")
    assert refused.value.code == "already_undone"
    # Merged again, after the undo: allowed (the earlier merge stays as history).
    twin.refresh_from_db()
    dao.refresh_from_db()
    person_merge(survivor=dao, merged=twin, field_choices={}, actor=station, reason="Thật ra là một")
    assert PersonMerge.objects.filter(merged=twin).count() == 2


def test_unmerge_is_refused_when_a_later_change_touched_what_it_would_restore(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    station = world.users["commune_badinh"]
    merge = person_merge(
        survivor=dao, merged=twin, field_choices={"phone": "merged"}, actor=station, reason="Trùng"
    ).merge
    dao.refresh_from_db()
    person_correct(
        person_id=dao.pk, expected_version=dao.version, changes={"phone": "0911111111"}, reason="Số mới",
        actor_id=station.pk,
    )  # fmt: skip

    with pytest.raises(UnmergeBlocked) as refused:
        person_unmerge(merge=merge, actor=station, reason="Nhầm")
    assert refused.value.changed == [f"#{dao.pk}.phone"] and "phone" in refused.value.message_en
    assert refused.value.status == 409
    dao.refresh_from_db()
    assert dao.phone == "0911111111" and PersonMerge.objects.get().undone_at is None

    # A change the undo does not touch (the address) does not stand in its way.
    person_correct(
        person_id=dao.pk, expected_version=dao.version, changes={"phone": "0987654321", "address": "Số 1"},
        reason="Trả lại", actor_id=station.pk,
    )  # fmt: skip
    person_unmerge(merge=merge, actor=station, reason="Nhầm")
    dao.refresh_from_db()
    assert dao.phone == "0912345601" and dao.address == "Số 1"


def test_refusals_same_person_already_merged_stale_and_outside_jurisdiction(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    station = world.users["commune_badinh"]
    with pytest.raises(MergeRefused) as refused:
        person_merge(survivor=dao, merged=dao, field_choices={}, actor=station, reason="Trùng")
    assert refused.value.code == "same_person"

    # Hoàn Kiếm's station does not answer for Đào of Ba Đình; a facility may not merge at all.
    for outsider in ("commune_hoankiem", "province_hcm", "facility_hn1", "police_badinh"):
        with pytest.raises(Forbidden):
            person_merge(
                survivor=dao, merged=twin, field_choices={}, actor=world.users[outsider], reason="Trùng"
            )

    stale = Person.objects.get(pk=twin.pk)
    stale.version -= 1
    with pytest.raises(StaleVersion):
        person_merge(survivor=dao, merged=stale, field_choices={}, actor=station, reason="Trùng")

    with pytest.raises(MergeRefused) as refused:
        person_merge(
            survivor=dao, merged=twin, field_choices={"phone": "both"}, actor=station, reason="Trùng"
        )
    assert refused.value.field == "field_choices"

    person_merge(survivor=dao, merged=twin, field_choices={}, actor=station, reason="Trùng")
    twin.refresh_from_db()
    dao.refresh_from_db()
    with pytest.raises(MergeRefused) as refused:
        person_merge(
            survivor=twin,
            merged=world.persons["binh_hn"],
            field_choices={},
            actor=world.users["national"],
            reason="x y z",
        )
    assert refused.value.code == "already_merged"
    assert PersonMerge.objects.count() == 1
    assert (
        not AuditEvent.objects.filter(action=AuditEvent.Action.PERSONS_MERGED)
        .exclude(object_id=str(PersonMerge.objects.get().pk))
        .exists()
    )


def test_the_defaults_prefer_a_value_then_the_cccd_consistent_record_then_the_latest(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    defaults = merge_defaults(dao, twin)
    # Đào's CCCD agrees with her gender and birth year: her values win; the twin's empty ID loses anyway.
    assert defaults["id_number"] == "survivor" and defaults["phone"] == "survivor"
    assert (
        merge_defaults(twin, dao)["phone"] == "merged" and merge_defaults(twin, dao)["id_number"] == "merged"
    )
    # Neither CCCD-consistent: the most recently changed record's value wins.
    cuong, dao_hcm = world.persons["cuong_hcm"], world.persons["dao_hcm"]
    Person.objects.filter(pk__in=[cuong.pk, dao_hcm.pk]).update(id_type="", id_number="")
    cuong.refresh_from_db()
    dao_hcm.refresh_from_db()
    newer = dao_hcm if dao_hcm.updated_at > cuong.updated_at else cuong
    assert merge_defaults(cuong, dao_hcm)["phone"] == ("merged" if newer is dao_hcm else "survivor")


def test_the_rules_leave_the_merged_record_alone_even_when_it_shares_the_survivors_id(world: World) -> None:
    dao = world.persons["dao_hn"]
    twin = person_make(full_name="Nguyễn Thị Đào", commune=world.communes["00004"], id_number=dao.id_number)
    Person.objects.filter(pk=twin.pk).update(gender=Gender.MALE, birth_year=1991)  # typed wrong twice
    twin.refresh_from_db()
    quality_check_persons(person_ids=[dao.pk, twin.pk])
    assert Finding.objects.filter(person=twin, is_open=True, code="ID_SHARED").exists()

    person_merge(
        survivor=dao, merged=twin, field_choices={}, actor=world.users["province_hn"], reason="Trùng"
    )
    quality_check_persons(person_ids=[dao.pk, twin.pk])

    assert not Finding.objects.filter(person=twin).exists()
    assert not Finding.objects.filter(
        person=dao, is_open=True, code__in=["ID_SHARED", "ID_GENDER_MISMATCH"]
    ).exists()


def test_imports_and_complaints_reach_the_survivor_not_the_merged_record(
    world: World, tmp_path: Path
) -> None:
    dao = world.persons["dao_hn"]  # the older record is the one merged away
    newer = person_make(full_name="Nguyễn Thị Đào", commune=world.communes["00004"], id_number=dao.id_number)
    person_merge(
        survivor=newer, merged=dao, field_choices={}, actor=world.users["commune_badinh"], reason="Trùng"
    )

    csv = write_csv(
        tmp_path / "lieu.csv",
        [
            row(
                full_name="Nguyễn Thị Đào", date_of_birth="15/01/1990", id_number=dao.id_number, phone="0912345601",
                commune_code="00004", facility_code="HN001", source_record_id="NEW-1",
                vaccination_date="01/06/2022", dose_number="3",
            )
        ],
    )  # fmt: skip
    run_import(csv)
    assert Dose.objects.get(source_record_id="NEW-1").person_id == newer.pk
    assert not Dose.objects.filter(person=dao).exists()

    complaint = complaint_submit(
        intake=Intake(
            category=3,
            full_name=dao.full_name,
            phone="0912345601",
            id_number=dao.id_number,
            facility_code="HN001",
        )
    )
    assert complaint.person_id == newer.pk


def test_what_registers_after_merges_runs_inside_the_merge_and_its_undo(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    seen: list[tuple[int, bool, int | None]] = []

    def note(merge: PersonMerge, undone: bool) -> None:
        seen.append((merge.pk, undone, Person.objects.get(pk=merge.merged_id).merged_into_id))

    after_merge_register("test-note", note)
    try:
        merge = person_merge(
            survivor=dao, merged=twin, field_choices={}, actor=world.users["national"], reason="Trùng"
        ).merge
        person_unmerge(merge=merge, actor=world.users["national"], reason="Nhầm")
    finally:
        _after_merge[:] = [(n, h) for n, h in _after_merge if n != "test-note"]
    assert seen == [(merge.pk, False, dao.pk), (merge.pk, True, None)]


# -- the access changes waiting for a second step -------------------------------------------------------------


def _ask_change(person: Person, w: World, **changes: str) -> AccessChange:
    change = access_change_request(
        person_id=person.pk, changes=changes, reason="Theo phản ánh", actor_id=w.users["facility_hn1"].pk,
        source_type=SourceType.COMPLAINT, source_id="ABCD-EFGH",
    )  # fmt: skip
    assert change is not None
    return change


def test_pending_access_changes_follow_the_merge_when_they_still_apply_and_come_back_with_the_undo(
    world: World,
) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    phone = _ask_change(twin, world, phone="0977000111")  # asked against the twin's phone, which dao takes
    commune = _ask_change(twin, world, commune_id="00070")  # both records live in Ba Đình
    id_number = _ask_change(twin, world, id_type="cccd", id_number="001190099999")  # dao has her own CCCD
    station = world.users["commune_badinh"]
    before = full_dump([dao.pk, twin.pk])

    result = person_merge(
        survivor=dao, merged=twin, field_choices={"phone": "merged"}, actor=station, reason="Cùng một người"
    )

    # The citizen and the station work on the survivor: the changes that still apply wait there.
    assert [c.pk for c in access_changes_pending_of_person(person_id=dao.pk)] == [phone.pk, commune.pk]
    assert not access_changes_pending_of_person(person_id=twin.pk).exists()
    # The ID change was asked against the twin's empty ID, not dao's CCCD: withdrawn, saying why.
    id_number.refresh_from_db()
    assert id_number.person_id == twin.pk and id_number.state == AccessChangeState.CANCELLED
    assert id_number.decided_by_id == station.pk and id_number.decided_at is not None
    assert id_number.decision_note.startswith(f"đã rút lại: hồ sơ #{twin.pk} đã được gộp vào hồ sơ #{dao.pk}")
    assert f"/ withdrawn: record #{twin.pk} was merged into record #{dao.pk}" in id_number.decision_note
    history = ChangeRecord.objects.filter(
        source_type=SourceType.MERGE, source_id=str(result.merge.pk), entity="access_change"
    )
    assert set(history.filter(field="person_id").values_list("entity_id", flat=True)) == {
        phone.pk,
        commune.pk,
    }
    assert history.filter(entity_id=id_number.pk, field="state").get().new_value == "cancelled"
    event = AuditEvent.objects.get(action=AuditEvent.Action.PERSONS_MERGED, object_id=str(result.merge.pk))
    assert event.detail["moved"]["access_change"] == 2 and event.detail["access_changes_withdrawn"] == [
        id_number.pk
    ]

    person_unmerge(merge=result.merge, actor=station, reason="Không phải một người")

    assert full_dump([dao.pk, twin.pk])["access_change"] == before["access_change"]
    assert [c.pk for c in access_changes_pending_of_person(person_id=twin.pk)] == [
        phone.pk,
        commune.pk,
        id_number.pk,
    ]


def test_a_moved_access_change_confirmed_on_the_survivor_blocks_the_undo(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    change = _ask_change(twin, world, phone="0977000111")
    station = world.users["commune_badinh"]
    result = person_merge(
        survivor=dao, merged=twin, field_choices={"phone": "merged"}, actor=station, reason="Cùng một người"
    )
    access_change_confirm(
        change_id=change.pk, how=AccessChangeConfirmer.STATION, actor=station, note="CCCD gốc"
    )
    assert Person.objects.get(pk=dao.pk).phone == "0977000111"

    with pytest.raises(UnmergeBlocked) as blocked:
        person_unmerge(merge=result.merge, actor=station, reason="Không phải một người")
    assert f"access_change #{change.pk}" in blocked.value.changed
