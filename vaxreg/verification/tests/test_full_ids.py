"""Finding messages on the verification pages, the API and the exports never carry a full ID number: they
are shown masked like every list, and the police read the full number only through the audited full-ID read.
"""

import io
import re

import pytest
from django.http import FileResponse
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from vaxreg.core.models import AuditEvent
from vaxreg.people.models import Person, mask_id_number
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import World, person_make
from vaxreg.verification.models import VerificationCase
from vaxreg.verification.services import case_escalate, cases_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(world: World) -> VerificationCase:
    """Đào of Ba Đình shares her CCCD with a newcomer of another name (ID_SHARED on both); her case is with
    the police. The newcomer's case stays with the station."""
    newcomer = person_make(
        full_name="Nguyễn Văn Khác",
        commune=world.communes["00004"],
        id_number=world.persons["dao_hn"].id_number,
    )
    ids = [world.persons["dao_hn"].pk, newcomer.pk]
    quality_check_persons(person_ids=ids)
    cases_sync(person_ids=ids)
    case = VerificationCase.objects.get(person=world.persons["dao_hn"])
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Cần đối chiếu CSDL dân cư")
    return case


def _client(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def _full_ids_in(text: str) -> set[str]:
    numbers = set(Person.objects.exclude(id_number="").values_list("id_number", flat=True))
    return {number for number in numbers if number in text}


def test_the_case_api_shows_finding_messages_with_the_id_masked(world, shared):
    response = _client(world, "commune_badinh").get(f"/api/cases/{shared.pk}")
    assert _full_ids_in(response.content.decode()) == set()
    (finding,) = [f for f in response.json()["findings"] if f["code"] == "ID_SHARED"]
    masked = mask_id_number(world.persons["dao_hn"].id_number)
    assert masked in finding["message_vi"] and masked in finding["message_en"]


def test_the_police_case_page_shows_finding_messages_with_the_id_masked(world, shared):
    page = _client(world, "police_badinh").get(reverse("verification:police_case", args=[shared.pk]))
    html = page.content.decode()
    assert "ID_SHARED" in html
    assert _full_ids_in(html) == set()
    assert mask_id_number(world.persons["dao_hn"].id_number) in html


def test_the_police_read_the_full_id_of_a_case_only_through_an_audited_read(world, shared):
    police = _client(world, "police_badinh")
    police.get(reverse("verification:police_case", args=[shared.pk]))
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()

    assert police.get(reverse("verification:police_case_full_id", args=[shared.pk])).status_code == 405
    revealed = police.post(reverse("verification:police_case_full_id", args=[shared.pk]))
    assert revealed.status_code == 200 and revealed["Cache-Control"] == "no-store"
    assert world.persons["dao_hn"].id_number in revealed.content.decode()
    read = AuditEvent.objects.get(action=AuditEvent.Action.FULL_ID_READ)
    assert (read.actor_id, read.object_type, read.object_id) == (
        world.users["police_badinh"].pk,
        "person",
        str(world.persons["dao_hn"].pk),
    )
    assert read.detail["verification_case"] == shared.pk


def test_the_full_id_of_a_case_is_read_only_by_whoever_may_read_the_case(world, shared):
    url = reverse("verification:police_case_full_id", args=[shared.pk])
    assert _client(world, "commune_hoankiem").post(url).status_code == 404
    assert _client(world, "province_hcm").post(url).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()


def test_the_station_case_page_and_worklist_show_no_full_id(world, shared):
    station = _client(world, "commune_badinh")
    newcomer_case = VerificationCase.objects.exclude(pk=shared.pk).get()
    for url in (
        reverse("verification:case", args=[newcomer_case.pk]),
        reverse("verification:case", args=[shared.pk]),
        reverse("verification:worklist") + "?state=all",
    ):
        html = station.get(url).content.decode()
        assert _full_ids_in(html) == set(), url
    case_page = station.get(reverse("verification:case", args=[newcomer_case.pk])).content.decode()
    assert "ID_SHARED" in case_page and mask_id_number(newcomer_case.person.id_number) in case_page


def _downloaded(client: Client, fmt: str) -> bytes:
    response = client.get(reverse("verification:findings_export", args=[fmt]))
    assert isinstance(response, FileResponse)
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


def test_the_stations_findings_export_masks_the_id_in_messages(world, shared):
    station = _client(world, "commune_badinh")
    csv_text = _downloaded(station, "csv").decode("utf-8-sig")
    assert "ID_SHARED" in csv_text and _full_ids_in(csv_text) == set()
    xlsx = _downloaded(station, "xlsx")
    cells = " ".join(
        str(value)
        for row in load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True)
        for value in row
    )
    assert "ID_SHARED" in cells and _full_ids_in(cells) == set()
    assert re.search(r"•+345", cells)
