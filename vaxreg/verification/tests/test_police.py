"""The commune police's side of verification: its pages, the export of escalated cases and the result file."""

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from vaxreg.accounts.models import Role, User
from vaxreg.accounts.services import user_create
from vaxreg.core import clock
from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType
from vaxreg.imports.readers import FileRefused
from vaxreg.people.models import Gender, Person, VerificationState
from vaxreg.people.selectors import person_history
from vaxreg.quality.services import quality_check_persons
from vaxreg.testing.world import TEST_PASSWORD, World, person_make, world  # noqa: F401
from vaxreg.vaccinations.models import CatalogueParameter
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.police import police_results_import
from vaxreg.verification.services import case_escalate, case_police_result, cases_sync

pytestmark = pytest.mark.django_db

ESCALATION_REASON = "Gọi 3 lần không nghe máy, cần đối chiếu CSDL dân cư"


@dataclass
class PoliceWorld:
    world: World
    an: VerificationCase  # CCCD says male, the record says female
    minh: VerificationCase  # CCCD says born 1985, the record says 1990
    lan: VerificationCase  # no ID number at all
    mai_open: VerificationCase  # Ba Đình, never escalated
    tung_hoankiem: VerificationCase  # escalated in another commune
    police_hoankiem: User

    def user(self, key: str) -> User:
        return self.police_hoankiem if key == "police_hoankiem" else self.world.users[key]

    def client(self, key: str) -> Client:
        client = Client()
        client.force_login(self.user(key))
        return client


def _case_of(person: Person) -> VerificationCase:
    return VerificationCase.objects.get(person=person)


@pytest.fixture
def pw(world: World) -> PoliceWorld:  # noqa: F811
    # The rule parameters the quality check needs (the reference data, which this small world leaves out).
    CatalogueParameter.objects.get_or_create(key="campaign_start", defaults={"value": "2021-03-08"})
    CatalogueParameter.objects.get_or_create(key="min_birth_year", defaults={"value": 1900})
    badinh, hoankiem = world.communes["00004"], world.communes["00070"]
    persons = {
        "an": person_make(
            full_name="Nguyễn Văn An",
            commune=badinh,
            id_number="001090012399",
            gender=Gender.FEMALE,
            birth=(1990, 3, 4),
        ),
        "minh": person_make(
            full_name="Lê Văn Minh",
            commune=badinh,
            id_number="001085012345",
            gender=Gender.MALE,
            birth=(1990, 5, 6),
        ),
        "lan": person_make(
            full_name="Trần Thị Lan", commune=badinh, gender=Gender.FEMALE, birth=(1985, 1, 2)
        ),
        "mai": person_make(
            full_name="Đỗ Thị Mai", commune=badinh, gender=Gender.FEMALE, birth=(1970, None, None)
        ),
        "tung": person_make(
            full_name="Phan Văn Tùng", commune=hoankiem, gender=Gender.MALE, birth=(1960, None, None)
        ),
    }
    ids = [p.pk for p in persons.values()]
    quality_check_persons(person_ids=ids)
    assert cases_sync(person_ids=ids).opened == 5
    for key in ("an", "minh", "lan"):
        case_escalate(
            actor=world.users["commune_badinh"], case_id=_case_of(persons[key]).pk, reason=ESCALATION_REASON
        )
    case_escalate(
        actor=world.users["commune_hoankiem"],
        case_id=_case_of(persons["tung"]).pk,
        reason="Không liên lạc được",
    )
    police_hoankiem = user_create(
        username="police_hoankiem", password=TEST_PASSWORD, role=Role.POLICE, commune_code="00070"
    )
    return PoliceWorld(
        world=world,
        police_hoankiem=police_hoankiem,
        **{key if key != "mai" else "mai_open": _case_of(p) for key, p in persons.items() if key != "tung"},
        tung_hoankiem=_case_of(persons["tung"]),
    )


def _refreshed(case: VerificationCase) -> VerificationCase:
    return VerificationCase.objects.select_related("person").get(pk=case.pk)


# -- who may open what ------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_from_every_police_url(client, pw):
    urls = [
        reverse("verification:police_cases"),
        reverse("verification:police_case", args=[pw.an.pk]),
        reverse("verification:police_export") + "?commune=00004",
        reverse("verification:police_import"),
    ]
    for url in urls:
        for response in (client.get(url), client.post(url)):
            if response.status_code == 405:  # the export is GET only
                continue
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("web:login"))
    assert _refreshed(pw.an).state == CaseState.ESCALATED


def test_police_of_the_commune_sees_its_escalated_cases_with_masked_ids(pw):
    html = pw.client("police_badinh").get(reverse("verification:police_cases")).content.decode()
    for case in (pw.an, pw.minh, pw.lan):
        assert reverse("verification:police_case", args=[case.pk]) in html
    assert "Nguyễn Văn An" in html and "•••••••••399" in html
    assert "001090012399" not in html
    assert "Đỗ Thị Mai" not in html  # never escalated
    assert "Phan Văn Tùng" not in html  # another commune
    assert ESCALATION_REASON in html
    assert "CCCD lệch giới tính" in html and ">ID_GENDER_MISMATCH<" not in html  # the rule in words


def test_police_case_page_shows_person_findings_and_why_it_was_escalated(pw):
    response = pw.client("police_badinh").get(reverse("verification:police_case", args=[pw.an.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nguyễn Văn An" in html and "04/03/1990" in html
    assert "•••••••••399" in html and "001090012399" not in html
    assert (
        "CCCD lệch giới tính" in html and ">ID_GENDER_MISMATCH<" not in html and "CCCD cho biết nam" in html
    )
    assert ESCALATION_REASON in html
    assert 'name="result"' in html  # the form to record the result


def test_police_of_another_commune_gets_404_everywhere(pw):
    client = pw.client("police_hoankiem")
    url = reverse("verification:police_case", args=[pw.an.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"result": "NOT_FOUND"}).status_code == 404
    assert client.get(reverse("verification:police_export") + "?commune=00004").status_code == 404
    html = client.get(reverse("verification:police_cases")).content.decode()
    assert "Phan Văn Tùng" in html and "Nguyễn Văn An" not in html
    assert _refreshed(pw.an).state == CaseState.ESCALATED


def test_commune_health_user_reads_the_case_but_cannot_record_a_result(pw):
    client = pw.client("commune_badinh")
    url = reverse("verification:police_case", args=[pw.an.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="result"' not in page.content.decode()
    assert client.post(url, {"result": "MATCH", "gender": "M"}).status_code == 403
    assert client.get(reverse("verification:police_import")).status_code == 403
    assert pw.client("province_hn").post(url, {"result": "MATCH"}).status_code == 403
    assert pw.client("commune_hoankiem").get(url).status_code == 404
    case = _refreshed(pw.an)
    assert case.state == CaseState.ESCALATED and case.person.gender == Gender.FEMALE


# -- recording a result on screen ------------------------------------------------------------------------


def test_match_with_a_corrected_gender_resolves_the_case_with_the_police_in_the_history(pw):
    response = pw.client("police_badinh").post(
        reverse("verification:police_case", args=[pw.an.pk]),
        {
            "result": "MATCH",
            "full_name": "Nguyễn Văn An",
            "birth_date": "04/03/1990",
            "gender": "M",
            "id_number": "",
            "note": "Đối chiếu CSDL dân cư: giới tính nam",
        },
    )
    assert response.status_code == 302 and response.url == reverse("verification:police_cases")
    case = _refreshed(pw.an)
    assert case.state == CaseState.RESOLVED and case.police_result == "MATCH"
    assert case.verified_identity["gender"] == "M"
    person = case.person
    assert person.gender == Gender.MALE and person.verification_state == VerificationState.VERIFIED
    gender_change = next(e for e in person_history(person) if e.field == "gender")
    assert (gender_change.old_value, gender_change.new_value) == ("F", "M")
    assert gender_change.source_type == SourceType.POLICE
    assert gender_change.actor.username == "police_badinh"
    # The case's steps are on the person's history too, the last one by the police.
    steps = ChangeRecord.objects.filter(entity_id=person.pk, field="verification_case.state").order_by("pk")
    assert [s.new_value for s in steps][-3:] == ["escalated", "matched", "resolved"]
    # Answered: off the police's waiting list, still readable.
    html = pw.client("police_badinh").get(reverse("verification:police_cases")).content.decode()
    assert "Nguyễn Văn An" not in html
    page = (
        pw.client("police_badinh").get(reverse("verification:police_case", args=[pw.an.pk])).content.decode()
    )
    assert "MATCH" in page and 'name="result"' not in page


def test_not_found_leaves_the_case_not_found_for_the_station(pw):
    response = pw.client("police_badinh").post(
        reverse("verification:police_case", args=[pw.lan.pk]), {"result": "NOT_FOUND", "note": ""}
    )
    assert response.status_code == 302
    case = _refreshed(pw.lan)
    assert case.state == CaseState.NOT_FOUND and case.police_result == "NOT_FOUND"
    assert case.person.verification_state == VerificationState.UNVERIFIED
    assert case.closed_at is None
    again = pw.client("police_badinh").post(
        reverse("verification:police_case", args=[pw.lan.pk]), {"result": "MATCH"}
    )
    assert again.status_code == 200 and "không chờ kết quả của công an" in again.content.decode()
    assert _refreshed(pw.lan).state == CaseState.NOT_FOUND


def test_the_waiting_list_and_the_export_take_the_same_queries_for_one_case_or_many(pw):
    client = pw.client("police_badinh")
    list_url, export_url = reverse("verification:police_cases"), reverse("verification:police_export")
    with CaptureQueriesContext(connection) as many_list:
        client.get(list_url)
    with CaptureQueriesContext(connection) as many_export:
        client.get(export_url)
    for case in (pw.minh, pw.lan):
        case_police_result(actor=pw.user("police_badinh"), case_id=case.pk, result="NOT_FOUND")
    with CaptureQueriesContext(connection) as one_list:
        assert "Nguyễn Văn An" in client.get(list_url).content.decode()
    with CaptureQueriesContext(connection) as one_export:
        assert len(_sheet_rows(client.get(export_url).content)) == 2
    assert len(many_list) == len(one_list)
    assert len(many_export) == len(one_export)


def test_a_mismatch_needs_the_identity_and_a_bad_date_is_shown_not_stored(pw):
    client = pw.client("police_badinh")
    url = reverse("verification:police_case", args=[pw.minh.pk])
    empty = client.post(url, {"result": "MISMATCH", "full_name": "", "birth_date": "", "gender": ""})
    assert empty.status_code == 200 and "cần thông tin đúng" in empty.content.decode()
    bad_date = client.post(url, {"result": "MISMATCH", "birth_date": "31/02/1985"})
    assert bad_date.status_code == 200 and "không tồn tại" in bad_date.content.decode()
    assert _refreshed(pw.minh).state == CaseState.ESCALATED
    fixed = client.post(
        url, {"result": "MISMATCH", "full_name": "Lê Văn Minh", "birth_date": "06/05/1985", "gender": "M"}
    )
    assert fixed.status_code == 302
    case = _refreshed(pw.minh)
    assert case.state == CaseState.RESOLVED
    assert (case.person.birth_year, case.person.birth_month, case.person.birth_day) == (1985, 5, 6)


# -- the export --------------------------------------------------------------------------------------------


def _sheet_rows(content: bytes) -> list[list[str]]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def test_export_lists_the_escalated_cases_with_full_ids_and_is_audited(pw):
    response = pw.client("police_badinh").get(reverse("verification:police_export") + "?commune=00004")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = _sheet_rows(response.content)
    header = rows[0]
    assert header[:10] == [
        "Mã hồ sơ / Case ID",
        "Họ và tên / Full name",
        "Ngày sinh / Date of birth",
        "Giới tính / Gender",
        "Số CCCD/CMND / ID number",
        "Số điện thoại / Phone",
        "Địa chỉ / Address",
        "Xã/phường / Commune",
        "Lý do chuyển công an / Reason for escalation",
        "Kết quả / Result",
    ]
    assert "Họ và tên xác minh / Verified name" in header and "Ghi chú / Note" in header
    by_case = {row[0]: row for row in rows[1:]}
    assert set(by_case) == {str(pw.an.pk), str(pw.minh.pk), str(pw.lan.pk)}
    an = by_case[str(pw.an.pk)]
    assert an[1:5] == ["Nguyễn Văn An", "04/03/1990", "Nữ", "001090012399"]
    assert an[7].startswith("00004") and an[8] == ESCALATION_REASON
    assert all(cell == "" for cell in an[9:])  # the result columns are for the police
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor.username == "police_badinh" and event.object_id == "00004"
    assert sorted(event.detail["full_id_read"]["case_ids"]) == sorted([pw.an.pk, pw.minh.pk, pw.lan.pk])


def test_export_follows_each_users_unit(pw):
    url = reverse("verification:police_export")
    assert pw.client("commune_badinh").get(url).status_code == 200  # its own commune by default
    assert pw.client("commune_badinh").get(url + "?commune=00070").status_code == 404
    hoankiem = pw.client("province_hn").get(url + "?commune=00070")
    assert [row[1] for row in _sheet_rows(hoankiem.content)[1:]] == ["Phan Văn Tùng"]
    assert pw.client("province_hn").get(url).status_code == 400
    assert pw.client("province_hcm").get(url + "?commune=00004").status_code == 404
    assert pw.client("facility_hn1").get(url + "?commune=00004").status_code == 403
    assert pw.client("national").get(url + "?commune=00004").status_code == 403
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 2


# -- the result file ----------------------------------------------------------------------------------------


def _filled_export(pw: PoliceWorld, results: dict[int, list[str]], extra: list[list[object]]) -> bytes:
    """The police's file: the export as downloaded, result columns filled in, plus rows typed by hand."""
    exported = pw.client("police_badinh").get(reverse("verification:police_export")).content
    rows = _sheet_rows(exported)
    header, data = rows[0], rows[1:]
    first_result = header.index("Kết quả / Result")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in data:
        filled = results.get(int(row[0]), [])
        sheet.append(row[:first_result] + filled + [""] * (len(header) - first_result - len(filled)))
    sheet.append([])
    for typed in extra:
        sheet.append(typed + [""] * (len(header) - len(typed)))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_import_applies_good_rows_and_reports_bad_ones_with_row_and_reason(pw, settings, tmp_path: Path):
    settings.MEDIA_ROOT = tmp_path
    blank = [""] * 9
    content = _filled_export(
        pw,
        {
            pw.an.pk: ["MATCH", "", "", "Nam", "", "Khớp CSDL"],
            pw.minh.pk: ["mismatch", "Lê Văn Minh", "06/05/1985"],
            pw.lan.pk: ["MATCH"],
        },
        [
            ["999999", *blank[1:], "MATCH"],
            [str(pw.tung_hoankiem.pk), *blank[1:], "NOT_FOUND"],
            [str(pw.mai_open.pk), *blank[1:], "NOT_FOUND"],
            [str(pw.minh.pk), *blank[1:], "MAYBE"],
            ["abc", *blank[1:], "MATCH", "", "31/02/1985"],
        ],
    )
    # Lan is answered on screen after the list was downloaded: a second answer from the file is refused.
    case_police_result(actor=pw.world.users["police_badinh"], case_id=pw.lan.pk, result="NOT_FOUND")
    police = pw.client("police_badinh")
    response = police.post(reverse("verification:police_import"), {"file": _upload("ket-qua.xlsx", content)})
    assert response.status_code == 200
    report = response.context["report"]
    assert (report.rows_read, report.rows_applied, report.rows_rejected, report.rows_blank) == (8, 2, 6, 1)

    an, minh = _refreshed(pw.an), _refreshed(pw.minh)
    assert an.state == CaseState.RESOLVED and an.person.gender == Gender.MALE
    assert minh.state == CaseState.RESOLVED and minh.police_result == "MISMATCH"
    assert minh.person.birth_year == 1985
    sources = set(
        ChangeRecord.objects.filter(entity="person", source_type=SourceType.POLICE).values_list(
            "source_id", flat=True
        )
    )
    assert sources == {"police-file:ket-qua.xlsx"}
    assert _refreshed(pw.tung_hoankiem).state == CaseState.ESCALATED
    assert _refreshed(pw.mai_open).state == CaseState.OPEN
    assert _refreshed(pw.lan).state == CaseState.NOT_FOUND

    rejected = {r.row: r for r in report.rejected}
    codes = {row: [reason.code for reason in r.reasons] for row, r in rejected.items()}
    # Header on row 1, the three cases on rows 2–4 in escalation order (an, minh, lan), a blank row 5.
    assert codes == {
        4: ["CASE_NOT_ESCALATED"],
        6: ["CASE_UNKNOWN"],
        7: ["CASE_UNKNOWN"],
        8: ["CASE_UNKNOWN"],
        9: ["RESULT_INVALID"],
        10: ["CASE_ID_INVALID", "DATE_IMPOSSIBLE"],
    }
    assert rejected[9].reasons[0].column == "Kết quả / Result"
    assert "MAYBE" in rejected[9].reasons[0].message_vi and "MAYBE" in rejected[9].reasons[0].message_en
    assert rejected[10].reasons[1].column == "Ngày sinh xác minh / Verified date of birth"
    html = response.content.decode()
    assert "Kết quả “MAYBE” không hợp lệ" in html and "The result “MAYBE” is not valid" in html

    # The CSV report accounts for every row read, with the raw values of the rejected ones; only the
    # session that imported the file can download it.
    url = reverse("verification:police_import_report", args=[response.context["token"]])
    download = police.get(url)
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    lines = download.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Dòng / Row,Mã hồ sơ / Case ID,Xử lý / Outcome,Cột / Column")
    assert sum("Đã ghi / applied" in line for line in lines) == 2
    assert sum("Bị từ chối / rejected" in line for line in lines) == 7  # six rows, one with two reasons
    assert any(line.startswith("9,") and "MAYBE" in line for line in lines)
    assert pw.client("police_badinh").get(url).status_code == 404


def test_a_result_workbook_with_a_cell_past_excels_limit_is_refused_whole_naming_the_cell(pw):
    """openpyxl, like Excel, cuts a cell at 32,767 characters: the long note is put into the file's XML after."""
    content = _filled_export(
        pw,
        {pw.an.pk: ["MATCH", "", "", "Nam", "", "Khớp CSDL"]},
        [[str(pw.minh.pk), *[""] * 8, "MATCH", "GHI-CHU-DAI"]],
    )
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(buffer := io.BytesIO(), "w") as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, source.read(info).replace(b"GHI-CHU-DAI", b"x" * 40_000))
    with pytest.raises(FileRefused) as refused:
        police_results_import(
            actor=pw.world.users["police_badinh"], file_name="kq.xlsx", content=buffer.getvalue()
        )
    assert (
        "ô K6 (dòng 6, cột K)" in refused.value.message_vi
        and "cell K6 (row 6, column K)" in refused.value.message_en
    )
    assert _refreshed(pw.an).state == CaseState.ESCALATED  # the good row before it is not applied either


def _upload(name: str, content: bytes) -> io.BytesIO:
    upload = io.BytesIO(content)
    upload.name = name
    return upload


def test_a_csv_result_file_with_a_title_row_and_english_headers_is_read(pw):
    content = (
        "KẾT QUẢ XÁC MINH CÔNG AN PHƯỜNG BA ĐÌNH,,,,\n"
        "CASE ID,RESULT,VERIFIED GENDER,verified id number,note\n"
        f"{pw.an.pk},match,male,,\n"
        f"{pw.lan.pk},Không tìm thấy,,,Không có trong CSDL\n"
        f"{pw.minh.pk},MISMATCH,,12345,\n"
    ).encode()
    report = police_results_import(actor=pw.world.users["police_badinh"], file_name="kq.csv", content=content)
    assert (report.rows_read, report.rows_applied, report.rows_rejected) == (3, 2, 1)
    assert _refreshed(pw.an).state == CaseState.RESOLVED
    assert _refreshed(pw.lan).state == CaseState.NOT_FOUND
    [bad] = report.rejected
    assert bad.row == 5 and [r.code for r in bad.reasons] == ["ID_INVALID"]
    assert bad.reasons[0].column == "verified id number"


def test_import_command_applies_the_file_and_writes_the_report(pw, tmp_path: Path):
    source = tmp_path / "ket-qua.csv"
    source.write_text(
        f"Mã hồ sơ,Kết quả,Giới tính xác minh\n{pw.an.pk},MATCH,Nam\n424242,MATCH,\n", encoding="utf-8"
    )
    report_path = tmp_path / "report.csv"
    out = io.StringIO()
    call_command(
        "police_import", str(source), "--user", "police_badinh", "--report", str(report_path), stdout=out
    )
    text = out.getvalue()
    assert "rows read:" in text and "applied:" in text
    assert "dòng / row 3" in text and "424242" in text
    assert _refreshed(pw.an).state == CaseState.RESOLVED
    report = report_path.read_text(encoding="utf-8-sig")
    assert "CASE_UNKNOWN" in report and "424242" in report


def test_only_a_police_account_imports_a_result_file(pw, tmp_path: Path):
    from django.core.management.base import CommandError

    source = tmp_path / "ket-qua.csv"
    source.write_text(f"Mã hồ sơ,Kết quả\n{pw.an.pk},NOT_FOUND\n", encoding="utf-8")
    with pytest.raises(CommandError, match="police"):
        call_command("police_import", str(source), "--user", "commune_badinh", stdout=io.StringIO())
    assert _refreshed(pw.an).state == CaseState.ESCALATED


def test_a_verified_birth_date_outside_1900_to_today_is_refused_as_everywhere(pw):
    future = (clock.today() + dt.timedelta(days=400)).strftime("%d/%m/%Y")
    content = (
        "Mã hồ sơ,Kết quả,Ngày sinh xác minh\n"
        f"{pw.an.pk},MISMATCH,01/01/1850\n"
        f"{pw.minh.pk},MISMATCH,{future}\n"
    ).encode()
    report = police_results_import(actor=pw.world.users["police_badinh"], file_name="kq.csv", content=content)
    assert (report.rows_read, report.rows_applied, report.rows_rejected) == (2, 0, 2)
    assert [[r.code for r in row.reasons] for row in report.rejected] == [["BIRTH_DATE_OUT_OF_RANGE"]] * 2
    assert "01/01/1850" in report.rejected[0].reasons[0].message_en
    assert _refreshed(pw.an).state == CaseState.ESCALATED


def test_cells_of_the_wrong_type_are_rejected_lines_counted_by_code(pw):
    content = (
        "Mã hồ sơ,Kết quả,Giới tính xác minh,Số CCCD/CMND xác minh,Ngày sinh xác minh\n"
        f"{pw.an.pk},MISMATCH,xyz,,\n"
        f"{pw.minh.pk},MISMATCH,,12345,\n"
        f"{pw.lan.pk}x,MATCH,,,\n"
        f"{pw.lan.pk},MISMATCH,Nữ,12345,31/02/1985\n"
    ).encode()
    report = police_results_import(actor=pw.world.users["police_badinh"], file_name="kq.csv", content=content)
    assert (report.rows_read, report.rows_applied, report.rows_rejected) == (4, 0, 4) and report.adds_up
    codes = {r.row: [(reason.column, reason.code) for reason in r.reasons] for r in report.rejected}
    assert codes == {
        2: [("Giới tính xác minh", "GENDER_INVALID")],
        3: [("Số CCCD/CMND xác minh", "ID_INVALID")],
        4: [("Mã hồ sơ", "CASE_ID_INVALID")],
        5: [("Ngày sinh xác minh", "DATE_IMPOSSIBLE"), ("Số CCCD/CMND xác minh", "ID_INVALID")],
    }
    assert report.rejected_by_code == {
        "GENDER_INVALID": 1,
        "ID_INVALID": 2,
        "CASE_ID_INVALID": 1,
        "DATE_IMPOSSIBLE": 1,
    }
    [gender] = report.rejected[0].reasons
    assert "“xyz”" in gender.message_vi and "“xyz”" in gender.message_en
    assert _refreshed(pw.an).state == CaseState.ESCALATED
