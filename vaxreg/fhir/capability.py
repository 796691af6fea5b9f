"""What the FHIR interface offers, as a CapabilityStatement (``GET /fhir/metadata``)."""

from typing import Any

from vaxreg.fhir.mapping import CCCD_SYSTEM, CMND_SYSTEM, FHIR_JSON, PASSPORT_SYSTEM

CAPABILITY_DATE = "2026-11-26"


def capability_statement(*, base_url: str) -> dict[str, Any]:
    identifier_doc = (
        f"<system>|<value> or a bare value. Systems: {CCCD_SYSTEM} (CCCD, 12 digits), {CMND_SYSTEM} "
        f"(CMND, 9 digits), {PASSPORT_SYSTEM}. Every Patient returned carries the full ID number and the "
        "read is written to the audit log."
    )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": CAPABILITY_DATE,
        "kind": "instance",
        "software": {"name": "VaxReg"},
        "implementation": {"description": "VaxReg FHIR R4B exchange for facility systems", "url": base_url},
        "fhirVersion": "4.3.0",
        "format": [FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Authorization: Bearer <token secret> (one token per facility, `vaxreg fhir token create`). "
                    "A token reads the persons its facility gave a dose to, with all their doses, and writes "
                    "only doses given at its facility."
                ),
                "security": {
                    "service": [{"text": "Bearer token"}],
                    "description": "API tokens per facility; unknown or revoked tokens get 401.",
                },
                "resource": [
                    {
                        "type": "Patient",
                        "documentation": (
                            "A record merged into another one (the same citizen recorded twice) is left out of "
                            "searches; read by its id, it answers active: false with a link of type replaced-by "
                            "to the record that replaced it, which links back with type replaces."
                        ),
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": "identifier", "type": "token", "documentation": identifier_doc},
                            {"name": "_id", "type": "token"},
                        ],
                        "operation": [
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                                "documentation": "The Patient and all its Immunizations in one Bundle.",
                            }
                        ],
                    },
                    {
                        "type": "Immunization",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [{"name": "patient", "type": "reference"}],
                    },
                ],
                "interaction": [
                    {
                        "code": "transaction",
                        "documentation": (
                            "POST a transaction, batch or collection Bundle of Patients and Immunizations to the "
                            "base or to /Bundle. It is imported through the file import's rules and history; "
                            "Immunization.identifier is the facility's record id, so a resend is idempotent. "
                            "Any problem refuses the whole Bundle with an OperationOutcome."
                        ),
                    },
                    {"code": "batch", "documentation": "Handled as a transaction: all or nothing."},
                ],
            }
        ],
    }
