"""Reads: Patients and Immunizations as R4B resources, scoped to the token's facility, full-ID reads audited."""

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from vaxreg.core.models import AuditEvent
from vaxreg.fhir.mapping import (
    CCCD_SYSTEM,
    CMND_SYSTEM,
    COMMUNE_EXTENSION,
    EU_PRODUCT_SYSTEM,
    FACILITY_SYSTEM,
    PROVINCE_EXTENSION,
    SOURCE_RECORD_SYSTEM,
    VACCINE_SYSTEM,
)
from vaxreg.people.models import Gender
from vaxreg.testing.world import dose_make, person_make

pytestmark = pytest.mark.django_db


def fhir_json(response):
    assert response["Content-Type"].startswith("application/fhir+json"), response["Content-Type"]
    return response.json()


def full_id_reads():
    return list(AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).order_by("pk"))


def test_patient_search_by_cccd_gives_a_valid_searchset_with_the_full_record(world, fhir):
    dao = world.persons["dao_hn"]
    response = fhir("GET", "/fhir/Patient", params={"identifier": f"{CCCD_SYSTEM}|001190012345"})
    assert response.status_code == 200
    bundle = fhir_json(response)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    entry = bundle["entry"][0]
    assert entry["fullUrl"].endswith(f"/fhir/Patient/{dao.pk}")
    patient = entry["resource"]
    Patient.model_validate(patient)
    assert patient["id"] == str(dao.pk)
    assert patient["name"][0] == {
        "use": "official",
        "text": "Nguyễn Thị Đào",
        "family": "Nguyễn",
        "given": ["Thị", "Đào"],
    }
    assert patient["gender"] == "female" and patient["birthDate"] == "1990-01-15"
    assert patient["identifier"][0]["system"] == CCCD_SYSTEM
    assert patient["identifier"][0]["value"] == "001190012345"  # full, for an authorised facility system
    assert patient["telecom"] == [{"system": "phone", "value": "0912345601", "use": "mobile"}]
    address = patient["address"][0]
    assert address["city"] == "Phường Ba Đình" and address["state"] == "Thành phố Hà Nội"
    codes = {e["url"]: e["valueCoding"]["code"] for e in address["extension"]}
    assert codes[COMMUNE_EXTENSION] == "00004" and codes[PROVINCE_EXTENSION] == "01"


def test_a_bare_value_is_accepted_and_another_system_matches_nothing(world, fhir):
    bare = fhir_json(fhir("GET", "/fhir/Patient", params={"identifier": "001190012345"}))
    assert bare["total"] == 1
    cmnd = fhir_json(fhir("GET", "/fhir/Patient", params={"identifier": f"{CMND_SYSTEM}|001190012345"}))
    assert cmnd["total"] == 0 and Bundle.model_validate(cmnd)
    other = fhir_json(fhir("GET", "/fhir/Patient", params={"identifier": "urn:oid:1.2.3|001190012345"}))
    assert other["total"] == 0


def test_search_without_a_parameter_is_a_400_operation_outcome(world, fhir):
    response = fhir("GET", "/fhir/Patient")
    assert response.status_code == 400
    OperationOutcome.model_validate(fhir_json(response))


def test_each_full_id_read_is_audited_with_the_token(world, fhir, secrets_by_facility):
    dao = world.persons["dao_hn"]
    fhir("GET", "/fhir/Patient", params={"identifier": "001190012345"})
    fhir("GET", f"/fhir/Patient/{dao.pk}")
    reads = full_id_reads()
    assert [r.object_id for r in reads] == [str(dao.pk), str(dao.pk)]
    assert reads[0].detail["via"] == "fhir" and reads[0].detail["facility"] == "HN001"
    assert reads[0].detail["token_prefix"] == secrets_by_facility["HN001"].split("_")[1]
    assert {r.detail["interaction"] for r in reads} == {"search-type", "read"}


def test_another_facilitys_patient_is_not_found(world, fhir):
    binh = world.persons["binh_hn"]  # vaccinated only at HN002
    response = fhir("GET", f"/fhir/Patient/{binh.pk}", facility="HN001")
    assert response.status_code == 404
    outcome = fhir_json(response)
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"][0]["code"] == "not-found"
    assert fhir("GET", "/fhir/Patient/999999").status_code == 404
    assert fhir("GET", "/fhir/Patient/abc").status_code == 404
    assert fhir_json(fhir("GET", "/fhir/Patient", params={"identifier": "001090054321"}))["total"] == 0
    assert fhir_json(fhir("GET", "/fhir/Immunization", params={"patient": binh.pk}))["total"] == 0
    assert fhir("GET", f"/fhir/Patient/{binh.pk}/$everything").status_code == 404
    assert full_id_reads() == []
    # Its own facility reads it.
    assert fhir("GET", f"/fhir/Patient/{binh.pk}", facility="HN002").status_code == 200


def test_partial_birth_dates_stay_partial(world, fhir):
    for birth, expected in [((1950, None, None), "1950"), ((1950, 3, None), "1950-03")]:
        person = person_make(full_name="Hoàng Văn Tám", commune=None, birth=birth, gender=Gender.MALE)
        dose_make(
            person=person, facility=world.facilities["HN001"], source_record_id=f"old-{expected}",
            date=dt.date(2021, 9, 1), number=1, vaccine=world.vaccine,
        )  # fmt: skip
        patient = fhir_json(fhir("GET", f"/fhir/Patient/{person.pk}"))
        Patient.model_validate(patient)
        assert patient["birthDate"] == expected and patient["gender"] == "male"
        assert "identifier" not in patient and "address" not in patient


def test_immunizations_of_a_patient_include_doses_given_elsewhere(world, fhir):
    hoa = world.persons["hoa_traveller"]  # dose 1 at HN001, dose 2 at HCM01
    world.vaccine.eu_product = "EU/1/21/1529"
    world.vaccine.save(update_fields=["eu_product"])
    bundle = fhir_json(fhir("GET", "/fhir/Immunization", params={"patient": f"Patient/{hoa.pk}"}))
    Bundle.model_validate(bundle)
    assert bundle["total"] == 2
    first, second = (e["resource"] for e in bundle["entry"])
    for resource in (first, second):
        Immunization.model_validate(resource)
        assert resource["status"] == "completed"
        assert resource["patient"] == {"reference": f"Patient/{hoa.pk}"}
    assert first["occurrenceDateTime"] == "2021-08-01" and first["lotNumber"] == "LOT-hoa_traveller-0"
    assert first["protocolApplied"][0]["doseNumberPositiveInt"] == 1
    assert {"system": VACCINE_SYSTEM, "code": "AZ", "display": "AstraZeneca"} in first["vaccineCode"][
        "coding"
    ]
    assert {"system": EU_PRODUCT_SYSTEM, "code": "EU/1/21/1529"} in first["vaccineCode"]["coding"]
    assert first["identifier"][0] == {
        "system": SOURCE_RECORD_SYSTEM,
        "value": "hoa_traveller-0",
        "assigner": {
            "identifier": {"system": FACILITY_SYSTEM, "value": "HN001"},
            "display": "Bệnh viện Bạch Mai",
        },
    }
    assert first["performer"][0]["actor"]["identifier"]["value"] == "HN001"
    assert second["location"]["identifier"] == {"system": FACILITY_SYSTEM, "value": "HCM01"}
    # Immunizations carry no ID number: no full-ID read.
    assert full_id_reads() == []

    single = fhir_json(fhir("GET", f"/fhir/Immunization/{bundle['entry'][1]['resource']['id']}"))
    assert Immunization.model_validate(single).id == second["id"]


def test_everything_gives_the_patient_and_all_doses_in_one_bundle(world, fhir, django_assert_max_num_queries):
    dao = world.persons["dao_hn"]
    with django_assert_max_num_queries(8):
        response = fhir("GET", f"/fhir/Patient/{dao.pk}/$everything")
    bundle = fhir_json(response)
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Patient", "Immunization", "Immunization"]
    assert [e["resource"]["protocolApplied"][0]["doseNumberPositiveInt"] for e in bundle["entry"][1:]] == [
        1,
        2,
    ]
    assert [r.object_id for r in full_id_reads()] == [str(dao.pk)]


def test_metadata_is_a_valid_capability_statement(world, client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = CapabilityStatement.model_validate(fhir_json(response))
    assert CCCD_SYSTEM in str(statement.rest[0].resource[0].searchParam[0].documentation)


def test_an_id_number_typed_with_spaces_is_found(world, fhir):
    assert fhir_json(fhir("GET", "/fhir/Patient", params={"identifier": "001 190 012 345"}))["total"] == 1


def test_a_server_error_is_an_operation_outcome(world, fhir, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("vaxreg.fhir.views.selectors.patient_get", broken)
    response = fhir("GET", f"/fhir/Patient/{world.persons['dao_hn'].pk}")
    assert response.status_code == 500
    assert OperationOutcome.model_validate(fhir_json(response)).issue[0].code == "exception"
