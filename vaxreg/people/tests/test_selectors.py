"""Scoped reads of persons: every role sees exactly its jurisdiction (SPEC §2)."""

import datetime as dt

import pytest

from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.jurisdiction import Scope, jurisdiction_of
from vaxreg.core.models import AuditEvent, SourceType
from vaxreg.people.selectors import (
    PersonNotVisible,
    person_doses,
    person_full_id_number,
    person_get_for_user,
    person_history,
    person_search,
    persons_for_user,
)
from vaxreg.testing.world import World, dose_make

pytestmark = pytest.mark.django_db
USERS = list(World.VISIBLE)


def keys_of(w: World, persons) -> set[str]:
    by_pk = {p.pk: k for k, p in w.persons.items()}
    return {by_pk[p.pk] for p in persons}


@pytest.mark.parametrize("user_key", USERS)
def test_each_role_sees_exactly_its_jurisdiction(world, user_key):
    visible = persons_for_user(user=world.users[user_key])
    assert keys_of(world, visible) == world.visible(user_key)
    # A person with several doses in the unit is listed once (no join duplicates).
    assert len(list(visible)) == len(world.visible(user_key))


def test_police_and_anonymous_read_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert jurisdiction_of(world.users["police_badinh"]).scope is Scope.NOTHING
    assert jurisdiction_of(AnonymousUser()).scope is Scope.NOTHING
    assert not persons_for_user(user=AnonymousUser()).exists()


def test_inactive_user_reads_nothing(world):
    user = world.users["national"]
    user.is_active = False
    assert not persons_for_user(user=user).exists()


@pytest.mark.parametrize("user_key", USERS)
def test_name_search_without_diacritics_stays_in_jurisdiction(world, user_key):
    found = keys_of(world, person_search(user=world.users[user_key], q="nguyen thi dao"))
    assert found == {"dao_hn", "dao_hcm"} & world.visible(user_key)


@pytest.mark.parametrize("q", ["Nguyễn Thị Đào", "NGUYEN THI DAO", "nguyễn", "Đào", "dao"])
def test_name_search_with_or_without_diacritics_prefix_or_given_name(world, q):
    found = keys_of(world, person_search(user=world.users["province_hn"], q=q))
    assert found == {"dao_hn"}


@pytest.mark.parametrize("user_key", USERS)
def test_full_id_and_phone_search_stay_in_jurisdiction(world, user_key):
    user = world.users[user_key]
    for key, person in world.persons.items():
        expected = {key} if key in world.visible(user_key) else set()
        assert keys_of(world, person_search(user=user, q=person.id_number)) == expected
        international = "+84 " + person.phone[1:4] + " " + person.phone[4:]
        assert keys_of(world, person_search(user=user, q=international)) == expected


def test_partial_id_number_finds_nothing(world):
    assert person_search(user=world.users["national"], q=world.persons["dao_hn"].id_number[:8]) == []
    assert person_search(user=world.users["national"], q="   ") == []


def test_person_outside_jurisdiction_looks_like_no_person(world):
    hidden = world.persons["cuong_hcm"]
    with pytest.raises(PersonNotVisible):
        person_get_for_user(user=world.users["province_hn"], person_id=hidden.pk)
    with pytest.raises(PersonNotVisible):
        person_get_for_user(user=world.users["province_hn"], person_id=10**9)
    assert person_get_for_user(user=world.users["province_hcm"], person_id=hidden.pk) == hidden


def test_facility_sees_all_doses_of_its_persons(world):
    traveller = person_get_for_user(
        user=world.users["facility_hn1"], person_id=world.persons["hoa_traveller"].pk
    )
    doses = person_doses(traveller)
    assert [d.facility.code for d in doses] == ["HN001", "HCM01"]


def test_history_shows_person_and_dose_changes_newest_first(world):
    person = world.persons["dao_hn"]
    dose = person_doses(person)[1]
    record_change(
        entity="dose",
        entity_id=dose.pk,
        changes={"lot_number": ("LOT-x", "AB12")},
        source=ChangeSource(
            type=SourceType.CORRECTION, reason="Sai số lô", actor_id=world.users["facility_hn1"].pk
        ),
    )
    other = world.persons["binh_hn"]
    record_change(
        entity="person",
        entity_id=other.pk,
        changes={"phone": ("1", "2")},
        source=ChangeSource(type=SourceType.SYSTEM),
    )
    history = person_history(person)
    assert [(c.entity, c.field) for c in history] == [("dose", "lot_number"), ("person", "phone")]
    assert history[0].actor.username == "facility_hn1"


def test_full_id_number_read_is_audited(world):
    user = world.users["commune_badinh"]
    person, number = person_full_id_number(user=user, person_id=world.persons["dao_hn"].pk)
    assert number == "001190012345"
    event = AuditEvent.objects.get(action=AuditEvent.Action.FULL_ID_READ)
    assert (event.actor, event.object_id) == (user, str(person.pk))


def test_full_id_number_outside_jurisdiction_is_refused_and_not_logged(world):
    with pytest.raises(PersonNotVisible):
        person_full_id_number(user=world.users["commune_hoankiem"], person_id=world.persons["dao_hn"].pk)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()


def test_a_new_dose_brings_a_person_into_a_facility_jurisdiction(world):
    user = world.users["facility_hn1"]
    binh = world.persons["binh_hn"]
    assert binh.pk not in {p.pk for p in persons_for_user(user=user)}
    dose_make(
        person=binh,
        facility=world.facilities["HN001"],
        source_record_id="late",
        date=dt.date(2022, 1, 5),
        number=3,
        vaccine=world.vaccine,
    )
    assert binh.pk in {p.pk for p in persons_for_user(user=user)}
