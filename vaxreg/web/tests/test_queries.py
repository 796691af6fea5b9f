"""The search and person pages run a fixed number of queries, whatever the number of rows (no N+1)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from vaxreg.core.history import ChangeSource, record_change
from vaxreg.core.models import SourceType
from vaxreg.testing.world import dose_make, person_make

pytestmark = pytest.mark.django_db


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_search_page_queries_do_not_grow_with_results(client, world):
    client.force_login(world.users["province_hn"])
    url = reverse("web:search")
    few = count_queries(client, url, {"q": "tran"})
    for i in range(15):
        person_make(
            full_name=f"Trần Văn Số {i}", commune=world.communes["00070"], id_number=f"0010900{i:05d}"
        )
    many = count_queries(client, url, {"q": "tran"})
    assert many == few
    assert many <= 4  # session, user, the search itself


def test_person_page_queries_do_not_grow_with_doses_and_history(client, world):
    client.force_login(world.users["province_hn"])
    person = world.persons["binh_hn"]
    url = reverse("web:person", args=[person.pk])
    few = count_queries(client, url)
    for i in range(6):
        facility = world.facilities["HN001" if i % 2 else "HN002"]
        dose = dose_make(
            person=person,
            facility=facility,
            source_record_id=f"extra-{i}",
            date=dt.date(2022, 1, 1) + dt.timedelta(days=i),
            number=None,
            vaccine=None,
        )
        record_change(
            entity="dose",
            entity_id=dose.pk,
            changes={"lot_number": ("a", f"b{i}")},
            source=ChangeSource(
                type=SourceType.CORRECTION,
                actor_id=world.users[f"commune_{'badinh' if i % 2 else 'hoankiem'}"].pk,
            ),
        )
    many = count_queries(client, url)
    assert many == few
    assert many <= 7  # session, user, person, doses, history, and one per section (access changes, merges)
