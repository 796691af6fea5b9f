"""Records merged into another one (linkage): searches leave them out, a read answers as FHIR R4B says for a
merged resource (inactive, ``link`` replaced-by its survivor), and the survivor names what it replaces; the
facility's scope follows the doses, which the merge moved to the survivor."""

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from vaxreg.core.models import AuditEvent
from vaxreg.linkage.merging import person_merge, person_unmerge
from vaxreg.linkage.models import PersonMerge
from vaxreg.people.models import Person
from vaxreg.testing.world import World, dose_make, person_make

pytestmark = pytest.mark.django_db

BINH_CCCD = "001090054321"


def _twin_of_binh(w: World) -> Person:
    """Bình (vaccinated at HN002) recorded a second time by HN001, with the same CCCD and another phone."""
    twin = person_make(
        full_name="Tran Van Binh", commune=w.communes["00070"], id_number=BINH_CCCD, phone="0987000111"
    )
    dose_make(
        person=twin, facility=w.facilities["HN001"], source_record_id="twin-binh-1",
        date=dt.date(2021, 12, 1), number=2, vaccine=w.vaccine,
    )  # fmt: skip
    return twin


def _merge(w: World, survivor: Person, merged: Person) -> PersonMerge:
    return person_merge(
        survivor=Person.objects.get(pk=survivor.pk), merged=Person.objects.get(pk=merged.pk),
        field_choices={}, actor=w.users["national"], reason="Cùng một người",
    ).merge  # fmt: skip


def _read(fhir, path, facility, **params):
    response = fhir("GET", path, facility=facility, params=params or None)
    return response.status_code, response.json()


def _full_id_reads_of(person: Person) -> int:
    return AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ, object_id=str(person.pk)).count()


def test_a_merged_patient_reads_as_replaced_by_its_survivor_where_the_survivor_is_read(world, fhir):
    binh, twin = world.persons["binh_hn"], _twin_of_binh(world)
    merge = _merge(world, binh, twin)

    # HN001 gave the twin its dose; the dose moved to Bình, and with it HN001's view of the citizen.
    status, patient = _read(fhir, f"/fhir/Patient/{twin.pk}", "HN001")
    assert status == 200
    Patient.model_validate(patient)
    assert patient["id"] == str(twin.pk) and patient["active"] is False
    assert patient["link"] == [{"other": {"reference": f"Patient/{binh.pk}"}, "type": "replaced-by"}]
    # Nothing of the old record but where it went: its citizen is read through the survivor.
    assert "identifier" not in patient and "telecom" not in patient and "name" not in patient
    assert _full_id_reads_of(twin) == 0

    status, survivor = _read(fhir, f"/fhir/Patient/{binh.pk}", "HN001")
    assert status == 200 and Patient.model_validate(survivor).active is True
    assert survivor["link"] == [{"other": {"reference": f"Patient/{twin.pk}"}, "type": "replaces"}]

    # HN002 reads Bình, so it reads where the twin went; HCM01 reads neither.
    assert _read(fhir, f"/fhir/Patient/{twin.pk}", "HN002")[0] == 200
    assert _read(fhir, f"/fhir/Patient/{twin.pk}", "HCM01")[0] == 404
    assert _read(fhir, f"/fhir/Patient/{binh.pk}", "HCM01")[0] == 404

    # $everything of the merged record: the merged Patient alone, its doses are the survivor's.
    status, everything = _read(fhir, f"/fhir/Patient/{twin.pk}/$everything", "HN001")
    assert status == 200 and Bundle.model_validate(everything)
    assert [e["resource"]["id"] for e in everything["entry"]] == [str(twin.pk)]
    assert everything["entry"][0]["resource"]["active"] is False

    # Searches list the survivor only, with its link to what it replaces.
    _, found = _read(fhir, "/fhir/Patient", "HN001", identifier=BINH_CCCD)
    assert Bundle.model_validate(found) and [e["resource"]["id"] for e in found["entry"]] == [str(binh.pk)]
    assert found["entry"][0]["resource"]["link"][0]["type"] == "replaces"
    assert _read(fhir, "/fhir/Patient", "HN001", _id=str(twin.pk))[1]["total"] == 0
    assert _read(fhir, "/fhir/Immunization", "HN001", patient=f"Patient/{twin.pk}")[1]["total"] == 0
    doses = _read(fhir, "/fhir/Immunization", "HN001", patient=f"Patient/{binh.pk}")[1]
    assert doses["total"] == 2  # Bình's own (HN002) and the twin's (HN001)

    # Undone: each record as before, the twin HN001's again, Bình HN002's only.
    person_unmerge(merge=merge, actor=world.users["national"], reason="Không phải một người")
    status, patient = _read(fhir, f"/fhir/Patient/{twin.pk}", "HN001")
    assert status == 200 and patient["active"] is True and "link" not in patient
    assert patient["identifier"][0]["value"] == BINH_CCCD
    assert _read(fhir, f"/fhir/Patient/{binh.pk}", "HN001")[0] == 404
    assert "link" not in _read(fhir, f"/fhir/Patient/{binh.pk}", "HN002")[1]


def test_a_merged_record_stays_out_of_searches_even_with_a_dose_left_on_it(world, fhir):
    binh, twin = world.persons["binh_hn"], _twin_of_binh(world)
    _merge(world, binh, twin)
    # A dose recorded on the old record after the merge, by a path that does not know of merges.
    dose_make(
        person=twin, facility=world.facilities["HN001"], source_record_id="late",
        date=dt.date(2022, 3, 1), number=3, vaccine=world.vaccine,
    )  # fmt: skip

    _, found = _read(fhir, "/fhir/Patient", "HN001", identifier=BINH_CCCD)
    assert [e["resource"]["id"] for e in found["entry"]] == [str(binh.pk)]
    assert _read(fhir, "/fhir/Patient", "HN001", _id=str(twin.pk))[1]["total"] == 0
    assert _read(fhir, "/fhir/Immunization", "HN001", patient=str(twin.pk))[1]["total"] == 0
    assert _read(fhir, f"/fhir/Patient/{twin.pk}", "HN001")[1]["active"] is False


def test_a_record_merged_twice_points_at_the_next_one_and_is_read_where_the_last_one_is(world, fhir):
    binh, twin = world.persons["binh_hn"], _twin_of_binh(world)
    third = person_make(full_name="Trần Văn Bình", commune=world.communes["00070"], id_number=BINH_CCCD)
    dose_make(
        person=third, facility=world.facilities["HCM01"], source_record_id="third-binh",
        date=dt.date(2022, 6, 1), number=3, vaccine=world.vaccine,
    )  # fmt: skip
    _merge(world, binh, twin)
    _merge(world, third, binh)

    status, patient = _read(fhir, f"/fhir/Patient/{twin.pk}", "HCM01")
    assert status == 200
    assert patient["link"] == [{"other": {"reference": f"Patient/{binh.pk}"}, "type": "replaced-by"}]
    middle = _read(fhir, f"/fhir/Patient/{binh.pk}", "HCM01")[1]
    assert middle["active"] is False and middle["link"][0]["other"]["reference"] == f"Patient/{third.pk}"
    assert _read(fhir, f"/fhir/Patient/{third.pk}", "HCM01")[1]["link"] == [
        {"other": {"reference": f"Patient/{binh.pk}"}, "type": "replaces"}
    ]
