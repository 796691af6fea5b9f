"""The dose import's row report: every row of the file a user uploads is stored or rejected, the rejected
ones kept with row, column, code and reason in both languages, whatever chunk they fall in."""

from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from vaxreg.core.tables import CellInvalid, Column, ColumnType
from vaxreg.imports import pipeline
from vaxreg.imports.headers import COLUMNS_BY_FIELD, Field
from vaxreg.imports.models import ImportBatch, RejectedRow
from vaxreg.people.models import Person
from vaxreg.vaccinations.fields import dose_number_cell
from vaxreg.vaccinations.models import Dose

pytestmark = pytest.mark.django_db

HEADER = (
    "Họ và tên,Ngày sinh,Giới tính,Số CCCD/CMND,Số điện thoại,Mã xã,"
    "Mã cơ sở tiêm,Mã bản ghi,Ngày tiêm,Mũi số,Tên vắc xin,Số lô"
)
GOOD = "Hoàng Văn Nam,12/03/1980,Nam,001080012345,0912000001,00004,HN001,R-1,02/08/2021,1,AstraZeneca,A1"

# Cells of the wrong type in citizen and dose columns: kept as written, for the quality rules.
WRONG_TYPES = {"birth": "31/02/1980", "gender": "abc", "id": "12345", "phone": "0000", "dose": "Mũi 7"}


def line(**changes: str) -> str:
    cells = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    keys = {"name": "Họ và tên", "birth": "Ngày sinh", "gender": "Giới tính", "id": "Số CCCD/CMND",
            "phone": "Số điện thoại", "facility": "Mã cơ sở tiêm", "source": "Mã bản ghi", "date": "Ngày tiêm",
            "dose": "Mũi số", "lot": "Số lô"}  # fmt: skip
    cells.update({keys[k]: v for k, v in changes.items()})
    return ",".join(cells.values())


def upload(client, lines: list[str], name: str) -> ImportBatch:
    content = ("\n".join([HEADER, *lines]) + "\n").encode("utf-8")
    response = client.post(
        reverse("web:imports"), {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
    )
    assert response.status_code == 302
    return ImportBatch.objects.get(file_name=name)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_every_row_of_an_upload_is_stored_or_rejected_with_its_reasons_across_chunks(
    client, world, monkeypatch
):
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", 3)  # the rejected rows go to the table chunk by chunk
    client.force_login(world.users["facility_hn1"])
    upload(client, [line(source="R-9", lot="L9")], "first.csv")
    Dose.objects.filter(source_record_id="R-9").update(signed_off=True)

    batch = upload(
        client,
        [
            GOOD,  # row 2: stored
            # row 3: cells of the wrong type in citizen and dose columns: kept as written, the dose stored
            line(name="Lê Hoa", source="R-2", **WRONG_TYPES),
            line(source=""),  # row 4
            line(source="X" * 65),  # row 5
            line(source="R-5", date=""),  # row 6
            line(source="R-6", date="31/02/2021"),  # row 7
            line(source="R-7", facility="NOPE"),  # row 8
            line(source="R-8", facility="HN002"),  # row 9: another facility's row
            line(lot="OTHER"),  # row 10: R-1 again, other values
            ",,,,,,,,,,,",  # row 11: blank, counted apart
            line(source="R-9", lot="CHANGED"),  # row 12: a signed-off dose
            line(source="R-10", date="2021"),  # row 13: a year is not a vaccination date
        ],
        "report.csv",
    )

    assert batch.status == ImportBatch.Status.DONE, batch.message
    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected, batch.rows_blank) == (11, 2, 9, 1)
    assert batch.rows_read == batch.rows_stored + batch.rows_rejected
    rejected = {r.row_number: r for r in RejectedRow.objects.filter(batch=batch)}
    assert len(rejected) == batch.rows_rejected
    codes = {number: [reason["code"] for reason in r.reasons] for number, r in rejected.items()}
    assert codes == {
        4: ["SOURCE_ID_MISSING"],
        5: ["SOURCE_ID_TOO_LONG"],
        6: ["VACCINATION_DATE_MISSING"],
        7: ["VACCINATION_DATE_INVALID"],
        8: ["FACILITY_UNKNOWN"],
        9: ["FACILITY_NOT_ALLOWED"],
        10: ["DUPLICATE_SOURCE_ID_CONFLICT"],
        12: ["DOSE_SIGNED_OFF"],
        13: ["VACCINATION_DATE_INVALID"],
    }
    assert Counter(c for cs in codes.values() for c in cs)["VACCINATION_DATE_INVALID"] == 2
    for r in rejected.values():
        [reason] = r.reasons
        assert reason["column"] and reason["message_vi"] and reason["message_en"]
        assert reason["message_vi"] != reason["message_en"]
    assert (
        rejected[7].reasons[0]["column"] == "Ngày tiêm"
        and "31/02/2021" in rejected[7].reasons[0]["message_en"]
    )
    assert rejected[13].raw["Ngày tiêm"] == "2021"

    kept = Dose.objects.get(source_record_id="R-2")
    assert kept.dose_number is None and kept.unparsed == {"dose_number": "Mũi 7"}
    person = Person.objects.get(pk=kept.person_id)
    assert (person.birth_year, person.birth_date_raw, person.id_type, person.id_number, person.phone) == (
        None, "31/02/1980", "INVALID", "12345", "0000",
    )  # fmt: skip
    assert person.unparsed == {"gender": "abc"}
    assert Dose.objects.get(source_record_id="R-9").lot_number == "L9"

    html = client.get(reverse("web:import_detail", args=[batch.pk])).content.decode()
    assert "Số dòng đã đọc 11 = đã lưu 2 + bị loại 9." in html


def test_a_column_with_a_rule_reads_its_cells_by_the_field_specification() -> None:
    dose_number = COLUMNS_BY_FIELD[Field.DOSE_NUMBER]
    assert (dose_number.type, dose_number.rule) == (ColumnType.INTEGER, dose_number_cell)
    assert dose_number.reader("Mũi 2") == 2 and dose_number.reader("") is None
    with pytest.raises(CellInvalid) as refused:
        dose_number.reader("5")  # an integer, but no dose number
    assert refused.value.code == "DOSE_NUMBER_INVALID" and "1" in refused.value.message_en
    assert Column("n", "Số", "Number", type=ColumnType.INTEGER).reader("12") == 12
