"""A complaint never opens a record: every staff role of two provinces files complaints about the persons it
may not see — through the public form and the public API — naming its own unit, then tries to read and change
them through its inbox, the complaint pages and the staff API, and to take over the citizen's own lookup."""

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from vaxreg.complaints.antiflood import ticket_issue
from vaxreg.complaints.models import Complaint
from vaxreg.core import clock
from vaxreg.core.jurisdiction import Jurisdiction, Scope
from vaxreg.core.messaging import memory_outbox
from vaxreg.corrections.models import AccessChange
from vaxreg.people.models import Person
from vaxreg.testing.world import World
from vaxreg.vaccinations.models import Dose

pytestmark = pytest.mark.django_db

ATTACKER_PHONE = "0987654321"
# The place each staff account names on the form as "where I was vaccinated": its own unit.
OWN_PLACE: dict[str, dict[str, str]] = {
    "facility_hn1": {"province_code": "01", "commune_code": "00004", "facility_code": "HN001"},
    "facility_hcm": {"province_code": "79", "commune_code": "26740", "facility_code": "HCM01"},
    "commune_badinh": {"province_code": "01", "commune_code": "00004", "facility_code": "HN001"},
    "commune_hoankiem": {"province_code": "01", "commune_code": "00070", "facility_code": "HN002"},
    "province_hn": {"province_code": "01", "commune_code": "00070", "facility_code": "HN002"},
    "province_hcm": {"province_code": "79", "commune_code": "26740", "facility_code": "HCM01"},
    "police_badinh": {"province_code": "01", "commune_code": "00004", "facility_code": "HN001"},
}
# Every (account, person it may not see) of the two-province test world.
PAIRS = [
    (user, victim)
    for user in sorted(OWN_PLACE)
    for victim in sorted(World.VISIBLE["national"] - World.VISIBLE[user])
]
BIRTH = "15/01/1990"  # every person of the test world was born then


@pytest.fixture(autouse=True)
def private_media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def outbox() -> Any:
    memory_outbox.clear()
    yield memory_outbox
    memory_outbox.clear()


def _claim(person: Person, place: dict[str, str], **values: Any) -> dict[str, Any]:
    """What is typed on the form: the person's own identity and ID number, someone else's phone."""
    words = {"category": 5, "full_name": person.full_name, "birth_date": BIRTH, "gender": person.gender,
             "id_number": person.id_number, "phone": ATTACKER_PHONE, "description": "Sai số điện thoại."}  # fmt: skip
    return words | place | values


def _file_by_form(place: dict[str, str], person: Person) -> Complaint:
    ticket = ticket_issue(address="127.0.0.1", now=clock.now() - dt.timedelta(minutes=1))
    data = _claim(person, place, ticket=ticket, website="", category="5")
    response = Client().post(reverse("complaints_public:form"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Complaint.objects.latest("pk")


def _file_by_api(place: dict[str, str], person: Person, **values: Any) -> Complaint:
    client = Client()
    body = _claim(
        person, place, ticket=client.get("/api/public/complaints/ticket").json()["ticket"], **values
    )
    response = client.post("/api/public/complaints", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return Complaint.objects.get(tracking_code=response.json()["tracking_code"])


def _secrets(world: World, victim: Person, user_key: str) -> set[str]:
    """What the account must never learn of the person: the phone on record, the full ID number, the doses
    and the facilities that gave them (outside the account's unit)."""
    reach = Jurisdiction(**_scope(world.users[user_key]))
    doses = Dose.objects.filter(person=victim).select_related("facility")
    return (
        {victim.phone, victim.id_number}
        | {d.lot_number for d in doses}
        | {d.facility.code for d in doses if not reach.covers_facility(d.facility)}
        | {d.facility.name for d in doses if not reach.covers_facility(d.facility)}
    )


def _scope(user: Any) -> dict[str, Any]:
    if user.role == "facility":
        return {"scope": Scope.FACILITY, "facility_id": user.facility_id}
    if user.role in ("commune", "police"):
        return {"scope": Scope.COMMUNE, "commune_code": user.commune_id}
    return {"scope": Scope.PROVINCE, "province_code": user.province_id}


def _holder_sees(complaint: Complaint, person: Person) -> bool:
    """Whether the unit the complaint went to reads the person by the ordinary rules."""
    if complaint.handler_facility_id:
        unit = Jurisdiction(scope=Scope.FACILITY, facility_id=complaint.handler_facility_id)
    else:
        unit = Jurisdiction(scope=Scope.PROVINCE, province_code=complaint.handler_province_id)
    return unit.persons_visible(Person.objects.filter(pk=person.pk)).exists()


def _record(person: Person) -> tuple[Any, ...]:
    fresh = Person.objects.get(pk=person.pk)
    return (fresh.full_name, fresh.phone, fresh.id_number, fresh.commune_id, fresh.version)


def _post_json(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("channel", ["form", "api"])
@pytest.mark.parametrize(("user_key", "victim_key"), PAIRS)
def test_a_complaint_never_opens_a_record_to_the_unit_it_names(
    world: World, outbox: list[Any], user_key: str, victim_key: str, channel: str
) -> None:
    victim = world.persons[victim_key]
    before, doses_before = _record(victim), Dose.objects.filter(person=victim).count()
    place = OWN_PLACE[user_key]
    complaint = (_file_by_form if channel == "form" else _file_by_api)(place, victim)

    # It goes to a unit that reads the record by the ordinary rules, never to one the complaint would open.
    assert complaint.person_id == victim.pk
    assert _holder_sees(complaint, victim)

    attacker = Client()
    attacker.force_login(world.users[user_key])
    secrets = _secrets(world, victim, user_key)

    def leaks(text: str) -> set[str]:
        return {s for s in secrets if s and s in text}

    inbox_api = attacker.get("/api/complaints")
    inbox_page = attacker.get(reverse("complaints:inbox"))
    detail_api = attacker.get(f"/api/complaints/{complaint.pk}")
    detail_page = attacker.get(reverse("complaints:complaint", args=[complaint.pk]))
    for response in (inbox_api, inbox_page, detail_api, detail_page):
        assert response.status_code in (200, 403, 404)
        assert not leaks(response.content.decode()), (
            response.request["PATH_INFO"],
            leaks(response.content.decode()),
        )
    if detail_api.status_code == 200:  # the unit the citizen named reads what the citizen wrote, only that
        detail = detail_api.json()
        assert (detail["persons"], detail["history"], detail["handled_here"]) == ([], [], False)
        assert (detail["handler_facility"], detail["handler_province"]) == (None, None)

    version = complaint.version
    own_facility = place.get("facility_code", "")
    attempts = [
        _post_json(
            attacker,
            f"/api/complaints/{complaint.pk}/approve-correction",
            {
                "version": version,
                "person_id": victim.pk,
                "person_version": victim.version,
                "changes": {"phone": ATTACKER_PHONE, "commune_id": "00004"},
                "note": "Theo phản ánh",
            },
        ),  # fmt: skip
        _post_json(
            attacker,
            f"/api/complaints/{complaint.pk}/approve-dose",
            {
                "version": version,
                "person_id": victim.pk,
                "vaccination_date": "2022-02-01",
                "vaccine_id": "AZ",
                "dose_number": 3,
                "facility_code": own_facility,
                "note": "Có phiếu",
            },
        ),  # fmt: skip
        attacker.post(
            reverse("complaints:approve_correction", args=[complaint.pk, victim.pk]),
            {
                f"person-{victim.pk}-version": version,
                f"person-{victim.pk}-person_id": victim.pk,
                f"person-{victim.pk}-person_version": victim.version,
                f"person-{victim.pk}-full_name": "Kẻ Giả Mạo",
                f"person-{victim.pk}-phone": ATTACKER_PHONE,
                f"person-{victim.pk}-note": "Theo phản ánh",
            },
        ),  # fmt: skip
        attacker.post(
            reverse("complaints:approve_dose", args=[complaint.pk]),
            {
                "dose-version": version,
                "dose-person_id": victim.pk,
                "dose-vaccination_date": "2022-02-01",
                "dose-vaccine_id": "AZ",
                "dose-dose_number": "3",
                "dose-facility_code": own_facility,
                "dose-note": "Có phiếu",
            },
        ),  # fmt: skip
    ]
    for response in attempts:
        assert response.status_code in (400, 403, 404), response.content.decode()[:500]
        assert not leaks(response.content.decode())
    assert _record(victim) == before
    assert Dose.objects.filter(person=victim).count() == doses_before
    assert not AccessChange.objects.filter(person=victim).exists()

    # The citizen's own lookup still answers only to the phone on record.
    outbox.clear()
    Client().post(reverse("citizens:start"), {"id_number": victim.id_number, "phone": ATTACKER_PHONE})
    assert not [m for m in outbox if m.to == ATTACKER_PHONE]


def test_the_citizens_own_complaint_is_never_captured_by_an_earlier_one_with_their_id(world: World) -> None:
    dao = world.persons["dao_hcm"]
    intruder = _file_by_api(OWN_PLACE["facility_hn1"], dao)
    own_place = {"province_code": "79", "commune_code": "26740", "facility_code": "HCM01"}
    own = _file_by_api(own_place, dao, phone=dao.phone, description="Sai ngày sinh.")
    assert own.joined_to_id is None and own.state == "open"
    assert own.handler_facility.code == "HCM01"
    handler = Client()
    handler.force_login(world.users["facility_hcm"])
    detail = handler.get(f"/api/complaints/{own.pk}").json()
    assert [p["id"] for p in detail["persons"]] == [dao.pk]
    assert intruder.pk not in detail["joined"]

    # The same citizen sending again (same identity, same phone) joins their first complaint.
    repeat = _file_by_api(own_place, dao, phone=dao.phone, description="Gửi lại.")
    assert (repeat.state, repeat.joined_to_id) == ("joined", own.pk)


def _handled_complaint(world: World, person_key: str, place: dict[str, str]) -> Complaint:
    complaint = _file_by_api(place, world.persons[person_key])
    assert complaint.person_id == world.persons[person_key].pk
    return complaint


def test_a_province_cannot_move_a_person_into_its_province_by_approving_a_complaint(
    world: World, outbox: list[Any]
) -> None:
    hoa = world.persons["hoa_traveller"]  # lives in Hồ Chí Minh, got a dose at HN001: Hà Nội sees her
    complaint = _handled_complaint(world, "hoa_traveller", OWN_PLACE["facility_hn1"])
    province = Client()
    province.force_login(world.users["province_hn"])
    outbox.clear()
    response = _post_json(
        province,
        f"/api/complaints/{complaint.pk}/approve-correction",
        {"version": complaint.version, "person_id": hoa.pk, "person_version": hoa.version,
         "changes": {"commune_id": "00004", "full_name": "Phạm Thị Hoà"}, "note": "Theo phản ánh"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    fresh = Person.objects.get(pk=hoa.pk)
    assert (fresh.full_name, fresh.commune_id, fresh.province_id) == ("Phạm Thị Hoà", "26740", "79")
    change = AccessChange.objects.get(person=hoa)
    assert (change.state, change.changes) == ("pending", {"commune_id": "00004"})
    assert response.json()["access_changes"][0]["state"] == "pending"
    assert [m.to for m in outbox] == [hoa.phone] and "/tra-cuu/" in outbox[0].text
    # Hồ Chí Minh still reads her, as before.
    hcm = Client()
    hcm.force_login(world.users["province_hcm"])
    assert hcm.get(reverse("web:person", args=[hoa.pk])).status_code == 200


def _lookup(client: Client, outbox: list[Any], *, id_number: str, phone: str) -> None:
    outbox.clear()
    client.post(reverse("citizens:start"), {"id_number": id_number, "phone": phone})
    code = re.search(r"\b(\d{6})\b", outbox[0].text)
    assert code, outbox
    response = client.post(reverse("citizens:code"), {"code": code.group(1)})
    assert response.status_code == 302 and response["Location"] == reverse("citizens:record")


def test_a_new_phone_waits_for_the_code_sent_to_the_phone_on_record_and_the_old_phone_is_told(
    world: World, outbox: list[Any]
) -> None:
    dao = world.persons["dao_hn"]
    old_phone, new_phone = dao.phone, "0977000111"
    complaint = _handled_complaint(world, "dao_hn", OWN_PLACE["facility_hn1"])
    facility = Client()
    facility.force_login(world.users["facility_hn1"])
    outbox.clear()
    response = facility.post(
        reverse("complaints:approve_correction", args=[complaint.pk, dao.pk]),
        {f"person-{dao.pk}-version": complaint.version, f"person-{dao.pk}-person_id": dao.pk,
         f"person-{dao.pk}-person_version": dao.version, f"person-{dao.pk}-full_name": dao.full_name,
         f"person-{dao.pk}-birth_year": "1990", f"person-{dao.pk}-birth_month": "1",
         f"person-{dao.pk}-birth_day": "15", f"person-{dao.pk}-gender": "F",
         f"person-{dao.pk}-phone": new_phone, f"person-{dao.pk}-note": "Đổi số điện thoại"},
    )  # fmt: skip
    assert response.status_code == 302
    assert Person.objects.get(pk=dao.pk).phone == old_phone  # not changed by the approval alone
    assert [m.to for m in outbox] == [old_phone]
    page = facility.get(reverse("complaints:complaint", args=[complaint.pk])).content.decode()
    assert 'id="access-changes"' in page

    # Whoever holds the new phone cannot confirm it: the lookup answers only to the phone on record.
    stranger = Client()
    outbox.clear()
    stranger.post(reverse("citizens:start"), {"id_number": dao.id_number, "phone": new_phone})
    assert outbox == []

    citizen = Client()
    _lookup(citizen, outbox, id_number=dao.id_number, phone=old_phone)
    record = citizen.get(reverse("citizens:record")).content.decode()
    change = AccessChange.objects.get(person=dao)
    assert f'id="access-change-{change.pk}"' in record and new_phone not in record  # shown masked
    outbox.clear()
    response = citizen.post(reverse("citizens:access_change", args=[change.pk]), {"decision": "confirm"})
    assert response.status_code == 302
    assert Person.objects.get(pk=dao.pk).phone == new_phone
    assert [m.to for m in outbox] == [old_phone] and "đã được đổi" in outbox[0].text
    change.refresh_from_db()
    assert (change.state, change.confirmed_how, change.decided_by_id) == ("confirmed", "citizen", None)


def test_the_station_confirms_after_checking_the_papers_and_the_citizen_can_refuse(
    world: World, outbox: list[Any]
) -> None:
    dao = world.persons["dao_hn"]
    complaint = _handled_complaint(world, "dao_hn", OWN_PLACE["facility_hn1"])
    facility = Client()
    facility.force_login(world.users["facility_hn1"])
    response = _post_json(
        facility,
        f"/api/complaints/{complaint.pk}/approve-correction",
        {"version": complaint.version, "person_id": dao.pk, "person_version": dao.version,
         "changes": {"id_number": "001190012346"}, "note": "Sai một chữ số CCCD"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    change = AccessChange.objects.get(person=dao)
    url = reverse("web:person_access_change", args=[dao.pk, change.pk])

    # The facility that asked cannot confirm its own request; another station cannot either.
    for key in ("facility_hn1", "commune_hoankiem", "province_hn"):
        other = Client()
        other.force_login(world.users[key])
        other.post(url, {"decision": "confirm", "note": "CCCD gốc"})
    assert Person.objects.get(pk=dao.pk).id_number == "001190012345"

    station = Client()
    station.force_login(world.users["commune_badinh"])
    page = station.get(reverse("web:person", args=[dao.pk])).content.decode()
    assert f'id="access-change-{change.pk}"' in page
    station.post(url, {"decision": "confirm", "note": ""})  # the papers checked must be named
    assert Person.objects.get(pk=dao.pk).id_number == "001190012345"
    station.post(url, {"decision": "confirm", "note": "Đã xem CCCD gốc"})
    change.refresh_from_db()
    assert (change.state, change.confirmed_how) == ("confirmed", "station")
    assert Person.objects.get(pk=dao.pk).id_number == "001190012346"

    # A second request, refused by the citizen ("not me"), changes nothing.
    complaint = _handled_complaint(world, "binh_hn", OWN_PLACE["commune_hoankiem"])
    binh = world.persons["binh_hn"]
    hoankiem = Client()
    hoankiem.force_login(world.users["commune_hoankiem"])
    _post_json(
        hoankiem,
        f"/api/complaints/{complaint.pk}/approve-correction",
        {"version": complaint.version, "person_id": binh.pk, "person_version": binh.version,
         "changes": {"phone": "0977000222"}, "note": "Theo phản ánh"},
    )  # fmt: skip
    refused = AccessChange.objects.get(person=binh)
    citizen = Client()
    _lookup(citizen, outbox, id_number=binh.id_number, phone=binh.phone)
    citizen.post(reverse("citizens:access_change", args=[refused.pk]), {"decision": "refuse"})
    refused.refresh_from_db()
    assert refused.state == "cancelled" and Person.objects.get(pk=binh.pk).phone == binh.phone


def test_a_dose_added_through_a_complaint_is_one_the_handlers_unit_gave(world: World) -> None:
    hoa = world.persons["hoa_traveller"]
    complaint = _handled_complaint(world, "hoa_traveller", OWN_PLACE["facility_hn1"])
    province = Client()
    province.force_login(world.users["province_hn"])

    def approve(facility_code: str) -> Any:
        fresh = Complaint.objects.get(pk=complaint.pk)
        return _post_json(
            province,
            f"/api/complaints/{complaint.pk}/approve-dose",
            {"version": fresh.version, "person_id": hoa.pk, "vaccination_date": "2022-02-01",
             "vaccine_id": "AZ", "dose_number": 3, "facility_code": facility_code, "note": "Có phiếu"},
        )  # fmt: skip

    refused = approve("HCM01")  # Hồ Chí Minh's facility: not Hà Nội's to record
    assert refused.status_code == 400 and refused.json()["field"] == "facility_code"
    assert not Dose.objects.filter(person=hoa, dose_number=3).exists()
    assert approve("HN002").status_code == 200  # one of Hà Nội's own facilities
    assert Dose.objects.get(person=hoa, dose_number=3).facility.code == "HN002"


def test_no_new_record_is_made_from_a_complaint_under_an_id_number_already_on_record(world: World) -> None:
    dao = world.persons["dao_hcm"]
    complaint = _file_by_api({"province_code": "01", "commune_code": "00070", "facility_code": "HN002"}, dao)
    # Made before the person existed (or unmatched): the ID number is on record by the time it is approved.
    Complaint.objects.filter(pk=complaint.pk).update(
        person=None, rerouted=False, handler_facility=world.facilities["HN002"], handler_province_id="01"
    )
    station = Client()
    station.force_login(world.users["commune_hoankiem"])
    persons_before = Person.objects.count()
    response = _post_json(
        station,
        f"/api/complaints/{complaint.pk}/approve-dose",
        {"version": complaint.version, "person_id": 0, "vaccination_date": "2022-02-01", "vaccine_id": "AZ",
         "dose_number": 3, "note": "Có phiếu"},
    )  # fmt: skip
    assert response.status_code == 400 and response.json()["field"] == "person_id"
    assert Person.objects.count() == persons_before
