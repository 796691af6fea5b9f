"""A province's worklist narrows to one of its communes (where a commune's dashboard leads); a station's
worklist, one commune already, has no such filter."""

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.people.models import Person
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World, world  # noqa: F401 - the fixture
from vaxreg.verification.services import cases_sync

pytestmark = pytest.mark.django_db


def test_the_province_worklist_shows_one_commune_when_asked(world: World) -> None:  # noqa: F811
    ids = [world.persons["dao_hn"].pk, world.persons["binh_hn"].pk]  # Ba Đình, Hoàn Kiếm
    Person.objects.filter(pk__in=ids).update(gender="")
    quality_check_persons(person_ids=ids)
    cases_sync(person_ids=ids)
    province = Client()
    province.force_login(world.users["province_hn"])
    url = reverse("verification:worklist")
    everything = province.get(url).content.decode()
    assert "Nguyễn Thị Đào" in everything and "Trần Văn Bình" in everything
    one = province.get(url, {"commune": "00070"}).content.decode()
    assert "Trần Văn Bình" in one and "Nguyễn Thị Đào" not in one
    station = Client()
    station.force_login(world.users["commune_badinh"])
    assert 'name="commune"' not in station.get(url).content.decode()
    assert "Nguyễn Thị Đào" in station.get(url, {"commune": "00070"}).content.decode()  # ignored: its own
