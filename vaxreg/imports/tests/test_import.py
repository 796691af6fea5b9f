import csv
import datetime as dt
import io
import unicodedata
import zipfile

import pytest
from django.db import IntegrityError, connection, transaction
from openpyxl import Workbook

from vaxreg.accounts.models import Role
from vaxreg.accounts.services import user_create
from vaxreg.core.bulk import BulkWriter
from vaxreg.core.database import has_distributed_tables, is_citus
from vaxreg.core.models import ChangeRecord
from vaxreg.imports import pipeline, readers
from vaxreg.imports.models import ImportBatch, RejectedRow
from vaxreg.imports.services import ImportRefused, import_batch_create, import_batch_run, rejected_rows_report
from vaxreg.imports.tests.conftest import HEADERS, row, run_import, write_csv
from vaxreg.people.models import Person
from vaxreg.vaccinations.models import Dose


@pytest.mark.parametrize(
    ("chunk_rows", "fresh_keys"),
    [(2, 1_000), (2, 1), (2, 0), (5_000, 1_000)],
    ids=["chunks-of-2", "key-memory-full-after-1", "no-key-memory", "one-chunk"],
)
def test_a_source_id_seen_in_an_earlier_chunk_is_recognised(
    places, tmp_path, monkeypatch, chunk_rows, fresh_keys
):
    """A facility's first import keeps the keys it wrote instead of looking each row up: a row repeated
    chunks later is still the same dose, and the same id with other values is still refused."""
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(pipeline, "FRESH_KEYS_MAX", fresh_keys)
    rows = [
        row(source_record_id="R1", id_number="046190000001", full_name="Lê Thị An"),
        row(source_record_id="R2", id_number="046190000002", full_name="Lê Văn Bình"),
        row(source_record_id="R3", id_number="046190000003", full_name="Trần Thị Cúc"),
        row(source_record_id="R1", id_number="046190000001", full_name="Lê Thị An"),  # the same dose again
        row(source_record_id="R2", id_number="046190000002", full_name="Lê Văn Bình", lot_number="OTHER"),
        row(source_record_id="R4", id_number="046190000004", full_name="Phạm Văn Dũng"),
    ]
    batch = run_import(write_csv(tmp_path / "repeats.csv", rows))

    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (6, 5, 1)
    assert sorted(Dose.objects.values_list("source_record_id", flat=True)) == ["R1", "R2", "R3", "R4"]
    assert Dose.objects.get(source_record_id="R2").lot_number == "A1001"
    assert RejectedRow.objects.get(batch=batch).row_number == 6  # the header is row 1
    assert run_import(write_csv(tmp_path / "again.csv", rows)).rows_rejected == 1  # the facility is known now


@pytest.mark.parametrize("chunk_rows", [1, 2, 5_000], ids=["chunks-of-1", "chunks-of-2", "one-chunk"])
def test_a_person_is_found_again_whatever_chunk_their_doses_fall_in(
    places, tmp_path, monkeypatch, chunk_rows
):
    """A chunk is matched while the one before it is still being written: persons that chunk created are
    found all the same, by ID and, without an ID, by name, birth date, gender and commune."""
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", chunk_rows)
    with_id = {"id_number": "046187000555", "full_name": "Võ Văn Hùng", "gender": "Nam"}
    without_id = {"id_number": "", "full_name": "Đặng Thị Mai", "date_of_birth": "02/02/1960"}
    rows = [
        row(source_record_id="A1", dose_number="1", **with_id),
        row(source_record_id="B1", dose_number="1", **without_id),
        row(source_record_id="A2", dose_number="2", vaccination_date="01/10/2021", **with_id),
        row(source_record_id="B2", dose_number="2", vaccination_date="01/10/2021", **without_id),
        row(
            source_record_id="X1", id_number="", full_name="Đặng Thị Mai", date_of_birth="1960"
        ),  # another person
        row(source_record_id="A3", dose_number="3", vaccination_date="01/03/2022", **with_id),
        row(source_record_id="B3", dose_number="3", vaccination_date="01/03/2022", **without_id),
    ]
    batch = run_import(write_csv(tmp_path / "spread.csv", rows))

    assert (batch.rows_stored, batch.persons_created, batch.doses_created) == (7, 3, 7)
    doses_of = {
        p.full_name + str(p.birth_day): sorted(p.doses.values_list("source_record_id", flat=True))
        for p in Person.objects.all()
    }
    assert doses_of == {
        "Võ Văn Hùng15": ["A1", "A2", "A3"],
        "Đặng Thị Mai2": ["B1", "B2", "B3"],
        "Đặng Thị MaiNone": ["X1"],
    }


@pytest.mark.parametrize(
    "chunk_rows", [1, 2, 3, 5_000], ids=["chunks-of-1", "chunks-of-2", "chunks-of-3", "one-chunk"]
)
def test_a_row_without_an_id_joins_the_person_with_an_id_it_describes_whatever_chunk_it_falls_in(
    places, tmp_path, monkeypatch, chunk_rows
):
    """Same folded name, birth date, gender and commune: the same person, whether that person has an ID or
    not, found in the same chunk, the one before or the table, as a later file finds them."""
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", chunk_rows)
    described = {"full_name": "Nguyễn Văn Hải", "date_of_birth": "14/09/1985", "gender": "Nam"}
    rows = [
        row(source_record_id="A1", id_number="046085568815", **described),
        row(source_record_id="X1", id_number="046085500001", full_name="Lê Thị Thu"),
        row(source_record_id="X2", id_number="046085500002", full_name="Lê Thị Hạ"),
        row(
            source_record_id="A2", id_number="", commune_code="19774", **described
        ),  # the old code of the same commune
        row(source_record_id="A3", id_number="046085599999", **described),  # another ID: another person
        row(source_record_id="A4", id_number="", **described),
    ]
    batch = run_import(write_csv(tmp_path / "mixed.csv", rows))
    later = run_import(
        write_csv(tmp_path / "later.csv", [row(source_record_id="A5", id_number="", **described)])
    )

    person_of = {d.source_record_id: d.person_id for d in Dose.objects.all()}
    assert person_of["A1"] == person_of["A2"] == person_of["A4"] == person_of["A5"] != person_of["A3"]
    assert (batch.persons_created, later.persons_created) == (4, 0)


def test_doses_of_one_person_become_one_person_with_every_dose(places, tmp_path):
    path = write_csv(
        tmp_path / "f.csv",
        [
            row(source_record_id="R1", vaccination_date="01/08/2021", dose_number="1"),
            row(source_record_id="R2", vaccination_date="2021-10-01", dose_number="2", vaccine="Pfizer"),
            row(
                full_name="Trần Văn Bình",
                id_number="046090000777",
                gender="Nam",
                date_of_birth="1990",
                source_record_id="R3",
            ),
        ],
    )
    batch = run_import(path)
    assert (batch.status, batch.rows_read, batch.rows_stored, batch.rows_rejected) == ("done", 3, 3, 0)
    assert batch.persons_created == 2
    hoa = Person.objects.get(id_number="046187000123")
    assert hoa.full_name == "Nguyễn Thị Hoa" and hoa.name_key == "nguyen thi hoa"
    assert (hoa.birth_year, hoa.birth_month, hoa.birth_day, hoa.gender) == (1987, 3, 15, "F")
    assert hoa.commune_id == "19753" and hoa.province_id == "46" and hoa.phone == "0912345678"
    doses = list(hoa.doses.order_by("vaccination_date"))
    assert [(d.dose_number, d.vaccine_id, d.vaccination_date) for d in doses] == [
        (1, "AZ", dt.date(2021, 8, 1)),
        (2, "COMIRNATY", dt.date(2021, 10, 1)),
    ]
    binh = Person.objects.get(id_number="046090000777")
    assert (binh.birth_year, binh.birth_month, binh.birth_day) == (1990, None, None)


def test_reimporting_the_same_file_changes_nothing(places, tmp_path):
    path = write_csv(
        tmp_path / "f.csv", [row(source_record_id=f"R{i}", id_number=f"0461870{i:05d}") for i in range(20)]
    )
    first = run_import(path)
    snapshot = list(Dose.objects.order_by("id").values())
    second = run_import(path)
    assert (second.rows_read, second.doses_unchanged, second.doses_created, second.persons_created) == (
        20,
        20,
        0,
        0,
    )
    assert list(Dose.objects.order_by("id").values()) == snapshot
    assert Person.objects.count() == first.persons_created == 20
    assert ChangeRecord.objects.count() == 0


def test_a_changed_row_updates_its_records_with_history(places, tmp_path):
    run_import(write_csv(tmp_path / "a.csv", [row(gender="Nam", lot_number="A1")]))
    batch = run_import(write_csv(tmp_path / "b.csv", [row(gender="Nữ", lot_number="A2")]))
    assert (batch.doses_updated, batch.persons_updated, batch.doses_created) == (1, 1, 0)
    person = Person.objects.get()
    assert person.gender == "F"
    # The first file's "Nam" contradicts the CCCD: a verification case opened, which the second file's
    # fix closed again; those steps are the case's history, the rest the import's.
    record_changes = ChangeRecord.objects.exclude(source_type="case")
    changes = {(c.entity, c.field): (c.old_value, c.new_value) for c in record_changes}
    assert changes[("person", "gender")] == ("M", "F")
    assert changes[("dose", "lot_number")] == ("A1", "A2")
    assert {c.source_type for c in record_changes} == {"import"}
    assert {c.source_id for c in record_changes} == {str(batch.pk)}
    case_steps = ChangeRecord.objects.filter(source_type="case").values_list("field", "new_value")
    assert list(case_steps) == [("verification_case.state", "open"), ("verification_case.state", "resolved")]


def test_a_row_written_differently_but_saying_the_same_changes_nothing(places, tmp_path):
    run_import(
        write_csv(
            tmp_path / "a.csv", [row(source_record_id="R1"), row(source_record_id="R2", lot_number="A1")]
        )
    )
    Dose.objects.filter(source_record_id="R2").update(signed_off=True)
    stored = {d["source_record_id"]: d for d in Dose.objects.values()}
    person = Person.objects.values().get()
    # Other spaces, another way to write the same dates, the gender in lower case.
    again = [
        row(source_record_id="R1", full_name="  Nguyễn  Thị Hoa ", date_of_birth="1987-03-15", gender="nữ"),
        row(source_record_id="R2", lot_number="A1", vaccination_date="2021-08-01"),
    ]
    batch = run_import(write_csv(tmp_path / "b.csv", again))
    assert (batch.rows_stored, batch.doses_unchanged, batch.doses_updated, batch.persons_updated) == (
        2,
        2,
        0,
        0,
    )
    assert batch.rows_rejected == 0  # the signed-off dose is not changed, so not refused either
    assert Person.objects.values().get() == person
    after = {d["source_record_id"]: d for d in Dose.objects.values()}
    for source_id, dose in after.items():
        assert dose["version"] == 1
        assert dose["source_hash"] != stored[source_id]["source_hash"]  # the new text is known next time
        assert {k: v for k, v in dose.items() if k != "source_hash"} == {
            k: v for k, v in stored[source_id].items() if k != "source_hash"
        }
    assert not ChangeRecord.objects.filter(source_type="import").exists()
    assert run_import(write_csv(tmp_path / "c.csv", again)).doses_unchanged == 2


def test_a_fingerprint_of_an_earlier_importer_is_replaced_without_undoing_a_correction(places, tmp_path):
    path = write_csv(
        tmp_path / "a.csv", [row(source_record_id="R1"), row(source_record_id="R2", lot_number="A1")]
    )
    run_import(path)
    # What an earlier version of the importer left: a shorter fingerprint, and a name corrected since.
    Dose.objects.update(source_hash="0" * 24)
    Person.objects.update(full_name="Nguyễn Thị Hòa", name_key="nguyen thi hoa")
    batch = run_import(
        write_csv(
            tmp_path / "b.csv", [row(source_record_id="R1"), row(source_record_id="R2", lot_number="B2")]
        )
    )
    assert (batch.doses_unchanged, batch.doses_updated, batch.persons_updated) == (1, 1, 0)
    assert Person.objects.get().full_name == "Nguyễn Thị Hòa"
    assert (
        Dose.objects.get(source_record_id="R2").lot_number == "B2"
    )  # a dose the file changed is still changed
    assert {len(h) for h in Dose.objects.values_list("source_hash", flat=True)} == {32}
    assert run_import(path).doses_unchanged == 1  # R1 known at once; R2 changed back


def test_rows_missing_citizen_fields_are_stored_and_unusable_rows_kept_with_reasons(places, tmp_path):
    path = write_csv(
        tmp_path / "f.csv",
        [
            row(full_name="", date_of_birth="", gender="", id_number="", source_record_id="NOCITIZEN"),
            row(source_record_id="", vaccination_date="01/08/2021"),
            row(source_record_id="NODATE", vaccination_date=""),
            row(source_record_id="BADDATE", vaccination_date="31/02/2021"),
            row(source_record_id="UNKNOWNFAC", facility_code="NOPE"),
        ],
    )
    batch = run_import(path)
    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (5, 1, 4)
    stored = Dose.objects.get()
    assert stored.source_record_id == "NOCITIZEN" and stored.person.full_name == ""
    rejected = {r.row_number: r for r in RejectedRow.objects.filter(batch=batch)}
    assert sorted(rejected) == [3, 4, 5, 6]
    assert rejected[3].reasons[0]["code"] == "SOURCE_ID_MISSING"
    assert rejected[4].reasons[0]["code"] == "VACCINATION_DATE_MISSING"
    assert rejected[5].reasons[0]["code"] == "VACCINATION_DATE_INVALID"
    assert rejected[5].raw["Ngày tiêm"] == "31/02/2021"
    assert (
        rejected[6].reasons[0]["code"] == "FACILITY_UNKNOWN"
        and "NOPE" in rejected[6].reasons[0]["message_en"]
    )
    content, content_type, name = rejected_rows_report(batch=batch, actor=None, fmt="csv")
    text = content.decode("utf-8-sig")
    assert "31/02/2021" in text and "VACCINATION_DATE_INVALID" in text and name.endswith(".csv")
    xlsx, _, _ = rejected_rows_report(batch=batch, actor=None, fmt="xlsx")
    assert xlsx[:2] == b"PK"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1258"])
def test_a_line_the_csv_reader_cannot_read_is_reported_and_the_rows_after_it_are_read(
    places, tmp_path, encoding
):
    too_long = "x" * (readers.MAX_FIELD_CHARS + 1)  # longer than any field the reader accepts
    rows = [
        row(source_record_id="R1"),
        row(source_record_id="R2", address=too_long),
        row(source_record_id="R3"),
    ]
    path = write_csv(tmp_path / "f.csv", rows, encoding="utf-8")
    if encoding == "cp1258":  # tones as combining marks, composed again as the lines are read
        path.write_bytes(_encode_cp1258(path.read_text(encoding="utf-8")))
    batch = run_import(path)
    assert batch.encoding == encoding
    assert (batch.rows_read, batch.rows_stored, batch.rows_rejected) == (3, 2, 1)
    assert set(Dose.objects.values_list("source_record_id", flat=True)) == {"R1", "R3"}
    rejected = RejectedRow.objects.get(batch=batch)
    assert (rejected.row_number, rejected.reasons[0]["code"]) == (3, "LINE_UNREADABLE")
    assert Dose.objects.get(source_record_id="R3").source_row == 4


def test_a_file_without_a_structural_column_is_refused_whole(places, tmp_path):
    headers = [h for h in HEADERS if h != "Ngày tiêm"]
    rows = [[v for h, v in zip(HEADERS, row(), strict=True) if h != "Ngày tiêm"]]
    batch = run_import(write_csv(tmp_path / "f.csv", rows, headers=headers))
    assert batch.status == "refused"
    assert "Ngày tiêm" in batch.message and "Họ và tên" in batch.message
    assert Dose.objects.count() == 0


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"), ("cp1258", ","), ("cp1252", ";")],
)
def test_encodings_and_separators(places, tmp_path, encoding, delimiter):
    name = "Tran Van Binh" if encoding == "cp1252" else "Nguyễn Thị Hoa"
    data = [row(full_name=name)]
    headers = None
    if encoding == "cp1252":  # a Western system: English headers, Latin-1 accents
        headers = ["full_name", "date_of_birth", "gender", "id_number", "phone", "address", "commune_code",
                   "facility_code", "source_record_id", "vaccination_date", "dose_number", "vaccine", "lot_number"]  # fmt: skip
        data = [row(full_name=name, gender="male", address="Résidence Hôtel Café")]
    if encoding == "cp1258":
        text = io.StringIO()
        csv.writer(text, delimiter=delimiter).writerows([HEADERS, data[0]])
        path = tmp_path / "f.csv"
        path.write_bytes(_encode_cp1258(text.getvalue()))
    else:
        path = write_csv(tmp_path / "f.csv", data, encoding=encoding, delimiter=delimiter, headers=headers)
    batch = run_import(path)
    assert (batch.rows_stored, batch.rows_rejected) == (1, 0), batch.message
    person = Person.objects.get()
    assert person.full_name == name
    if encoding == "cp1252":
        assert person.address == "Résidence Hôtel Café" and person.gender == "M"


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def _encode_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: base letters precomposed, tone marks combining."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
            out += (base + "".join(c for c in parts if c in TONE_MARKS)).encode("cp1258")
    return bytes(out)


def test_xlsx_with_date_cells_serials_and_numeric_ids(places, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["DANH SÁCH TIÊM CHỦNG COVID-19"])  # a title row above the header
    sheet.append(HEADERS)
    sheet.append(
        row(
            date_of_birth=dt.datetime(1987, 3, 15),
            id_number=1090012345,
            vaccination_date=dt.datetime(2021, 8, 1),
        )
    )
    sheet.append(row(source_record_id="R2", full_name="Lê Văn Cường", gender="Nam", date_of_birth=1990,
                     id_number="001090000042", vaccination_date=44470, dose_number=2))  # fmt: skip
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    batch = run_import(path)
    assert (batch.rows_stored, batch.rows_rejected, batch.header_row) == (2, 0, 2), batch.message
    repaired = Person.objects.get(full_name="Nguyễn Thị Hoa")
    assert repaired.id_number == "001090012345" and repaired.id_repaired
    assert (repaired.birth_year, repaired.birth_month, repaired.birth_day) == (1987, 3, 15)
    assert batch.ids_repaired == 1
    second = Dose.objects.get(source_record_id="R2")
    assert second.vaccination_date == dt.date(2021, 10, 1)  # Excel serial 44470
    assert second.person.birth_year == 1990 and second.person.birth_month is None


def test_a_facility_user_imports_only_its_own_rows(places, tmp_path):
    user = user_create(username="f1", password="x" * 12, role=Role.FACILITY, facility_code="TYT19753")
    path = write_csv(
        tmp_path / "f.csv",
        [row(source_record_id="OWN"), row(source_record_id="OTHER", facility_code="BV4601")],
    )
    batch = run_import(path, uploaded_by=user)
    assert (batch.rows_stored, batch.rows_rejected) == (1, 1)
    assert RejectedRow.objects.get(batch=batch).reasons[0]["code"] == "FACILITY_NOT_ALLOWED"
    with pytest.raises(ImportRefused):
        import_batch_create(file_name="f.csv", path=path, uploaded_by=user, facility_code="BV4601")


def test_matching_rules(places, tmp_path):
    rows = [
        row(source_record_id="A1"),
        # same ID, another name: another person (the shared ID is a finding, not a merge)
        row(source_record_id="A2", full_name="Phạm Văn Tú", gender="Nam"),
        # no ID: same folded name, birth date, gender and commune → same person
        row(source_record_id="B1", id_number="", full_name="Hồ Thị Lan"),
        row(
            source_record_id="B2",
            id_number="",
            full_name="HO THI LAN".title().replace("Ho", "Hồ").replace("Lan", "Lan"),
        ),
        # no ID, another commune → another person
        row(source_record_id="B3", id_number="", full_name="Hồ Thị Lan", commune_code="00004"),
        # no ID and no name: never merged
        row(source_record_id="C1", id_number="", full_name=""),
        row(source_record_id="C2", id_number="", full_name=""),
    ]
    batch = run_import(write_csv(tmp_path / "f.csv", rows))
    assert batch.rows_stored == 7
    person_of = {d.source_record_id: d.person_id for d in Dose.objects.all()}
    assert person_of["A1"] != person_of["A2"]
    assert person_of["B1"] == person_of["B2"] != person_of["B3"]
    assert person_of["C1"] != person_of["C2"]
    # Later files find the same persons again.
    batch = run_import(
        write_csv(
            tmp_path / "g.csv",
            [row(source_record_id="A9"), row(source_record_id="B9", id_number="", full_name="Hồ Thị Lan")],
        )
    )
    person_of = {d.source_record_id: d.person_id for d in Dose.objects.all()}
    assert person_of["A9"] == person_of["A1"] and person_of["B9"] == person_of["B1"]
    assert batch.persons_created == 0


def test_hostile_files_never_crash_and_never_lose_a_good_row(places, tmp_path):
    zipped = tmp_path / "really-a-zip.csv"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("x.txt", "hello")
    assert run_import(zipped).status == "refused"

    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 4000)
    assert run_import(junk).status == "refused"

    rows = [
        row(source_record_id="GOOD1"),
        ["", "", "", "", "", "", "", "", "", "", "", "", ""],  # blank line
        row(source_record_id="GOOD1"),  # exact duplicate: the same dose
        row(source_record_id="GOOD1", lot_number="CHANGED"),  # same id, other values: the first is kept
        row(source_record_id="FORMULA", full_name='=HYPERLINK("http://x")', dose_number="=1+1"),
        row(source_record_id="EXTRA") + ["extra", "cells", "beyond", "the", "header"],
        row(source_record_id="SHORT")[:10],
        row(source_record_id="LONGNAME", full_name="x" * 10_000),
        row(source_record_id="BROKENDOB", date_of_birth="32/13/1990"),
    ]
    batch = run_import(write_csv(tmp_path / "hostile.csv", rows))
    assert batch.status == "done"
    assert batch.rows_read == batch.rows_stored + batch.rows_rejected == 8
    assert batch.rows_blank == 1
    assert batch.rows_rejected == 1
    assert RejectedRow.objects.get(batch=batch).reasons[0]["code"] == "DUPLICATE_SOURCE_ID_CONFLICT"
    assert Dose.objects.get(source_record_id="GOOD1").lot_number == "A1001"
    formula = Dose.objects.get(source_record_id="FORMULA")
    assert formula.person.full_name.startswith("=HYPERLINK") and formula.dose_number is None
    assert formula.unparsed == {"dose_number": "=1+1"}
    long_name = Dose.objects.get(source_record_id="LONGNAME").person
    assert len(long_name.full_name) == 200 and len(long_name.unparsed["full_name"]) == 10_000
    broken = Dose.objects.get(source_record_id="BROKENDOB").person
    assert broken.birth_year is None and broken.birth_date_raw == "32/13/1990"
    assert Dose.objects.filter(source_record_id__in=["EXTRA", "SHORT"]).count() == 2


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "utf-16"])
def test_a_nul_character_is_stored_as_a_replacement_mark(places, tmp_path, encoding):
    rows = [
        row(source_record_id="NUL1", full_name="Tran\x00 Van Binh", lot_number="A\x001"),
        row(source_record_id="OK2"),
    ]
    batch = run_import(write_csv(tmp_path / "nul.csv", rows, encoding=encoding))
    assert (batch.status, batch.rows_stored, batch.rows_rejected) == ("done", 2, 0), batch.message
    dose = Dose.objects.get(source_record_id="NUL1")
    assert (dose.person.full_name, dose.lot_number) == ("Tran\ufffd Van Binh", "A\ufffd1")


def test_a_crash_mid_file_leaves_nothing_and_a_rerun_gives_one_clean_import(places, tmp_path, monkeypatch):
    path = write_csv(
        tmp_path / "f.csv", [row(source_record_id=f"R{i}", id_number=f"0461870{i:05d}") for i in range(30)]
    )
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", 10)
    calls = {"n": 0}

    def crash_after_first_chunk(counts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")

    batch = import_batch_create(file_name=path.name, path=path)
    with pytest.raises(KeyboardInterrupt):
        import_batch_run(batch_id=batch.pk, progress=crash_after_first_chunk)
    assert Dose.objects.count() == 0 and Person.objects.count() == 0
    assert ImportBatch.objects.get(pk=batch.pk).status == "failed"

    rerun = run_import(path)
    assert (rerun.rows_stored, rerun.doses_created, rerun.persons_created) == (30, 30, 30)
    assert Dose.objects.count() == 30 and Person.objects.count() == 30


def test_a_failed_write_stops_the_import_and_leaves_nothing(places, tmp_path, monkeypatch):
    """The rows of a chunk are written while the next is matched (on PostgreSQL, by another thread): a write
    that fails there still fails the whole import, and nothing of it stays."""
    path = write_csv(
        tmp_path / "f.csv", [row(source_record_id=f"R{i}", id_number=f"0461870{i:05d}") for i in range(30)]
    )
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", 10)
    real_insert = BulkWriter.insert
    calls = {"n": 0}

    def insert_until_the_disk_is_full(self, table, columns, rows, json_columns=()):
        calls["n"] += 1
        if calls["n"] == 4:  # the second chunk's persons
            raise OSError("No space left on device")
        return real_insert(self, table, columns, rows, json_columns)

    monkeypatch.setattr(BulkWriter, "insert", insert_until_the_disk_is_full)
    batch = import_batch_create(file_name=path.name, path=path)
    with pytest.raises(OSError, match="No space left"):
        import_batch_run(batch_id=batch.pk)
    assert Dose.objects.count() == 0 and Person.objects.count() == 0
    failed = ImportBatch.objects.get(pk=batch.pk)
    assert failed.status == "failed" and "No space left on device" in failed.message

    monkeypatch.setattr(BulkWriter, "insert", real_insert)
    rerun = run_import(path)
    assert (rerun.rows_stored, rerun.persons_created) == (30, 30) and Dose.objects.count() == 30


def test_a_province_user_imports_only_rows_of_its_province(places, tmp_path):
    user = user_create(username="p46", password="x" * 12, role=Role.PROVINCE, province_code="46")
    path = write_csv(
        tmp_path / "f.csv",
        [row(source_record_id="HUE"), row(source_record_id="HN", facility_code="TYT00004")],
    )
    batch = run_import(path, uploaded_by=user)
    assert (batch.rows_stored, batch.rows_rejected) == (1, 1)
    assert RejectedRow.objects.get(batch=batch).reasons[0]["code"] == "FACILITY_OUTSIDE_PROVINCE"
    with pytest.raises(ImportRefused):
        import_batch_create(file_name="f.csv", path=path, uploaded_by=user, facility_code="TYT00004")


def test_a_workbook_with_date_cells_and_text_dates_gives_one_person(places, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    sheet.append(
        row(
            date_of_birth=dt.datetime(1987, 3, 15),
            id_number=1090012345,
            vaccination_date=dt.datetime(2021, 8, 1),
        )
    )
    sheet.append(row(source_record_id="R2", date_of_birth="15/03/1987", id_number="001090012345",
                     vaccination_date="02/09/2021", dose_number=2))  # fmt: skip
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    batch = run_import(path)
    assert (batch.rows_stored, batch.rows_rejected, batch.persons_created) == (2, 0, 1), batch.message
    person = Person.objects.get()
    assert person.id_number == "001090012345" and (
        person.birth_year,
        person.birth_month,
        person.birth_day,
    ) == (1987, 3, 15)


@pytest.mark.parametrize("key_checks", ["importer", "database"])
def test_both_ways_of_checking_foreign_keys_store_the_same_records(places, tmp_path, settings, key_checks):
    settings.VAXREG_IMPORT_KEY_CHECKS = key_checks
    rows = [row(source_record_id=f"R{i}", dose_number=str(i)) for i in (1, 2)]
    rows.append(
        row(
            full_name="Lê Văn Tám",
            id_number="",
            source_record_id="R3",
            facility_code="BV4601",
            vaccine="Pfizer",
        )
    )
    first = run_import(write_csv(tmp_path / "a.csv", rows))
    rows[0] = row(source_record_id="R1", dose_number="1", commune_code="", lot_number="B7")
    second = run_import(write_csv(tmp_path / "b.csv", rows))
    assert (first.rows_stored, first.persons_created, second.doses_updated) == (3, 2, 1)
    assert sorted(
        Dose.objects.values_list("source_record_id", "facility__code", "vaccine_id", "person__full_name")
    ) == [
        ("R1", "TYT19753", "AZ", "Nguyễn Thị Hoa"),
        ("R2", "TYT19753", "AZ", "Nguyễn Thị Hoa"),
        ("R3", "BV4601", "COMIRNATY", "Lê Văn Tám"),
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the per-row checks are back on for whatever follows
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the importer checks parent rows itself only on PostgreSQL; SQLite keeps its own per-row checks",
)
def test_the_importer_refuses_a_row_whose_parent_does_not_exist(places):
    keys = pipeline.ParentKeys()
    keys.switch_triggers_off()
    assert keys.active
    keys.require("places_facility", [places["facilities"]["TYT19753"].pk])
    with pytest.raises(IntegrityError, match="places_commune"):
        keys.require("places_commune", ["19753", "99999"])
    keys.switch_triggers_on()


@pytest.mark.django_db(transaction=True)
def test_a_running_import_shows_its_progress_at_most_once_a_second(tmp_path, settings, monkeypatch):
    from vaxreg.imports import services
    from vaxreg.imports.selectors import import_batch_progress

    settings.MEDIA_ROOT = str(tmp_path)
    batch = ImportBatch.objects.create(
        file_name="f.csv", status=ImportBatch.Status.RUNNING, created_at=dt.datetime.now(dt.UTC)
    )

    def shown() -> int:
        batch.refresh_from_db()
        return import_batch_progress(batch)

    reporter = services._Progress(batch.pk)
    try:
        reporter(pipeline.ImportCounts(rows_read=5))
        assert shown() == 5
        reporter(pipeline.ImportCounts(rows_read=9))  # within the second: not written
        assert shown() == 5
        monkeypatch.setattr(services, "PROGRESS_EVERY_SECONDS", 0.0)
        reporter(pipeline.ImportCounts(rows_read=12))
        assert shown() == 12
    finally:
        reporter.close()


@pytest.mark.django_db(transaction=True)
def test_the_progress_is_written_while_the_import_holds_its_batch_row(tmp_path, settings):
    """The count goes through a connection of its own while the import's transaction holds locks (on the
    batch row here; on Citus, on every table referring to a reference table it wrote): it must never wait
    for them, or the import would wait for its own progress bar."""
    import threading

    from vaxreg.imports import services
    from vaxreg.imports.selectors import import_batch_progress

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes the count to a file beside the uploads")
    settings.MEDIA_ROOT = str(tmp_path)
    batch = ImportBatch.objects.create(
        file_name="f.csv", status=ImportBatch.Status.RUNNING, created_at=dt.datetime.now(dt.UTC)
    )
    written, checked = threading.Event(), threading.Event()

    def import_reports() -> None:  # as the import's process would, its writer's connection its own
        reporter = services._Progress(batch.pk)
        try:
            reporter(pipeline.ImportCounts(rows_read=7))
            written.set()
            checked.wait(30)
        finally:
            reporter.close()
            connection.close()

    writer = threading.Thread(target=import_reports)
    try:
        with transaction.atomic():
            ImportBatch.objects.select_for_update().get(pk=batch.pk)
            writer.start()
            assert written.wait(10), "the progress writer waited for the import's lock"
            assert import_batch_progress(batch) == 7
    finally:
        checked.set()
        writer.join()
    assert import_batch_progress(batch) == 0  # the import ended: its count is gone with it


def test_an_import_too_large_to_recheck_at_once_queues_a_scan_of_the_provinces_of_its_persons(
    places, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from types import SimpleNamespace

    from vaxreg.quality import tasks

    queued: list[list[str]] = []
    monkeypatch.setattr(tasks, "quality_scan_task", SimpleNamespace(enqueue=queued.append))
    settings.VAXREG_IMPORT_RECHECK_INLINE_MAX = 0
    first = [
        row(source_record_id="HUE1"),  # lives in Thuận Hóa: Huế
        row(source_record_id="HN1", facility_code="TYT00004", id_number="001187000456", commune_code="00004"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        run_import(write_csv(tmp_path / "first.csv", first))
    assert queued == [["01", "46"]]

    # A later file about the Huế resident only, given a dose in Hà Nội: the stored person's province is Huế.
    later = [
        row(source_record_id="HN2", facility_code="TYT00004", vaccination_date="01/09/2021", dose_number="2")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        run_import(write_csv(tmp_path / "later.csv", later))
    assert queued[1:] == [["46"]]


def _planner_row_counts(*tables: str) -> dict[str, int | None]:
    """The row count the query planner's statistics hold for each table (None: no statistics)."""
    counts: dict[str, int | None] = {}
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
                value = cursor.fetchone()[0]
                counts[table] = None if value is None or value < 0 else int(value)
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
                stat = None
                if cursor.fetchone():
                    cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s LIMIT 1", [table])
                    stat = cursor.fetchone()
                counts[table] = int(stat[0].split()[0]) if stat else None
    return counts


def test_an_import_too_large_to_recheck_at_once_leaves_the_planner_statistics_of_what_it_filled(
    places, tmp_path, settings, django_capture_on_commit_callbacks
):
    """The scan queued behind a province's first load reads persons and doses by their indexes only when
    the planner knows how many rows there are; autovacuum would learn it up to a minute later."""
    if is_citus(connection) and has_distributed_tables(connection):
        pytest.skip("a distributed table's statistics live on its shards, not on the coordinator's table")

    def persons(prefix: str, first: int) -> list[list[str]]:
        return [
            row(
                source_record_id=f"{prefix}{i}",
                id_number=f"0461870{i:05d}",
                full_name=f"Nguyễn Thị Hoa {chr(65 + i)}",
            )
            for i in range(first, first + 5)
        ]

    settings.VAXREG_IMPORT_RECHECK_INLINE_MAX = 100  # the first file is re-checked inline
    with django_capture_on_commit_callbacks(execute=True):
        run_import(write_csv(tmp_path / "first.csv", persons("A", 0)))
    settings.VAXREG_IMPORT_RECHECK_INLINE_MAX = 2  # the second is too large
    with django_capture_on_commit_callbacks(execute=True):
        batch = run_import(write_csv(tmp_path / "second.csv", persons("B", 5)))
    assert batch.rows_stored == 5 and batch.persons_created == 5
    assert _planner_row_counts("people_person", "vaccinations_dose") == {
        "people_person": 10,
        "vaccinations_dose": 10,
    }


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the writer runs on its own thread on PostgreSQL only"
)
def test_an_import_leaves_the_priority_of_the_process_that_ran_it_as_it_was(places, tmp_path):
    """Only the import's writer thread yields to the reading process; the worker that ran the import does not
    stay slowed down."""
    import os

    before = os.getpriority(os.PRIO_PROCESS, 0)
    batch = run_import(write_csv(tmp_path / "one.csv", [row()]))
    assert batch.rows_stored == 1 and os.getpriority(os.PRIO_PROCESS, 0) == before
