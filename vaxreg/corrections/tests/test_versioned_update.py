"""The one optimistic-locking write (``vaxreg.core.versioning``), on whichever database the tests run on."""

import pytest

from vaxreg.core.refusals import StaleVersion
from vaxreg.core.versioning import version_expect, versioned_update
from vaxreg.people.models import Person


def _stale(person: Person) -> StaleVersion:
    return StaleVersion("Đã đổi.", "Changed.", current={"phone": person.phone, "version": person.version})


def test_a_versioned_update_writes_the_fields_and_moves_the_version_on(world):
    person = Person.objects.get(pk=world.persons["dao_hn"].pk)
    person.phone, person.address = "0911222333", "12 Phố Huế"
    versioned_update(person, fields=["phone"], stale=_stale)
    assert person.version == 2
    stored = Person.objects.get(pk=person.pk)
    assert (stored.phone, stored.version) == ("0911222333", 2)
    assert stored.address == ""  # only the fields named are written


def test_a_write_over_someone_elses_is_refused_with_what_is_stored_and_writes_nothing(world):
    mine = Person.objects.get(pk=world.persons["dao_hn"].pk)
    theirs = Person.objects.get(pk=mine.pk)
    theirs.phone = "0987654321"
    versioned_update(theirs, fields=["phone"], stale=_stale)

    mine.phone = "0911222333"
    with pytest.raises(StaleVersion) as refused:
        versioned_update(mine, fields=["phone"], stale=_stale)
    assert refused.value.status == 409
    assert refused.value.current == {"phone": "0987654321", "version": 2}
    assert Person.objects.get(pk=mine.pk).phone == "0987654321"


def test_the_version_the_user_saw_is_what_the_write_expects(world):
    person = Person.objects.get(pk=world.persons["dao_hn"].pk)
    version_expect(person, None, _stale)  # not checked
    version_expect(person, 1, _stale)
    with pytest.raises(StaleVersion):
        version_expect(person, 0, _stale)
    person.phone = "0911222333"
    with pytest.raises(StaleVersion):
        versioned_update(person, fields=["phone"], stale=_stale, expected_version=5)
    assert Person.objects.get(pk=person.pk).version == 1
