"""The merge API and the auto-merge band: answers, stored rows, refusals per role and jurisdiction."""

import pytest
from django.test import Client

from vaxreg.core.models import AuditEvent
from vaxreg.linkage.merging import person_unmerge, persons_auto_merge
from vaxreg.linkage.models import MergeSource, PersonMerge
from vaxreg.linkage.tests.test_merge import second_record
from vaxreg.people.models import Person
from vaxreg.testing.world import TEST_PASSWORD, World, person_make, world

__all__ = ["world"]


def client_for(w: World, key: str) -> Client:
    client = Client()
    assert client.login(username=w.users[key].username, password=TEST_PASSWORD)
    return client


def merge_body(survivor: Person, merged: Person, **extra: object) -> dict[str, object]:
    return {
        "survivor_id": survivor.pk,
        "survivor_version": survivor.version,
        "merged_id": merged.pk,
        "merged_version": merged.version,
        "reason": "Cùng một người",
        **extra,
    }


def test_a_station_merges_and_undoes_through_the_api(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    client = client_for(world, "commune_badinh")

    answer = client.post(
        "/api/linkage/merges",
        merge_body(dao, twin, field_choices={"phone": "merged"}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["survivor_id"], body["merged_id"], body["source"]) == (dao.pk, twin.pk, "review")
    assert body["field_choices"]["phone"] == "merged" and body["actor"] == "commune_badinh"
    assert Person.objects.get(pk=twin.pk).merged_into_id == dao.pk
    assert Person.objects.get(pk=dao.pk).phone == twin.phone

    again = client.post("/api/linkage/merges", merge_body(dao, twin), content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "stale"

    undo = client.post(
        f"/api/linkage/merges/{body['id']}/undo", {"reason": "Nhầm"}, content_type="application/json"
    )
    assert undo.status_code == 200 and undo.json()["undone_at"]
    assert Person.objects.get(pk=twin.pk).merged_into_id is None
    twice = client.post(
        f"/api/linkage/merges/{body['id']}/undo", {"reason": "Nhầm"}, content_type="application/json"
    )
    assert twice.status_code == 400 and twice.json()["code"] == "already_undone"
    listed = client.get("/api/linkage/merges").json()
    assert [m["id"] for m in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("user", "status"),
    [("commune_hoankiem", 404), ("province_hcm", 404), ("facility_hn1", 403), ("police_badinh", 403)],
)
def test_a_merge_outside_the_users_reach_is_refused(world: World, user: str, status: int) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    answer = client_for(world, user).post(
        "/api/linkage/merges", merge_body(dao, twin), content_type="application/json"
    )
    assert answer.status_code == status
    assert not PersonMerge.objects.exists() and Person.objects.get(pk=twin.pk).merged_into_id is None


def test_an_undo_outside_the_users_reach_is_refused_and_a_bad_choice_is_named(world: World) -> None:
    dao, twin = world.persons["dao_hn"], second_record(world)
    bad = client_for(world, "province_hn").post(
        "/api/linkage/merges",
        merge_body(dao, twin, field_choices={"phone": "both"}),
        content_type="application/json",
    )
    assert bad.status_code == 422
    merged = client_for(world, "province_hn").post(
        "/api/linkage/merges", merge_body(dao, twin), content_type="application/json"
    )
    assert merged.status_code == 200
    merge_id = merged.json()["id"]
    outsider = client_for(world, "commune_hoankiem").post(
        f"/api/linkage/merges/{merge_id}/undo", {"reason": "Nhầm"}, content_type="application/json"
    )
    assert outsider.status_code == 404
    assert PersonMerge.objects.get().undone_at is None


def test_the_auto_merge_band_is_off_by_default_and_merges_only_same_cccd_pairs(
    world: World, settings: object
) -> None:
    dao = world.persons["dao_hn"]
    same_id = person_make(
        full_name="Nguyen Thi Dao", commune=world.communes["00004"], id_number=dao.id_number
    )
    no_id = second_record(world)
    pairs = [(dao.pk, same_id.pk, 0.9999), (dao.pk, no_id.pk, 0.9999)]
    assert persons_auto_merge(pairs=pairs) == []

    settings.VAXREG_LINKAGE_AUTO_MERGE = True  # type: ignore[attr-defined]
    assert persons_auto_merge(pairs=[(dao.pk, same_id.pk, 0.99)]) == []  # below the upper threshold
    merges = persons_auto_merge(pairs=pairs)

    assert [(m.survivor_id, m.merged_id, m.source, m.actor_id) for m in merges] == [
        (dao.pk, same_id.pk, MergeSource.AUTO, None)
    ]
    assert Person.objects.get(pk=no_id.pk).merged_into_id is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.PERSONS_MERGED)
    assert event.detail["source"] == "auto-merge" and event.actor_id is None
    listed = client_for(world, "province_hn").get("/api/linkage/merges?source=auto-merge").json()
    assert [m["id"] for m in listed] == [merges[0].pk]
    assert client_for(world, "province_hcm").get("/api/linkage/merges?source=auto-merge").json() == []
    person_unmerge(merge=merges[0], actor=world.users["commune_badinh"], reason="Hai người khác nhau")
    assert Person.objects.get(pk=same_id.pk).merged_into_id is None
