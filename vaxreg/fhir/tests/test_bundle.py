"""Writes: a posted Bundle goes through the file import (rules, history, idempotent resends), or is refused
whole with an OperationOutcome naming each problem, and then nothing of it is stored but the Bundle itself."""

import hashlib
import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from vaxreg.core.models import AuditEvent, ChangeRecord, SourceType
from vaxreg.fhir.mapping import (
    CCCD_SYSTEM,
    COMMUNE_EXTENSION,
    COMMUNE_SYSTEM,
    EU_PRODUCT_SYSTEM,
    FACILITY_SYSTEM,
    SOURCE_RECORD_SYSTEM,
    VACCINE_SYSTEM,
)
from vaxreg.fhir.models import BundleSubmission
from vaxreg.imports.models import ImportBatch, RejectedRow
from vaxreg.people.models import Person
from vaxreg.quality.models import Finding
from vaxreg.vaccinations.models import Dose

pytestmark = pytest.mark.django_db


def patient(full_url: str = "urn:uuid:patient-1", **changes: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": CCCD_SYSTEM, "value": "001187000123"}],
        "name": [{"use": "official", "text": "Vũ Thị Lan", "family": "Vũ", "given": ["Thị", "Lan"]}],
        "gender": "female",
        "birthDate": "1987-03",
        "telecom": [{"system": "phone", "value": "0912000111"}],
        "address": [
            {
                "use": "home",
                "line": ["12 Phố Huế"],
                "extension": [
                    {"url": COMMUNE_EXTENSION, "valueCoding": {"system": COMMUNE_SYSTEM, "code": "00004"}}
                ],
            }
        ],
    }
    resource.update(changes)
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": "Patient"}}


def immunization(
    source_id: str, *, patient_ref: str = "urn:uuid:patient-1", **changes: Any
) -> dict[str, Any]:
    resource = {
        "resourceType": "Immunization",
        "identifier": [{"system": SOURCE_RECORD_SYSTEM, "value": source_id}],
        "status": "completed",
        "vaccineCode": {"coding": [{"system": VACCINE_SYSTEM, "code": "AZ"}]},
        "patient": {"reference": patient_ref},
        "occurrenceDateTime": "2021-09-10T08:30:00+07:00",
        "lotNumber": "NJ0342",
        "performer": [{"actor": {"identifier": {"system": FACILITY_SYSTEM, "value": "HN001"}}}],
        "protocolApplied": [{"doseNumberPositiveInt": 1}],
    }
    resource.update(changes)
    return {
        "fullUrl": f"urn:uuid:{source_id}",
        "resource": resource,
        "request": {"method": "POST", "url": "Immunization"},
    }


def bundle(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def two_doses() -> dict[str, Any]:
    second = immunization(
        "BM-2", occurrenceDateTime="2021-11-10", protocolApplied=[{"doseNumberPositiveInt": 2}]
    )
    return bundle(patient(), immunization("BM-1"), second)


def counts() -> dict[str, int]:
    return {
        "persons": Person.objects.count(),
        "doses": Dose.objects.count(),
        "batches": ImportBatch.objects.count(),
        "rejected": RejectedRow.objects.count(),
        "history": ChangeRecord.objects.count(),
        "findings": Finding.objects.count(),
    }


def refused(response: Any, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    outcome = response.json()
    OperationOutcome.model_validate(outcome)
    return outcome["issue"]


def expressions(issues: list[dict[str, Any]]) -> set[str]:
    return {e for issue in issues for e in issue.get("expression", [])}


def test_a_bundle_is_imported_with_its_batch_as_the_source(world, fhir):
    response = fhir("POST", "/fhir/Bundle", body=two_doses())

    assert response.status_code == 200, response.content
    answer = response.json()
    Bundle.model_validate(answer)
    assert answer["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created"] * 3
    person = Person.objects.get(id_number="001187000123")
    assert answer["entry"][0]["response"]["location"] == f"Patient/{person.pk}/_history/1"
    doses = list(person.doses.order_by("vaccination_date"))
    assert [e["response"]["location"] for e in answer["entry"][1:]] == [
        f"Immunization/{d.pk}/_history/1" for d in doses
    ]

    assert person.full_name == "Vũ Thị Lan" and person.gender == "F" and person.id_type == "CCCD"
    assert (person.birth_year, person.birth_month, person.birth_day) == (1987, 3, None)
    assert person.phone == "0912000111" and person.address == "12 Phố Huế" and person.commune_id == "00004"
    assert [
        (d.source_record_id, d.vaccination_date.isoformat(), d.dose_number, d.vaccine_id, d.lot_number)
        for d in doses
    ] == [
        ("BM-1", "2021-09-10", 1, "AZ", "NJ0342"),
        ("BM-2", "2021-11-10", 2, "AZ", "NJ0342"),
    ]
    assert {d.facility.code for d in doses} == {"HN001"}

    submission = BundleSubmission.objects.get()
    batch = submission.batch
    assert submission.status == "stored" and json.loads(bytes(submission.body)) == two_doses()
    assert person.created_batch == batch and {d.created_batch for d in doses} == {batch}
    assert batch.facility.code == "HN001" and f"fhir-bundle-{submission.pk}" in batch.file_name
    assert (batch.status, batch.rows_read, batch.rows_stored, batch.rows_rejected) == ("done", 2, 2, 0)
    received = AuditEvent.objects.get(action=AuditEvent.Action.FHIR_BUNDLE_RECEIVED)
    assert received.object_id == str(submission.pk) and received.detail["facility"] == "HN001"
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.IMPORT_FINISHED, object_id=str(batch.pk)
    ).exists()

    # The facility reads back what it sent.
    read = fhir("GET", f"/fhir/Patient/{person.pk}/$everything").json()
    assert [e["resource"]["resourceType"] for e in read["entry"]] == [
        "Patient",
        "Immunization",
        "Immunization",
    ]


def test_a_resend_changes_nothing_and_a_changed_resend_keeps_history(world, fhir):
    fhir("POST", "/fhir/Bundle", body=two_doses())
    before = counts()

    again = fhir("POST", "/fhir/Bundle", body=two_doses())
    assert again.status_code == 200
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 3
    assert counts() == {**before, "batches": before["batches"] + 1}
    assert ImportBatch.objects.order_by("-pk").first().doses_unchanged == 2

    changed = two_doses()
    changed["entry"][1]["resource"]["lotNumber"] = "NJ0999"
    response = fhir("POST", "/fhir/Bundle", body=changed)
    assert response.status_code == 200
    dose = Dose.objects.get(source_record_id="BM-1")
    assert dose.lot_number == "NJ0999" and dose.version == 2
    assert response.json()["entry"][1]["response"]["location"] == f"Immunization/{dose.pk}/_history/2"
    change = ChangeRecord.objects.get(entity="dose", entity_id=dose.pk)
    batch = BundleSubmission.objects.order_by("-pk").first().batch
    assert (change.field, change.old_value, change.new_value) == ("lot_number", "NJ0342", "NJ0999")
    assert change.source_type == SourceType.IMPORT and change.source_id == str(batch.pk)
    assert Person.objects.count() == before["persons"] and Dose.objects.count() == before["doses"]


def test_a_broken_resource_refuses_the_whole_bundle_and_keeps_it(world, fhir):
    before = counts()
    broken = bundle(patient(), immunization("BM-1"), immunization("BM-2", occurrenceDateTime="2021-13-45"))

    issues = refused(fhir("POST", "/fhir/Bundle", body=broken), 400)

    assert "Bundle.entry[2].resource.occurrenceDateTime" in expressions(issues)
    assert counts() == before
    submission = BundleSubmission.objects.get()
    assert submission.status == "refused" and submission.http_status == 400
    assert json.loads(bytes(submission.body)) == broken and submission.outcome["issue"] == issues
    # Corrected and sent again, it is stored.
    broken["entry"][2]["resource"]["occurrenceDateTime"] = "2021-11-10"
    assert fhir("POST", "/fhir/Bundle", body=broken).status_code == 200
    assert Dose.objects.filter(source_record_id__in=["BM-1", "BM-2"]).count() == 2


def test_every_problem_is_named_by_entry_and_element(world, fhir):
    before = counts()
    unknown_vaccine = immunization(
        "BM-1", vaccineCode={"coding": [{"system": VACCINE_SYSTEM, "code": "NOPE"}]}
    )
    no_identifier = immunization("BM-2", identifier=[])
    partial_date = immunization("BM-3", occurrenceDateTime="2021-09")
    not_done = immunization("BM-4", status="not-done")
    nobody = immunization("BM-5", patient_ref="urn:uuid:nobody")
    body = bundle(patient(), unknown_vaccine, no_identifier, partial_date, not_done, nobody)

    issues = refused(fhir("POST", "/fhir/Bundle", body=body), 422)

    assert expressions(issues) >= {
        "Bundle.entry[1].resource.vaccineCode",
        "Bundle.entry[2].resource.identifier",
        "Bundle.entry[3].resource.occurrenceDateTime",
        "Bundle.entry[4].resource.status",
        "Bundle.entry[5].resource.patient.reference",
    }
    codes = {i["details"]["coding"][0]["code"] for i in issues}
    assert {
        "VACCINE_UNKNOWN",
        "SOURCE_ID_MISSING",
        "VACCINATION_DATE_INCOMPLETE",
        "PATIENT_NOT_FOUND",
    } <= codes
    assert all(i["details"]["text"] and i["diagnostics"] for i in issues)  # Vietnamese and English
    assert counts() == before


def test_a_missing_required_element_is_named(world, fhir):
    entry = immunization("BM-1")
    del entry["resource"]["vaccineCode"]
    issues = refused(fhir("POST", "/fhir/Bundle", body=bundle(patient(), entry)), 400)
    assert "Bundle.entry[1].resource.vaccineCode" in expressions(issues)
    assert not Dose.objects.filter(source_record_id="BM-1").exists()


def test_a_dose_given_at_another_facility_is_refused(world, fhir):
    before = counts()
    elsewhere = immunization(
        "BM-9", performer=[{"actor": {"identifier": {"system": FACILITY_SYSTEM, "value": "HCM01"}}}]
    )

    issues = refused(
        fhir("POST", "/fhir/Bundle", body=bundle(patient(), immunization("BM-1"), elsewhere)), 422
    )

    assert issues[0]["code"] == "forbidden"
    assert expressions(issues) == {"Bundle.entry[2].resource.performer[0].actor.identifier.value"}
    assert counts() == before
    # HCM01's own system sends the same dose.
    assert (
        fhir("POST", "/fhir/Bundle", body=bundle(patient(), elsewhere), facility="HCM01").status_code == 200
    )
    assert Dose.objects.get(source_record_id="BM-9").facility.code == "HCM01"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        ({"resourceType": "Patient"}, 400),
        (bundle(patient(), immunization("BM-1"), kind="searchset"), 400),
        (bundle({"resource": {"resourceType": "Observation", "status": "final"}}), 400),
        (bundle(), 422),
        (bundle(patient()), 422),
    ],
)
def test_what_is_not_a_bundle_of_doses_is_refused(world, fhir, body, status):
    before = counts()
    refused(fhir("POST", "/fhir/Bundle", body=body), status)
    assert counts() == before
    assert BundleSubmission.objects.get().status == "refused"


def test_an_immunization_may_point_at_a_patient_the_facility_already_has(world, fhir):
    dao = world.persons["dao_hn"]
    third = immunization(
        "BM-3", patient_ref=f"Patient/{dao.pk}", protocolApplied=[{"doseNumberPositiveInt": 3}]
    )

    response = fhir("POST", "/fhir/", body=bundle(third, kind="batch"))

    assert response.status_code == 200, response.content
    assert response.json()["type"] == "batch-response"
    assert Dose.objects.get(source_record_id="BM-3").person == dao
    assert Person.objects.filter(id_number="001190012345").count() == 1
    # A person the facility never vaccinated cannot be pointed at.
    cuong = world.persons["cuong_hcm"]
    issues = refused(
        fhir("POST", "/fhir/Bundle", body=bundle(immunization("BM-4", patient_ref=f"Patient/{cuong.pk}"))),
        422,
    )
    assert expressions(issues) == {"Bundle.entry[0].resource.patient.reference"}


def test_eu_dcc_product_codes_and_vaccine_names_are_understood(world, fhir):
    world.vaccine.eu_product = "EU/1/21/1529"
    world.vaccine.save(update_fields=["eu_product"])
    by_dcc = immunization(
        "BM-1", vaccineCode={"coding": [{"system": EU_PRODUCT_SYSTEM, "code": "EU/1/21/1529"}]}
    )
    by_name = immunization("BM-2", vaccineCode={"text": "AstraZeneca"}, occurrenceDateTime="2021-11-10")
    assert fhir("POST", "/fhir/Bundle", body=bundle(patient(), by_dcc, by_name)).status_code == 200
    assert set(
        Dose.objects.filter(source_record_id__in=["BM-1", "BM-2"]).values_list("vaccine_id", flat=True)
    ) == {"AZ"}


def test_a_patient_without_citizen_fields_is_stored_and_flagged(world, fhir):
    anonymous = patient(name=[], identifier=[], gender="unknown", birthDate=None)
    del anonymous["resource"]["birthDate"]
    response = fhir("POST", "/fhir/Bundle", body=bundle(anonymous, immunization("BM-1")))
    assert response.status_code == 200, response.content
    person = Dose.objects.get(source_record_id="BM-1").person
    codes = set(Finding.objects.filter(person=person, is_open=True).values_list("code", flat=True))
    assert {"NAME_MISSING", "DOB_MISSING", "ID_MISSING"} <= codes


def test_a_rejected_row_rolls_back_the_whole_bundle(world, fhir):
    signed = Dose.objects.get(source_record_id="dao_hn-0")
    signed.signed_off = True
    signed.save(update_fields=["signed_off"])
    dao = world.persons["dao_hn"]
    change = immunization("dao_hn-0", patient_ref=f"Patient/{dao.pk}", lotNumber="OTHER")
    new = immunization("BM-7", patient_ref=f"Patient/{dao.pk}", occurrenceDateTime="2022-01-10")
    before = counts()

    issues = refused(fhir("POST", "/fhir/Bundle", body=bundle(new, change)), 409)

    assert [i["details"]["coding"][0]["code"] for i in issues] == ["DOSE_SIGNED_OFF"]
    assert expressions(issues) == {"Bundle.entry[1].resource"}
    assert counts() == before
    assert not Dose.objects.filter(source_record_id="BM-7").exists()
    assert BundleSubmission.objects.get().status == "refused"


def test_only_fhir_json_is_accepted(world, fhir):
    response = fhir("POST", "/fhir/Bundle", body="a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert fhir("GET", "/fhir/Bundle").status_code == 405


def test_an_untyped_facility_identifier_on_an_organization_counts_and_a_nurses_does_not(world, fhir):
    nurse = immunization(
        "BM-1", performer=[{"actor": {"identifier": {"value": "NURSE-77"}, "type": "Practitioner"}}]
    )
    assert fhir("POST", "/fhir/Bundle", body=bundle(patient(), nurse)).status_code == 200
    other = immunization("BM-2", location={"identifier": {"value": "HCM01"}, "type": "Location"})
    issues = refused(fhir("POST", "/fhir/Bundle", body=bundle(patient(), other)), 422)
    assert expressions(issues) == {"Bundle.entry[1].resource.location.identifier.value"}


def test_an_invalid_gender_is_named_once(world, fhir):
    body = bundle(
        patient(gender="nam"), immunization("BM-1"), immunization("BM-2", occurrenceDateTime="2021-11-10")
    )
    issues = refused(fhir("POST", "/fhir/Bundle", body=body), 422)
    assert [i["expression"] for i in issues] == [["Bundle.entry[0].resource.gender"]]


def test_a_refused_body_is_kept_byte_for_byte(world, fhir):
    raw = b'{"resourceType": "Bundle", "type": "transaction", "entry": [\xff\x00]}'
    refused(fhir("POST", "/fhir/Bundle", body=raw), 400)
    submission = BundleSubmission.objects.get()
    assert bytes(submission.body) == raw and submission.status == "refused"
    assert submission.body_sha256 == hashlib.sha256(raw).hexdigest()
