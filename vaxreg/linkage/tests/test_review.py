"""The duplicates review: who sees which pair (queue, pair page, API), the pair page in words, decisions on
one pair and in bulk, the undo, and the queue's query count."""

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from vaxreg.core.models import AuditEvent
from vaxreg.linkage.models import PairState, PersonMerge, SuspectedPair
from vaxreg.linkage.services import linkage_link_persons
from vaxreg.linkage.tests.review_helpers import (
    NOT_REVIEWERS,
    REACH,
    Scene,
    pair_make,
    scene_build,
)
from vaxreg.people.models import Person
from vaxreg.quality.models import Finding
from vaxreg.testing.world import World, person_make, world

__all__ = ["world"]
pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr id="pair-(\d+)"')


@pytest.fixture
def scene(world: World) -> Scene:
    return scene_build(world)


def _client(world: World, user: str) -> Client:
    client = Client()
    client.force_login(world.users[user])
    return client


def _names(scene: Scene, ids: set[int]) -> set[str]:
    by_id = {getattr(scene, n).pk: n for n in ("dao", "hoa", "binh", "namesakes")}
    return {by_id[i] for i in ids}


@pytest.mark.parametrize("user", sorted(REACH))
def test_each_reviewer_sees_the_pairs_whose_two_records_it_may_read(
    world: World, scene: Scene, user: str
) -> None:
    client = _client(world, user)
    page = client.get(reverse("linkage:queue"), {"state": "all"})
    assert page.status_code == 200
    assert _names(scene, {int(i) for i in ROW.findall(page.content.decode())}) == REACH[user]

    listed = client.get("/api/linkage/pairs", {"state": "all"}).json()
    assert _names(scene, {p["id"] for p in listed["pairs"]}) == REACH[user]
    assert listed["count"] == len(REACH[user])

    for name in ("dao", "hoa", "binh", "namesakes"):
        pair = getattr(scene, name)
        expected = 200 if name in REACH[user] else 404
        assert client.get(reverse("linkage:pair", args=[pair.pk])).status_code == expected, name
        assert client.get(f"/api/linkage/pairs/{pair.pk}").status_code == expected, name
        decided = client.post(
            f"/api/linkage/pairs/{pair.pk}/decision", {"decision": "skip"}, content_type="application/json"
        )
        if expected == 404:
            assert decided.status_code == 404
            assert (
                client.post(
                    reverse("linkage:pair_not_same", args=[pair.pk]), {"reason": "khác người"}
                ).status_code
                == 404
            )
    # Nothing outside the reach was decided.
    outside = {"dao", "hoa", "binh", "namesakes"} - REACH[user]
    assert all(
        getattr(scene, n).__class__.objects.get(pk=getattr(scene, n).pk).state == PairState.OPEN
        for n in outside
    )


@pytest.mark.parametrize("user", NOT_REVIEWERS)
def test_roles_that_do_not_review_are_refused(world: World, scene: Scene, user: str) -> None:
    client = _client(world, user)
    assert client.get(reverse("linkage:queue")).status_code == 403
    assert client.get(reverse("linkage:pair", args=[scene.dao.pk])).status_code == 403
    assert client.get("/api/linkage/pairs").status_code == 403
    answer = client.post(
        f"/api/linkage/pairs/{scene.dao.pk}/decision",
        {"decision": "not_same", "reason": "khác"},
        content_type="application/json",
    )
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert SuspectedPair.objects.get(pk=scene.dao.pk).state == PairState.OPEN


def test_the_navigation_leads_reviewers_to_the_queue(world: World) -> None:
    assert reverse("linkage:queue") in _client(world, "commune_badinh").get("/").content.decode()
    assert reverse("linkage:queue") not in _client(world, "facility_hn1").get("/").content.decode()


def test_the_queue_is_sorted_by_probability_and_filters(world: World, scene: Scene) -> None:
    client = _client(world, "province_hn")
    body = client.get(reverse("linkage:queue")).content.decode()
    assert [int(i) for i in ROW.findall(body)] == [scene.dao.pk, scene.binh.pk, scene.hoa.pk]
    assert "same CCCD" in body or "trùng số CCCD" in body

    def shown(**params: Any) -> set[str]:
        return _names(
            scene,
            {int(i) for i in ROW.findall(client.get(reverse("linkage:queue"), params).content.decode())},
        )

    assert shown(band="very_high") == {"dao", "binh"}
    assert shown(band="high") == {"hoa"}
    assert shown(same_id="on") == {"dao", "binh"}
    assert shown(commune="00070") == {"binh"}
    SuspectedPair.objects.filter(pk=scene.hoa.pk).update(state=PairState.NOT_SAME)
    assert "hoa" not in shown()
    assert shown(state="not_same") == {"hoa"}


def test_the_queue_page_costs_the_same_queries_for_more_pairs(world: World, scene: Scene) -> None:
    client = _client(world, "commune_badinh")
    client.get(reverse("linkage:queue"))  # session, language: warm
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("linkage:queue")).status_code == 200
    for i in range(12):
        twin = person_make(full_name=f"Nguyen Thi Dao {i}", commune=world.communes["00004"])
        pair_make(world.persons["dao_hn"], twin, probability=0.95 + i / 1000)
    with CaptureQueriesContext(connection) as many:
        body = client.get(reverse("linkage:queue")).content.decode()
    assert len(ROW.findall(body)) == 15
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(many) <= 10


def test_the_pair_page_shows_both_records_and_the_evidence_in_words(world: World) -> None:
    dao = world.persons["dao_hn"]
    twin = person_make(
        full_name="Nguyen Thi Dao",
        commune=world.communes["00004"],
        id_number="001190012345",
        phone="0912345601",
    )
    linkage_link_persons(person_ids=[twin.pk])  # the real engine
    pair = SuspectedPair.objects.get(person_a=dao, person_b=twin)
    client = _client(world, "commune_badinh")
    client.cookies["django_language"] = "en"
    body = client.get(reverse("linkage:pair", args=[pair.pk])).content.decode()
    for expected in (
        "same CCCD",
        "names differ only in diacritics",
        "same birth date",
        "same household phone and commune",
    ):
        assert expected in body
    assert "Nguyễn Thị Đào" in body and "Nguyen Thi Dao" in body
    assert "001190012345" not in body and "•••••••••345" in body  # the ID masked
    assert "DUPLICATE_SUSPECT" in body  # each record's open finding
    assert 'name="csrfmiddlewaretoken"' in body
    client.cookies["django_language"] = "vi"
    body = client.get(reverse("linkage:pair", args=[pair.pk])).content.decode()
    assert "họ tên chỉ khác dấu" in body and "trùng số CCCD" in body
    detail = client.get(f"/api/linkage/pairs/{pair.pk}").json()
    words = {e["comparison"]: (e["words_vi"], e["words_en"]) for e in detail["evidence"]}
    assert words["given_names"] == ("họ tên chỉ khác dấu", "names differ only in diacritics")
    assert detail["person_a"]["id_number_masked"].endswith("345") and "id_number" not in detail["person_a"]


def test_merging_from_the_pair_page_keeps_the_chosen_values_and_opens_the_survivor(
    world: World, scene: Scene
) -> None:
    client = _client(world, "commune_badinh")
    dao, twin = world.persons["dao_hn"], scene.dao_twin
    page = client.get(reverse("linkage:pair", args=[scene.dao.pk])).content.decode()
    assert f'value="{dao.pk}" ' in page and "checked" in page
    refused = client.post(
        reverse("linkage:pair_merge", args=[scene.dao.pk]),
        {"survivor": dao.pk, "version_a": dao.version, "version_b": twin.version, "reason": ""},
    )
    assert refused.status_code == 400 and not PersonMerge.objects.exists()
    form = {
        "survivor": dao.pk,
        "version_a": dao.version,
        "version_b": twin.version,
        "reason": "Cùng CCCD, cùng ngày sinh",
    }
    form |= {
        f"keep_{g}": "a" for g in ("full_name", "birth_date", "gender", "id_number", "address", "commune")
    }
    form["keep_phone"] = "b"
    Person.objects.filter(pk=twin.pk).update(phone="0912999999")
    done = client.post(reverse("linkage:pair_merge", args=[scene.dao.pk]), form)
    assert done.status_code == 302 and done["Location"] == reverse("web:person", args=[dao.pk])
    merged = PersonMerge.objects.get(survivor=dao, merged=twin)
    dao.refresh_from_db()
    twin.refresh_from_db()
    assert dao.phone == "0912999999" and twin.merged_into_id == dao.pk
    assert sorted(dao.doses.values_list("source_record_id", flat=True)) == [
        "dao-twin-3",
        "dao_hn-0",
        "dao_hn-1",
    ]
    pair = SuspectedPair.objects.get(pk=scene.dao.pk)
    assert pair.state == PairState.MERGED and pair.decided_by == world.users["commune_badinh"]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.PERSONS_MERGED, object_id=str(merged.pk)
    ).exists()
    # Đào's warning now counts only the namesake in HCM.
    warning = Finding.objects.get(person=dao, code="DUPLICATE_SUSPECT", is_open=True)
    assert warning.detail["others"] == 1
    # Decided: no second decision, on the page or through the API.
    again = client.post(
        f"/api/linkage/pairs/{scene.dao.pk}/decision",
        {"decision": "not_same", "reason": "khác"},
        content_type="application/json",
    )
    assert again.status_code == 409

    # The person page shows the merge with its undo; undoing it puts the pair back in the queue.
    person_page = client.get(reverse("web:person", args=[dao.pk])).content.decode()
    assert reverse("web:merge_undo", args=[merged.pk]) in person_page
    undone = client.post(reverse("web:merge_undo", args=[merged.pk]), {"reason": "Nhầm người"})
    assert undone.status_code == 302
    twin.refresh_from_db()
    assert twin.merged_into_id is None and twin.doses.count() == 1
    assert SuspectedPair.objects.get(pk=scene.dao.pk).state == PairState.OPEN
    assert PersonMerge.objects.get(pk=merged.pk).undone_at is not None


def test_a_record_changed_since_it_was_compared_is_not_merged(world: World, scene: Scene) -> None:
    client = _client(world, "commune_badinh")
    dao, twin = world.persons["dao_hn"], scene.dao_twin
    Person.objects.filter(pk=twin.pk).update(version=twin.version + 1)
    answer = client.post(
        reverse("linkage:pair_merge", args=[scene.dao.pk]),
        {"survivor": dao.pk, "version_a": dao.version, "version_b": twin.version, "reason": "Cùng một người"}
        | {
            f"keep_{g}": "a"
            for g in ("full_name", "birth_date", "gender", "id_number", "phone", "address", "commune")
        },
    )
    assert answer.status_code == 409 and not PersonMerge.objects.exists()
    assert SuspectedPair.objects.get(pk=scene.dao.pk).state == PairState.OPEN


def test_not_the_same_needs_a_reason_and_skip_does_not(world: World, scene: Scene) -> None:
    client = _client(world, "commune_hoankiem")
    url = reverse("linkage:pair_not_same", args=[scene.binh.pk])
    assert client.post(url, {"reason": ""}).status_code == 400
    done = client.post(url, {"reason": "Hai anh em, khác ngày sinh"})
    assert done.status_code == 302 and done["Location"] == reverse("linkage:queue")
    pair = SuspectedPair.objects.get(pk=scene.binh.pk)
    assert pair.state == PairState.NOT_SAME and pair.decision_reason == "Hai anh em, khác ngày sinh"
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DUPLICATE_PAIR_DECIDED, object_id=str(pair.pk)
    ).exists()
    skip = _client(world, "commune_badinh").post(
        reverse("linkage:pair_skip", args=[scene.hoa.pk]), {"reason": ""}
    )
    assert skip.status_code == 302
    assert SuspectedPair.objects.get(pk=scene.hoa.pk).state == PairState.SKIPPED


def test_the_api_decides_merge_not_same_and_skip(world: World, scene: Scene) -> None:
    client = _client(world, "province_hn")
    url = "/api/linkage/pairs/{}/decision"
    assert (
        client.post(
            url.format(scene.hoa.pk), {"decision": "not_same"}, content_type="application/json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            url.format(scene.hoa.pk), {"decision": "maybe"}, content_type="application/json"
        ).status_code
        == 422
    )
    answer = client.post(
        url.format(scene.hoa.pk),
        {"decision": "not_same", "reason": "Khác người"},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["state"] == "not_same"
    answer = client.post(url.format(scene.binh.pk), {"decision": "skip"}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["state"] == "skipped"
    dao = world.persons["dao_hn"]
    answer = client.post(
        url.format(scene.dao.pk),
        {
            "decision": "merge",
            "reason": "Cùng CCCD",
            "survivor_id": dao.pk,
            "field_choices": {"phone": "merged"},
        },
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == "merged" and answer.json()["person_b"]["merged_into_id"] == dao.pk


def test_bulk_merges_each_pair_on_its_own_and_each_can_be_undone(world: World, scene: Scene) -> None:
    client = _client(world, "commune_badinh")
    body = client.get(reverse("linkage:queue"), {"band": "very_high", "same_id": "on"}).content.decode()
    ticked = [int(i) for i in ROW.findall(body)]
    assert set(ticked) == {scene.dao.pk, scene.binh.pk}
    done = client.post(
        reverse("linkage:bulk"),
        {"pair_ids": ticked, "decision": "merge", "reason": "Trùng CCCD, xác suất cao"},
    )
    assert done.status_code == 302
    merges = list(PersonMerge.objects.order_by("pk"))
    assert len(merges) == 2 and {m.reason for m in merges} == {"Trùng CCCD, xác suất cao"}
    assert set(SuspectedPair.objects.filter(pk__in=ticked).values_list("state", flat=True)) == {
        PairState.MERGED
    }
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PERSONS_MERGED).count() == 2
    # The survivor proposed: the record with more doses (Đào's own, Bình's first).
    assert {m.survivor_id for m in merges} == {world.persons["dao_hn"].pk, world.persons["binh_hn"].pk}
    for merge in merges:
        assert (
            client.post(reverse("web:merge_undo", args=[merge.pk]), {"reason": "Kiểm tra lại"}).status_code
            == 302
        )
    assert PersonMerge.objects.filter(undone_at__isnull=True).count() == 0


def test_bulk_not_the_same_and_a_pair_outside_the_reach_is_refused(world: World, scene: Scene) -> None:
    client = _client(world, "commune_hoankiem")
    done = client.post(
        reverse("linkage:bulk"),
        {"pair_ids": [scene.binh.pk, scene.dao.pk], "decision": "not_same", "reason": "Khác người"},
    )
    assert done.status_code == 302
    assert SuspectedPair.objects.get(pk=scene.binh.pk).state == PairState.NOT_SAME
    assert SuspectedPair.objects.get(pk=scene.dao.pk).state == PairState.OPEN
