"""The commune health station's pages: the worklist, a case and its actions, the exports — per role."""

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from vaxreg.accounts.models import Role
from vaxreg.accounts.services import user_create
from vaxreg.core.models import AuditEvent, ChangeRecord
from vaxreg.corrections.services import person_correct
from vaxreg.people.models import Gender, Person
from vaxreg.quality.models import Finding
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import TEST_PASSWORD, World, dose_make, person_make
from vaxreg.vaccinations.models import Dose
from vaxreg.verification.models import CaseState, ContactAttempt, VerificationCase
from vaxreg.verification.services import case_escalate, case_police_result, cases_sync

pytestmark = pytest.mark.django_db

# Which world persons' cases each user sees once every case is open (see ``cases`` below): the station and
# the police of the commune of residence, the province, the facility of the latest dose, the ministry.
ALL = {"dao_hn", "binh_hn", "hoa_traveller", "cuong_hcm", "dao_hcm"}
SEES = {
    "national": ALL,
    "admin": ALL,
    "province_hn": {"dao_hn", "binh_hn"},
    "province_hcm": {"hoa_traveller", "cuong_hcm", "dao_hcm"},
    "commune_badinh": {"dao_hn"},
    "commune_hoankiem": {"binh_hn"},
    "facility_hn1": {"dao_hn"},
    "facility_hcm": {"hoa_traveller", "cuong_hcm", "dao_hcm"},
    "police_badinh": set(),  # nothing is escalated yet
}
ACTIONS = {
    "case_person_correct": {"expected_version": "1", "full_name": "X Y", "gender": "F", "reason": "Gọi điện"},
    "case_contact_log": {"channel": "phone", "outcome": "no_answer", "note": "Gọi 3 lần"},
    "case_escalate": {"case_version": "1", "reason": "Không liên lạc được"},
    "case_resolve": {"case_version": "1", "justification": "Đã gặp trực tiếp, giữ nguyên hồ sơ"},
    "case_unverifiable": {"reason": "Không có trong CSDL dân cư"},
}


def client_for(world: World, key: str) -> Client:
    client = Client()
    client.force_login(world.users[key])
    return client


def page_text(response) -> str:
    """What a reader sees: the page without tags, entities decoded, whitespace collapsed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def case_url(case: VerificationCase) -> str:
    return reverse("verification:case", args=[case.pk])


def xlsx_rows(response) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def open_cases(person_ids: list[int]) -> None:
    quality_check_persons(person_ids=person_ids)
    cases_sync(person_ids=person_ids)


@pytest.fixture
def cases(world: World) -> dict[str, VerificationCase]:
    """A case for every world person: four have an ID that contradicts them; Đào (Ba Đình) is made a man."""
    Person.objects.filter(pk=world.persons["dao_hn"].pk).update(gender=Gender.MALE)
    open_cases([p.pk for p in world.persons.values()])
    by_person = {c.person_id: c for c in VerificationCase.objects.all()}
    return {key: by_person[p.pk] for key, p in world.persons.items()}


@pytest.fixture
def thu(world: World) -> Person:
    """A Ba Đình resident whose CCCD says woman born 1987 while the record says man born 1978."""
    person = person_make(
        full_name="Lê Thị Thu",
        commune=world.communes["00004"],
        id_number="001187004321",
        phone="0912000111",
        birth=(1978, 3, 2),
        gender=Gender.MALE,
    )
    dose_make(
        person=person,
        facility=world.facilities["HN001"],
        source_record_id="thu-1",
        date=dt.date(2021, 9, 1),
        number=1,
        vaccine=world.vaccine,
    )
    open_cases([person.pk])
    return person


def thu_case(thu: Person) -> VerificationCase:
    return VerificationCase.objects.get(person=thu)


# -- who sees what -----------------------------------------------------------------------------------------


def test_every_page_needs_a_login(client, cases):
    case = cases["dao_hn"]
    gets = [
        reverse("verification:worklist"),
        reverse("verification:worklist_export"),
        reverse("verification:findings_export", args=["csv"]),
        case_url(case),
    ]
    posts = [reverse("verification:assign")] + [reverse(f"verification:{a}", args=[case.pk]) for a in ACTIONS]
    for response in [client.get(u) for u in gets] + [client.post(u, {}) for u in posts]:
        assert response.status_code == 302 and response.url.startswith(reverse("web:login"))


@pytest.mark.parametrize("user_key", list(SEES))
def test_worklist_and_its_export_show_only_the_users_cases(world, cases, user_key):
    client = client_for(world, user_key)
    page = client.get(reverse("verification:worklist"))
    assert page.status_code == 200
    body = page.content.decode()
    for key, case in cases.items():
        assert (case_url(case) in body) == (key in SEES[user_key]), (user_key, key)
        assert world.persons[key].id_number not in body  # lists mask ID numbers

    export = client.get(reverse("verification:worklist_export"))
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = xlsx_rows(export)
    ids = {row[0] for row in rows[1:]}
    assert ids == {cases[key].pk for key in SEES[user_key]}
    assert not any(p.id_number in str(cell) for p in world.persons.values() for row in rows for cell in row)
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT, actor=world.users[user_key])
    assert event.object_type == "verification_worklist" and event.detail["rows"] == len(ids)


@pytest.mark.parametrize("user_key", list(SEES))
def test_a_case_outside_the_users_unit_is_404(world, cases, user_key):
    client = client_for(world, user_key)
    for key, case in cases.items():
        response = client.get(case_url(case))
        if key in SEES[user_key]:
            assert response.status_code == 200
            assert world.persons[key].id_number_masked in response.content.decode()
        else:
            assert response.status_code == 404
            assert world.persons[key].id_number_masked not in response.content.decode()


def test_the_police_see_only_cases_escalated_in_their_commune_and_only_read_them(world, cases):
    police = client_for(world, "police_badinh")
    dao, binh = cases["dao_hn"], cases["binh_hn"]
    assert police.get(case_url(dao)).status_code == 404
    case_escalate(actor=world.users["commune_badinh"], case_id=dao.pk, reason="Không liên lạc được")
    case_escalate(actor=world.users["commune_hoankiem"], case_id=binh.pk, reason="Cần CSDL dân cư")

    listing = police.get(reverse("verification:worklist")).content.decode()
    assert case_url(dao) in listing and case_url(binh) not in listing
    assert police.get(case_url(binh)).status_code == 404

    page = police.get(case_url(dao))
    body = page.content.decode()
    assert page.status_code == 200
    assert f'href="/verification/police/cases/{dao.pk}/"' in body
    assert "chỉ xem được" in page_text(page)
    for action in ACTIONS:
        assert reverse(f"verification:{action}", args=[dao.pk]) not in body
    assert reverse("verification:assign") not in body


@pytest.mark.parametrize("action", list(ACTIONS))
def test_station_actions_are_refused_to_everyone_but_the_cases_own_station(world, cases, action):
    case = cases["dao_hn"]
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Cho công an xem được")
    case.refresh_from_db()
    before = (ChangeRecord.objects.count(), ContactAttempt.objects.count(), case.version, case.state)
    url = reverse(f"verification:{action}", args=[case.pk])
    for key, status in [
        ("police_badinh", 403),
        ("province_hn", 403),
        ("facility_hn1", 403),
        ("national", 403),
        ("commune_hoankiem", 404),
    ]:
        assert client_for(world, key).post(url, ACTIONS[action]).status_code == status, key
    dose = Dose.objects.filter(person=case.person).first()
    dose_url = reverse("verification:case_dose_correct", args=[case.pk, dose.pk])
    assert client_for(world, "police_badinh").post(dose_url, {}).status_code == 403
    assert client_for(world, "commune_hoankiem").post(dose_url, {}).status_code == 404
    case.refresh_from_db()
    assert (ChangeRecord.objects.count(), ContactAttempt.objects.count(), case.version, case.state) == before


def test_bulk_assignment_is_the_stations_own(world, cases, thu):
    station = client_for(world, "commune_badinh")
    colleague = user_create(
        username="yta_lan", password=TEST_PASSWORD, role=Role.COMMUNE, commune_code="00004"
    )
    mine = [cases["dao_hn"].pk, thu_case(thu).pk]
    page = station.get(reverse("verification:worklist")).content.decode()
    assert f'<option value="{colleague.pk}">yta_lan</option>' in page and 'name="case_ids"' in page

    # A case of another commune in the batch: nothing at all is assigned.
    response = station.post(
        reverse("verification:assign"), {"case_ids": [*mine, cases["binh_hn"].pk], "assignee": colleague.pk}
    )
    assert response.status_code == 404
    assert not VerificationCase.objects.filter(assigned_to=colleague).exists()

    # Only the station's own staff can be picked; the refusal keeps the ticks and the list's filters.
    back = reverse("verification:worklist") + "?state=open"
    outsider = world.users["commune_hoankiem"].pk
    response = station.post(
        reverse("verification:assign"), {"case_ids": mine, "assignee": outsider, "next": back}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert set(re.findall(r'name="case_ids" value="(\d+)"[^>]*checked', body)) == {str(pk) for pk in mine}
    assert f'name="next" value="{back}"' in body
    response = station.post(
        reverse("verification:assign"), {"case_ids": mine, "assignee": colleague.pk, "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    assert set(VerificationCase.objects.filter(assigned_to=colleague).values_list("pk", flat=True)) == set(
        mine
    )
    listing = page_text(station.get(back))
    assert "Đã giao 2 hồ sơ." in listing and "yta_lan" in listing

    refused = client_for(world, "police_badinh").post(
        reverse("verification:assign"), {"case_ids": mine, "assignee": ""}
    )
    assert refused.status_code == 403


# -- the station's work through the pages ------------------------------------------------------------------


def test_a_station_corrects_the_gender_logs_a_contact_and_escalates(world, thu):
    station = client_for(world, "commune_badinh")
    case = thu_case(thu)
    assert set(case.codes) == {"ID_GENDER_MISMATCH", "ID_BIRTHYEAR_MISMATCH"}

    listing = page_text(station.get(reverse("verification:worklist")))
    assert "CCCD lệch giới tính" in listing and "CCCD lệch năm sinh" in listing
    assert "001187004321" not in listing and "•••••••••321" in listing

    page = station.get(case_url(case))
    text = page_text(page)
    assert "CCCD cho biết: nữ, sinh 1987 — hồ sơ ghi: nam, sinh 1978" in text
    assert 'data-code="ID_GENDER_MISMATCH"' in page.content.decode()
    assert "001187004321" not in page.content.decode()

    response = station.post(
        reverse("verification:case_person_correct", args=[case.pk]),
        {
            "expected_version": thu.version,
            "full_name": thu.full_name,
            "birth_day": "2",
            "birth_month": "3",
            "birth_year": "1978",
            "gender": "F",
            "id_number": "",  # empty: keep the stored number
            "phone": thu.phone,
            "commune_code": "00004",
            "reason": "Người dân xác nhận qua điện thoại",
        },
    )
    assert response.status_code == 302 and response["Location"] == case_url(case)
    page = station.get(case_url(case))
    text = page_text(page)
    assert "Đã sửa: Giới tính. Đã hết lỗi: CCCD lệch giới tính." in text
    assert 'data-code="ID_GENDER_MISMATCH"' not in page.content.decode()
    assert "CCCD cho biết: nữ, sinh 1987 — hồ sơ ghi: nữ, sinh 1978" in text  # the birth year is still wrong
    assert not Finding.objects.filter(person=thu, code="ID_GENDER_MISMATCH", is_open=True).exists()
    assert Person.objects.get(pk=thu.pk).id_number == "001187004321"
    assert "Người dân xác nhận qua điện thoại" in text  # the history shows the correction and its reason
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS and case.codes == ["ID_BIRTHYEAR_MISMATCH"]

    response = station.post(
        reverse("verification:case_contact_log", args=[case.pk]),
        {"channel": "visit", "outcome": "moved", "note": "Hàng xóm nói đã chuyển vào Huế"},
    )
    assert response.status_code == 302
    text = page_text(station.get(case_url(case)))
    assert "Đã ghi lần liên lạc." in text
    assert "Đến nhà" in text and "Đã chuyển đi" in text and "Hàng xóm nói đã chuyển vào Huế" in text

    case.refresh_from_db()
    response = station.post(
        reverse("verification:case_escalate", args=[case.pk]),
        {"case_version": case.version, "reason": "Không gặp được, cần đối chiếu CSDL dân cư"},
    )
    assert response.status_code == 302
    page = station.get(case_url(case))
    assert "Đã chuyển hồ sơ cho công an xã." in page_text(page)
    assert "Chuyển công an" in page_text(page)  # the state, and the step in the history
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED
    assert (
        case_url(case)
        in client_for(world, "police_badinh").get(reverse("verification:worklist")).content.decode()
    )


def test_someone_elses_correction_in_between_is_shown_and_nothing_is_overwritten(world, thu):
    station = client_for(world, "commune_badinh")
    case = thu_case(thu)
    seen_version = thu.version
    # A colleague saves a new phone number while the page is open.
    person_correct(
        person_id=thu.pk,
        expected_version=seen_version,
        changes={"phone": "0987654321"},
        reason="Số mới",
        actor_id=world.users["commune_badinh"].pk,
    )
    response = station.post(
        reverse("verification:case_person_correct", args=[case.pk]),
        {
            "expected_version": seen_version,
            "full_name": "Lê Thị Thu Hà",
            "birth_year": "1987",
            "gender": "F",
            "phone": thu.phone,
            "commune_code": "00004",
            "reason": "Theo CCCD",
        },
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "Người khác vừa sửa hồ sơ này" in text
    assert "0987654321" in text  # the value stored now
    body = response.content.decode()
    assert 'value="Lê Thị Thu Hà"' in body  # what the user typed is still there
    assert f'name="expected_version" value="{seen_version + 1}"' in body
    stored = Person.objects.get(pk=thu.pk)
    assert (stored.full_name, stored.gender, stored.phone) == ("Lê Thị Thu", "M", "0987654321")


def test_a_refused_correction_shows_why_and_keeps_what_was_typed(world, thu):
    station = client_for(world, "commune_badinh")
    case = thu_case(thu)
    response = station.post(
        reverse("verification:case_person_correct", args=[case.pk]),
        {
            "expected_version": thu.version,
            "full_name": "Lê Thị Thu Hà",
            "birth_day": "31",
            "birth_month": "2",
            "birth_year": "1987",
            "gender": "F",
            "phone": thu.phone,
            "commune_code": "00004",
            "reason": "Theo CCCD",
        },
    )
    assert response.status_code == 400
    assert "Ngày sinh 31/2/1987 không tồn tại." in page_text(response)
    assert 'value="Lê Thị Thu Hà"' in response.content.decode()
    assert Person.objects.get(pk=thu.pk).full_name == "Lê Thị Thu"

    response = station.post(
        reverse("verification:case_person_correct", args=[case.pk]),
        {"expected_version": thu.version, "full_name": "Lê Thị Thu", "gender": "F", "reason": ""},
    )
    assert response.status_code == 400 and "Chưa lưu được" in page_text(response)


def test_a_dose_is_corrected_in_place_and_a_stale_dose_version_is_refused(world, thu):
    station = client_for(world, "commune_badinh")
    case = thu_case(thu)
    dose = Dose.objects.get(person=thu)
    url = reverse("verification:case_dose_correct", args=[case.pk, dose.pk])
    prefix = f"dose-{dose.pk}-"
    form = {
        prefix + "expected_version": dose.version,
        prefix + "vaccination_date": "2021-09-02",
        prefix + "vaccine_id": "AZ",
        prefix + "dose_number": "1",
        prefix + "lot_number": "AB1234",
        prefix + "reason": "Theo phiếu tiêm",
    }
    response = station.post(url, form)
    assert response.status_code == 302
    dose.refresh_from_db()
    assert (dose.vaccination_date, dose.lot_number, dose.version) == (dt.date(2021, 9, 2), "AB1234", 2)
    text = page_text(station.get(case_url(case)))
    assert "Đã sửa: Ngày tiêm, Số lô." in text and "AB1234" in text

    response = station.post(url, {**form, prefix + "lot_number": "ZZ9"})  # still version 1
    assert response.status_code == 409
    assert "Người khác vừa sửa hồ sơ này" in page_text(response) and "AB1234" in page_text(response)
    assert 'value="ZZ9"' in response.content.decode()
    dose.refresh_from_db()
    assert dose.lot_number == "AB1234"

    other = Dose.objects.get(person=world.persons["binh_hn"])
    assert (
        station.post(reverse("verification:case_dose_correct", args=[case.pk, other.pk]), form).status_code
        == 404
    )


def test_resolving_with_findings_left_needs_a_justification(world, thu):
    station = client_for(world, "commune_badinh")
    case = thu_case(thu)
    url = reverse("verification:case_resolve", args=[case.pk])
    response = station.post(url, {"case_version": case.version, "justification": ""})
    assert response.status_code == 400
    assert "Còn lỗi chặn" in page_text(response)
    case.refresh_from_db()
    assert case.state == CaseState.OPEN

    response = station.post(
        url, {"case_version": case.version, "justification": "Đã xem CCCD gốc, hồ sơ đúng"}
    )
    assert response.status_code == 302
    page = station.get(case_url(case))
    assert "Đã đóng hồ sơ: đã xong." in page_text(page) and "Hồ sơ đã đóng; chỉ xem được." in page_text(page)
    assert reverse("verification:case_contact_log", args=[case.pk]) not in page.content.decode()
    response = station.post(
        reverse("verification:case_contact_log", args=[case.pk]), ACTIONS["case_contact_log"]
    )
    assert response.status_code == 400 and "Hồ sơ đã đóng." in page_text(response)


def test_after_the_police_find_nothing_the_station_marks_the_case_unverifiable(world, thu):
    station = client_for(world, "commune_badinh")
    case = thu_case(thu)
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Cần CSDL dân cư")
    case_police_result(actor=world.users["police_badinh"], case_id=case.pk, result="NOT_FOUND")
    page = station.get(case_url(case))
    assert reverse("verification:case_unverifiable", args=[case.pk]) in page.content.decode()
    url = reverse("verification:case_unverifiable", args=[case.pk])
    assert station.post(url, {"reason": "ngắn"}).status_code == 400
    assert station.post(url, {"reason": "Không có trong CSDL dân cư, đã chuyển đi"}).status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.UNVERIFIABLE
    assert Person.objects.get(pk=thu.pk).verification_state == "unverifiable"


# -- the worklist's filters -------------------------------------------------------------------------------


def test_worklist_filters_by_rule_state_facility_age_and_text(world, cases, thu):
    national = client_for(world, "national")
    url = reverse("verification:worklist")
    thu_url = case_url(thu_case(thu))

    def shown(**params) -> set[str]:
        body = national.get(url, params).content.decode()
        found = {key for key, case in cases.items() if case_url(case) in body}
        return found | ({"thu"} if thu_url in body else set())

    assert shown() == ALL | {"thu"}
    assert shown(code="ID_BIRTHYEAR_MISMATCH") == {"hoa_traveller", "dao_hcm", "thu"}
    assert shown(facility=world.facilities["HN002"].pk) == {"binh_hn"}
    assert shown(age_group="40-59") == {"thu"}  # born 1978; everyone else 1990
    assert shown(q="nguyen thi dao") == {"dao_hn", "dao_hcm"}  # without diacritics
    assert shown(q="Lê Thị Thu") == {"thu"}
    assert shown(q="001187004321") == {"thu"}
    assert shown(q="0912345602") == {"binh_hn"}
    case_escalate(actor=world.users["commune_badinh"], case_id=cases["dao_hn"].pk, reason="Cần CSDL dân cư")
    assert shown(state="escalated") == {"dao_hn"}
    assert shown(state="bogus") == ALL | {"thu"}  # an unknown value is ignored, not an error


def test_worklist_pages_hold_fifty_cases(world):
    ids = _many_cases(world, 60)
    station = client_for(world, "commune_badinh")
    first = station.get(reverse("verification:worklist")).content.decode()
    second = station.get(reverse("verification:worklist"), {"page": 2}).content.decode()
    cases = list(VerificationCase.objects.filter(person_id__in=ids).order_by("opened_at", "pk"))
    assert sum(case_url(c) in first for c in cases) == 50
    assert sum(case_url(c) in second for c in cases) == 10
    assert "page=2" in first


def _many_cases(world: World, n: int, tag: str = "many") -> list[int]:
    """``n`` Ba Đình residents with no gender and no ID, half of them assigned to a health worker."""
    ids = []
    for i in range(n):
        person = person_make(
            full_name=f"Trần Văn Bốn {chr(65 + i % 26)}", commune=world.communes["00004"], gender=""
        )
        dose_make(
            person=person,
            facility=world.facilities["HN001" if i % 2 else "HN002"],
            source_record_id=f"{tag}-{i}",
            date=dt.date(2021, 10, 1),
            number=1,
            vaccine=world.vaccine,
        )
        ids.append(person.pk)
    open_cases(ids)
    VerificationCase.objects.filter(person_id__in=ids[::2]).update(assigned_to=world.users["commune_badinh"])
    return ids


def test_the_worklist_runs_the_same_queries_for_5_and_for_60_cases(world):
    station = client_for(world, "commune_badinh")
    url = reverse("verification:worklist")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = station.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    _many_cases(world, 5)
    few = count()
    _many_cases(world, 55, tag="more")
    assert VerificationCase.objects.filter(commune_id="00004").count() == 60
    assert count() == few
    assert few <= 8  # session, user, staff, facilities, count, the page's rows


def test_the_case_page_runs_the_same_queries_whatever_its_doses_contacts_and_history(world, thu):
    from vaxreg.verification.services import contact_attempt_log

    station = client_for(world, "commune_badinh")
    case = thu_case(thu)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = station.get(case_url(case))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(4):
        dose_make(
            person=thu,
            facility=world.facilities["HN002"],
            source_record_id=f"thu-extra-{i}",
            date=dt.date(2022, 1, 1) + dt.timedelta(days=120 * i),
            number=None,
            vaccine=None,
        )
        contact_attempt_log(
            actor=world.users["commune_badinh"],
            case_id=case.pk,
            channel="phone",
            outcome="no_answer",
            note=f"Lần {i}",
        )
    quality_check_persons(person_ids=[thu.pk])
    assert count() == few


# -- the findings export ---------------------------------------------------------------------------------


def _findings_rows(response) -> list[tuple]:
    if response["Content-Type"].startswith("text/csv"):
        content = b"".join(response.streaming_content).decode("utf-8-sig")
        return [tuple(row) for row in csv.reader(io.StringIO(content))]
    return xlsx_rows(response)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_findings_export_holds_the_stations_persons_or_the_facilitys_records(world, cases, thu, fmt):
    url = reverse("verification:findings_export", args=[fmt])
    Person.objects.filter(pk=thu.pk).update(id_number="0011870043", id_type="INVALID")  # ID_FORMAT quotes it
    quality_check_persons(person_ids=[thu.pk])

    rows = _findings_rows(client_for(world, "commune_badinh").get(url))
    assert rows[0][0].startswith("Mã cơ sở tiêm")
    records = {(r[0], r[1]) for r in rows[1:]}
    assert records == {
        ("HN001", "dao_hn-0"),
        ("HN001", "dao_hn-1"),
        ("HN001", "thu-1"),
        ("HN001", "hoa_traveller-0"),
        ("HCM01", "hoa_traveller-1"),
    }
    assert ("HN001", "thu-1", "ID_FORMAT") in {r[:3] for r in rows}
    assert len(rows) - 1 == len({r[:3] for r in rows[1:]})  # one row per finding and record, no more
    assert not any("0011870043" in str(cell) for row in rows for cell in row)
    assert any("•••••••043" in str(cell) for row in rows for cell in row)

    rows = _findings_rows(client_for(world, "commune_hoankiem").get(url))
    assert {(r[1], r[2]) for r in rows[1:]} == {("binh_hn-0", "ID_GENDER_MISMATCH")}

    # A facility gets its own source records only: the traveller's Hồ Chí Minh dose is not Bạch Mai's.
    rows = _findings_rows(client_for(world, "facility_hn1").get(url))
    assert {(r[0], r[1]) for r in rows[1:]} == {
        ("HN001", "dao_hn-0"),
        ("HN001", "dao_hn-1"),
        ("HN001", "thu-1"),
        ("HN001", "hoa_traveller-0"),
    }

    for key in ("province_hn", "national", "police_badinh"):
        assert client_for(world, key).get(url).status_code == 403
    assert (
        client_for(world, "commune_badinh")
        .get(reverse("verification:findings_export", args=["pdf"]))
        .status_code
        == 404
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="findings").count() == 3


# -- navigation and language -----------------------------------------------------------------------------


def test_the_menu_links_to_the_worklist_and_the_pages_follow_the_language(world, cases):
    station = client_for(world, "commune_badinh")
    home = station.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("verification:worklist")}">Xác minh</a>' in home
    page = station.get(reverse("verification:worklist"))
    assert "Danh sách xác minh" in page_text(page) and "CCCD lệch giới tính" in page_text(page)

    station.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = station.get(reverse("verification:worklist"))
    assert "Verification worklist" in page_text(page) and "ID contradicts gender" in page_text(page)
    assert "Danh sách xác minh" not in page_text(page)
    text = page_text(station.get(case_url(cases["dao_hn"])))
    assert "The CCCD says: female, born 1990 — the record says: male, born 1990" in text
