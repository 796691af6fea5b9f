"""Merges on the person page: where a merged record went, the survivor's merges and history, and the undo."""

from django.test import Client
from django.urls import reverse

from vaxreg.linkage.merging import person_merge
from vaxreg.linkage.models import PersonMerge
from vaxreg.linkage.tests.test_merge import second_record
from vaxreg.people.models import Person
from vaxreg.testing.world import TEST_PASSWORD, World, world

__all__ = ["world"]


def english(w: World, key: str) -> Client:
    client = Client()
    assert client.login(username=w.users[key].username, password=TEST_PASSWORD)
    client.cookies["django_language"] = "en"
    return client


def merged_pair(w: World) -> tuple[Person, Person, PersonMerge]:
    dao, twin = w.persons["dao_hn"], second_record(w)
    merge = person_merge(
        survivor=dao, merged=twin, field_choices={"phone": "merged"}, actor=w.users["commune_badinh"],
        reason="Cùng một người",
    ).merge  # fmt: skip
    return dao, twin, merge


def test_the_merged_record_says_where_it_went_and_the_survivor_shows_the_merge(world: World) -> None:
    dao, twin, merge = merged_pair(world)
    station = english(world, "commune_badinh")

    page = station.get(reverse("web:person", args=[twin.pk])).content.decode()
    assert 'id="merged-into"' in page and "This record was merged into another record" in page
    assert f'href="{reverse("web:person", args=[dao.pk])}"' in page

    page = station.get(reverse("web:person", args=[dao.pk])).content.decode()
    assert f"Record #{twin.pk} (Nguyen Thi Dao) was merged into this one" in page
    assert reverse("web:merge_undo", args=[merge.pk]) in page and "Undo merge" in page
    assert "Merged from record" in page and "Merge of two records" in page  # the history shows the merge
    assert "01/03/2022" in page  # her booster is on the survivor's page now

    # A facility may read Đào but not undo merges: no button.
    page = english(world, "facility_hn1").get(reverse("web:person", args=[dao.pk])).content.decode()
    assert f"Record #{twin.pk}" in page and "Undo merge" not in page


def test_undo_from_the_person_page(world: World) -> None:
    dao, twin, merge = merged_pair(world)
    url = reverse("web:merge_undo", args=[merge.pk])
    assert english(world, "facility_hn1").post(url, {"reason": "Nhầm người"}).status_code == 403
    assert english(world, "commune_hoankiem").post(url, {"reason": "Nhầm người"}).status_code == 404
    station = english(world, "commune_badinh")
    refused = station.post(url, {"reason": ""})
    assert refused.status_code == 400 and PersonMerge.objects.get().undone_at is None

    answer = station.post(url, {"reason": "Nhầm người"}, follow=True)

    assert answer.redirect_chain[-1][0] == reverse("web:person", args=[dao.pk])
    assert "The merge was undone" in answer.content.decode()
    assert Person.objects.get(pk=twin.pk).merged_into_id is None
    assert Person.objects.get(pk=dao.pk).phone == "0912345601"
    again = station.post(url, {"reason": "Nhầm người"})
    assert again.status_code == 400 and "already been undone" in again.content.decode()
