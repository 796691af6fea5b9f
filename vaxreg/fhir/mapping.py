"""VaxReg records as HL7 FHIR R4B resources, and the resources facility systems send as template rows.

Identifier systems and code systems (also listed by ``GET /fhir/metadata``):

- ``https://vaxreg.gov.vn/fhir/sid/cccd``: the 12-digit citizen ID (CCCD); ``…/sid/cmnd`` the old 9-digit
  ID; ``…/sid/passport`` a passport number; ``…/sid/id-unchecked`` an ID number as entered that has none of
  these shapes. ``GET /fhir/Patient?identifier=<system>|<value>`` searches them; a bare value searches
  every kind.
- ``…/sid/facility``: facility codes (Immunization.performer.actor and .location).
- ``…/sid/source-record``: the facility's own record id of a dose ("Mã bản ghi"); it makes a resend
  idempotent, exactly as in a file import.
- ``…/CodeSystem/vaccine``: the catalogue's vaccine codes; the EU DCC product codes (value set ``mp``) are
  given beside them under the EU systems, and accepted in input.
- ``…/StructureDefinition/commune``, ``…/province``, ``…/legacy-commune`` (on Address): the 2025 commune,
  the province and the old commune code, as ``valueCoding``.

Names are Vietnamese: ``family`` is the first word, ``given`` the rest, ``text`` the name as entered.
Birth dates are partial where the record is (``1950``, ``1950-03``, ``1950-03-15``).

Everything here is pure: no database, no request.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vaxreg.imports.headers import TEMPLATE_HEADERS_KEYS
from vaxreg.people.models import Gender, IdType, Person
from vaxreg.vaccinations.models import Dose, DoseStatus, Vaccine

BASE = "https://vaxreg.gov.vn/fhir"
CCCD_SYSTEM = f"{BASE}/sid/cccd"
CMND_SYSTEM = f"{BASE}/sid/cmnd"
PASSPORT_SYSTEM = f"{BASE}/sid/passport"
UNCHECKED_ID_SYSTEM = f"{BASE}/sid/id-unchecked"
FACILITY_SYSTEM = f"{BASE}/sid/facility"
SOURCE_RECORD_SYSTEM = f"{BASE}/sid/source-record"
VACCINE_SYSTEM = f"{BASE}/CodeSystem/vaccine"
COMMUNE_SYSTEM = f"{BASE}/CodeSystem/commune"
PROVINCE_SYSTEM = f"{BASE}/CodeSystem/province"
LEGACY_COMMUNE_SYSTEM = f"{BASE}/CodeSystem/legacy-commune"
ISSUE_SYSTEM = f"{BASE}/CodeSystem/issue"
COMMUNE_EXTENSION = f"{BASE}/StructureDefinition/commune"
PROVINCE_EXTENSION = f"{BASE}/StructureDefinition/province"
LEGACY_COMMUNE_EXTENSION = f"{BASE}/StructureDefinition/legacy-commune"
# The EU DCC value set "vaccines-covid-19-names": authorised products under the community register, the
# others under the EU's temporary product-name system.
EU_PRODUCT_SYSTEM = "https://ec.europa.eu/health/documents/community-register/html/"
EU_TEMP_PRODUCT_SYSTEM = "http://ec.europa.eu/temp/vaccineproductname"
SNOMED = "http://snomed.info/sct"
COVID19_SNOMED = "840539006"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

ID_SYSTEMS = {
    IdType.CCCD: CCCD_SYSTEM,
    IdType.CMND: CMND_SYSTEM,
    IdType.PASSPORT: PASSPORT_SYSTEM,
    IdType.INVALID: UNCHECKED_ID_SYSTEM,
}
ID_TYPE_OF_SYSTEM = {system: id_type for id_type, system in ID_SYSTEMS.items()}
_ID_TYPE_CODES = {IdType.CCCD: "NI", IdType.CMND: "NI", IdType.PASSPORT: "PPN"}
_GENDER_OUT = {Gender.MALE: "male", Gender.FEMALE: "female", Gender.OTHER: "other"}
# FHIR gender → the words of the import template, read again by the import's own gender parser.
GENDER_IN = {"male": "Nam", "female": "Nữ", "other": "Khác", "unknown": ""}

FHIR_JSON = "application/fhir+json"


# -- out: records → resources ----------------------------------------------------------------------------


def name_split(full_name: str) -> tuple[str, list[str]]:
    """Vietnamese order: "Nguyễn Thị Đào" → ("Nguyễn", ["Thị", "Đào"])."""
    words = full_name.split()
    return (words[0], words[1:]) if words else ("", [])


def birth_date_fhir(person: Person) -> str | None:
    if person.birth_year is None:
        return None
    if person.birth_month is None:
        return f"{person.birth_year:04d}"
    if person.birth_day is None:
        return f"{person.birth_year:04d}-{person.birth_month:02d}"
    return f"{person.birth_year:04d}-{person.birth_month:02d}-{person.birth_day:02d}"


def _coding(system: str, code: str, display: str = "") -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _meta(version: int, updated_at: dt.datetime) -> dict[str, str]:
    return {"versionId": str(version), "lastUpdated": updated_at.isoformat()}


def facility_reference(code: str, name: str) -> dict[str, Any]:
    return {"identifier": {"system": FACILITY_SYSTEM, "value": code}, "display": name}


def patient_resource(person: Person, *, replaces: Sequence[int] = ()) -> dict[str, Any]:
    """The Patient with the full ID number: callers record the read (``FULL_ID_READ``), except for a record
    merged into another one (``merged_patient_resource``). ``replaces``: the ids of the records merged into
    this one.

    Reads ``person.commune`` and ``person.province``: select them with the person."""
    if person.merged_into_id is not None:
        return merged_patient_resource(person)
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.pk),
        "meta": _meta(person.version, person.updated_at),
        "active": True,
    }
    if person.id_number:
        identifier: dict[str, Any] = {
            "use": "official",
            "system": ID_SYSTEMS.get(IdType(person.id_type or IdType.NONE), UNCHECKED_ID_SYSTEM),
            "value": person.id_number,
        }
        type_code = _ID_TYPE_CODES.get(IdType(person.id_type or IdType.NONE))
        if type_code:
            identifier["type"] = {
                "coding": [_coding(V2_0203, type_code)],
                "text": person.get_id_type_display(),
            }
        resource["identifier"] = [identifier]
    if person.full_name:
        family, given = name_split(person.full_name)
        name: dict[str, Any] = {"use": "official", "text": person.full_name, "family": family}
        if given:
            name["given"] = given
        resource["name"] = [name]
    if person.phone:
        resource["telecom"] = [{"system": "phone", "value": person.phone, "use": "mobile"}]
    resource["gender"] = _GENDER_OUT.get(Gender(person.gender), "unknown")
    birth = birth_date_fhir(person)
    if birth:
        resource["birthDate"] = birth
    address = _address(person)
    if address:
        resource["address"] = [address]
    if replaces:
        resource["link"] = [_link(pk, "replaces") for pk in replaces]
    return resource


def _link(person_id: int | None, kind: str) -> dict[str, Any]:
    return {"other": {"reference": f"Patient/{person_id}"}, "type": kind}


def merged_patient_resource(person: Person) -> dict[str, Any]:
    """A record merged into another one, as FHIR R4B gives a merged Patient: not active, its ``link``
    replaced-by the record that took its place. Nothing else: its doses moved there, and the citizen is
    read there, by whoever reads that record (no ID number goes out, so no full-ID read to record)."""
    return {
        "resourceType": "Patient",
        "id": str(person.pk),
        "meta": _meta(person.version, person.updated_at),
        "active": False,
        "link": [_link(person.merged_into_id, "replaced-by")],
    }


def _address(person: Person) -> dict[str, Any] | None:
    extensions = []
    address: dict[str, Any] = {"use": "home", "type": "physical", "country": "VN"}
    parts = [person.address] if person.address else []
    if person.address:
        address["line"] = [person.address]
    if person.commune is not None:
        extensions.append(
            {
                "url": COMMUNE_EXTENSION,
                "valueCoding": _coding(COMMUNE_SYSTEM, person.commune.code, person.commune.name),
            }
        )
        address["city"] = person.commune.name
        parts.append(person.commune.name)
    if person.legacy_commune_code:
        extensions.append(
            {
                "url": LEGACY_COMMUNE_EXTENSION,
                "valueCoding": _coding(LEGACY_COMMUNE_SYSTEM, person.legacy_commune_code),
            }
        )
    if person.province is not None:
        extensions.append(
            {
                "url": PROVINCE_EXTENSION,
                "valueCoding": _coding(PROVINCE_SYSTEM, person.province.code, person.province.name),
            }
        )
        address["state"] = person.province.name
        parts.append(person.province.name)
    if not parts:
        return None
    address["text"] = ", ".join(parts)
    if extensions:
        address["extension"] = extensions
    return address


def vaccine_codings(vaccine: Vaccine) -> list[dict[str, str]]:
    codings = [_coding(VACCINE_SYSTEM, vaccine.code, vaccine.name)]
    if vaccine.eu_product:
        system = EU_PRODUCT_SYSTEM if vaccine.eu_product.startswith("EU/") else EU_TEMP_PRODUCT_SYSTEM
        codings.append(_coding(system, vaccine.eu_product))
    return codings


def immunization_resource(dose: Dose) -> dict[str, Any]:
    """Reads ``dose.vaccine`` and ``dose.facility``: select them with the dose."""
    facility = facility_reference(dose.facility.code, dose.facility.name)
    if dose.vaccine is not None:
        vaccine_code: dict[str, Any] = {"coding": vaccine_codings(dose.vaccine), "text": dose.vaccine.name}
    else:  # the facility's own words, which matched no catalogue entry
        vaccine_code = {
            "coding": [_coding(DATA_ABSENT, "unknown", "Unknown")],
            "text": dose.vaccine_raw or "Không rõ",
        }
    protocol: dict[str, Any] = {"targetDisease": [{"coding": [_coding(SNOMED, COVID19_SNOMED, "COVID-19")]}]}
    if dose.dose_number is not None:
        protocol["doseNumberPositiveInt"] = dose.dose_number
    else:
        protocol["doseNumberString"] = "unknown"
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(dose.pk),
        "meta": _meta(dose.version, dose.updated_at),
        "identifier": [
            {"system": SOURCE_RECORD_SYSTEM, "value": dose.source_record_id, "assigner": facility},
        ],
        "status": "entered-in-error" if dose.status == DoseStatus.ENTERED_IN_ERROR else "completed",
        "vaccineCode": vaccine_code,
        "patient": {"reference": f"Patient/{dose.person_id}"},
        "occurrenceDateTime": dose.vaccination_date.isoformat(),
        "primarySource": True,
        "location": facility,
        "performer": [{"actor": facility}],
        "protocolApplied": [protocol],
    }
    if dose.lot_number:
        resource["lotNumber"] = dose.lot_number
    return resource


def searchset_bundle(resources: Sequence[dict[str, Any]], *, base_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


# -- errors ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One problem, in Vietnamese and English, at a FHIRPath in the request (``Bundle.entry[2].resource…``)."""

    code: str  # our stable code, e.g. VACCINE_UNKNOWN
    message_vi: str
    message_en: str
    expression: str = ""
    fhir_code: str = "invalid"  # the OperationOutcome issue type
    severity: str = "error"


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": issue.severity,
                "code": issue.fhir_code,
                "details": {"coding": [_coding(ISSUE_SYSTEM, issue.code)], "text": issue.message_vi},
                "diagnostics": issue.message_en,
                **({"expression": [issue.expression]} if issue.expression else {}),
            }
            for issue in issues
        ],
    }


def fhir_path(root: str, location: Sequence[str | int]) -> str:
    """("entry", 2, "resource", "birthDate") → "Bundle.entry[2].resource.birthDate"."""
    path = root
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


# -- in: resources → template rows -----------------------------------------------------------------------


@dataclass
class PatientFields:
    """A Patient's values in the words of the import template."""

    full_name: str = ""
    date_of_birth: str = ""
    gender: str = ""
    id_number: str = ""
    phone: str = ""
    address: str = ""
    commune_code: str = ""


@dataclass
class DoseFields:
    """An Immunization's values in the words of the import template, and where it sits in the Bundle."""

    entry_index: int
    source_record_id: str
    vaccination_date: str
    vaccine: str
    facility_code: str
    dose_number: str = ""
    lot_number: str = ""
    patient: PatientFields = field(default_factory=PatientFields)
    patient_entry_index: int | None = None  # the Patient entry, when the Bundle holds it


def birth_date_template(value: str) -> str:
    """A FHIR date as the template writes it: "1950" stays, "1950-03" → "03/1950", a full date stays ISO."""
    parts = value.split("-")
    if len(parts) == 2:
        return f"{parts[1]}/{parts[0]}"
    return value


def patient_fields(resource: dict[str, Any]) -> PatientFields:
    """The template values of a (validated) Patient resource; absent elements stay empty, as a file's
    empty cells do, and are left to the quality rules."""
    fields = PatientFields()
    names = resource.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if official:
        text = (official.get("text") or "").strip()
        if not text:
            text = " ".join([official.get("family") or "", *(official.get("given") or [])]).strip()
        fields.full_name = " ".join(text.split())
    if resource.get("birthDate"):
        fields.date_of_birth = birth_date_template(str(resource["birthDate"]))
    fields.gender = GENDER_IN.get(resource.get("gender") or "unknown", "")
    identifiers = [i for i in resource.get("identifier") or [] if (i.get("value") or "").strip()]
    ours = [i for i in identifiers if i.get("system") in ID_TYPE_OF_SYSTEM]
    chosen = (ours or [i for i in identifiers if not i.get("system")] or identifiers or [None])[0]
    if chosen:
        fields.id_number = chosen["value"].strip()
    phones = [t for t in resource.get("telecom") or [] if t.get("system") == "phone" and t.get("value")]
    if phones:
        fields.phone = phones[0]["value"].strip()
    addresses = resource.get("address") or []
    home = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else None)
    if home:
        lines = [line for line in home.get("line") or [] if line]
        fields.address = ", ".join(lines) or (home.get("text") or "").strip()
        for extension in home.get("extension") or []:
            if extension.get("url") == COMMUNE_EXTENSION:
                coding = extension.get("valueCoding") or {}
                fields.commune_code = (coding.get("code") or extension.get("valueCode") or "").strip()
    return fields


def patient_fields_of_person(person: Person) -> PatientFields:
    """An existing person as template values, for an Immunization that points at ``Patient/<id>``."""
    gender = {Gender.MALE: "Nam", Gender.FEMALE: "Nữ", Gender.OTHER: "Khác"}.get(Gender(person.gender), "")
    return PatientFields(
        full_name=person.full_name,
        date_of_birth=person.birth_date_display,
        gender=gender,
        id_number=person.id_number,
        phone=person.phone,
        address=person.address,
        commune_code=person.commune_id or person.commune_code_raw,
    )


# The dose import's template by field name: a bundle becomes the file a facility would have sent.
TEMPLATE_HEADERS = TEMPLATE_HEADERS_KEYS


def template_row(dose: DoseFields) -> list[str]:
    """The row a facility's file would carry for this dose, in ``TEMPLATE_HEADERS`` order."""
    p = dose.patient
    return [
        p.full_name, p.date_of_birth, p.gender, p.id_number, p.phone, p.address, p.commune_code,
        dose.facility_code, dose.source_record_id, dose.vaccination_date, dose.dose_number, dose.vaccine,
        dose.lot_number,
    ]  # fmt: skip
