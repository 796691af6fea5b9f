"""A Bundle posted by a facility system becomes an import batch, and goes through the file import itself.

1. The body is kept as received (``BundleSubmission``) before anything is checked: a refused Bundle can be
   looked up, corrected and sent again. A body that cannot be read as a Bundle at all (not UTF-8 JSON, or
   nested deeper than ``MAX_JSON_DEPTH``, which is found before parsing: a Bundle 50,000 levels deep made
   the parser fail on recursion) is refused with an audit event of its own.
2. The whole Bundle is checked: every resource against the ``fhir.resources`` R4B models, then against
   what a dose record needs (a source record id, a full vaccination date, a catalogue vaccine, the
   token's own facility, a Patient). Any problem refuses the whole Bundle with an OperationOutcome naming
   each entry and element; nothing of it is stored.
3. Each Immunization, with its Patient, becomes one row of the import template; the rows form a CSV file
   that ``import_batch_create``/``import_batch_run`` import with every rule of a file import: person
   matching, history naming the batch, the quality re-check, idempotent resends by source record id.
4. Should the import still refuse a row (a signed-off dose changed, say), the whole import is rolled
   back and the Bundle refused, as a FHIR transaction must be.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from django.db import transaction
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from vaxreg.core import clock
from vaxreg.core.history import audit_event_record
from vaxreg.core.models import AuditEvent
from vaxreg.core.refusals import Refusal
from vaxreg.core.tables import table_bytes
from vaxreg.fhir.mapping import (
    EU_PRODUCT_SYSTEM,
    EU_TEMP_PRODUCT_SYSTEM,
    FACILITY_SYSTEM,
    GENDER_IN,
    SOURCE_RECORD_SYSTEM,
    TEMPLATE_HEADERS,
    VACCINE_SYSTEM,
    DoseFields,
    Issue,
    PatientFields,
    fhir_path,
    operation_outcome,
    patient_fields,
    patient_fields_of_person,
    template_row,
)
from vaxreg.fhir.models import ApiToken, BundleSubmission
from vaxreg.fhir.tokens import token_jurisdiction
from vaxreg.imports.models import ImportBatch, RejectedRow
from vaxreg.imports.normalize import MAX_SOURCE_ID
from vaxreg.imports.services import import_batch_create, import_batch_run
from vaxreg.people.models import Person
from vaxreg.vaccinations.fields import vaccine_alias_map, vaccine_resolve
from vaxreg.vaccinations.models import Dose, Vaccine

BUNDLE_TYPES = {
    "transaction": "transaction-response",
    "batch": "batch-response",
    "collection": "transaction-response",
}
RESOURCE_MODELS: dict[str, type[Patient] | type[Immunization]] = {
    "Patient": Patient,
    "Immunization": Immunization,
}
MAX_ENTRIES = 5_000
# The deepest nesting of arrays and objects a posted body may have. A Bundle of Patients and Immunizations
# needs about 10 (Bundle.entry[].resource.extension[].extension[].valueCodeableConcept.coding[]); extensions
# nested in extensions take two more each.
MAX_JSON_DEPTH = 64
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundleResult:
    http_status: int
    body: dict[str, Any]


class BundleRefused(Refusal):
    """A Bundle refused whole: ``issues`` become its OperationOutcome, ``status`` its HTTP status."""

    code = "bundle_refused"

    def __init__(self, http_status: int, issues: list[Issue], *, unread: bool = False) -> None:
        super().__init__(
            " ".join(i.message_vi for i in issues), " ".join(i.message_en for i in issues), status=http_status
        )
        self.issues = issues
        self.unread = unread  # refused before it could be read as a Bundle


SERVER_ERROR = Issue(
    "SERVER_ERROR",
    "Lỗi máy chủ; yêu cầu có thể gửi lại.",
    "Server error; the request can be sent again.",
    fhir_code="exception",
)


def bundle_receive(*, token: ApiToken, body: bytes) -> BundleResult:
    """Keep the Bundle, check it, import it. Not one transaction on purpose: the kept body must outlive a
    refusal, which rolls back everything else. Whatever happens, the submission ends stored or refused."""
    submission = bundle_submission_record(token=token, body=body)
    try:
        return _bundle_import(token=token, submission=submission, body=body)
    except BundleRefused as refused:
        return bundle_submission_refuse(token=token, submission=submission, refused=refused)
    except Exception:
        logger.exception("FHIR bundle %s failed", submission.pk)
        return bundle_submission_refuse(
            token=token, submission=submission, refused=BundleRefused(500, [SERVER_ERROR])
        )


@transaction.atomic
def bundle_submission_refuse(
    *, token: ApiToken, submission: BundleSubmission | None, refused: BundleRefused
) -> BundleResult:
    """Record the refusal on the kept submission (when the body was taken at all) and, for a body that could
    not be read as a Bundle, in the audit history; the answer is its OperationOutcome."""
    outcome = operation_outcome(refused.issues)
    if submission is not None:
        submission.status = BundleSubmission.Status.REFUSED
        submission.http_status = refused.status
        submission.outcome = outcome
        submission.save(update_fields=["status", "http_status", "outcome"])
    if refused.unread:
        audit_event_record(
            action=AuditEvent.Action.FHIR_BUNDLE_REFUSED,
            actor_id=None,
            object_type="fhir_bundle",
            object_id=str(submission.pk) if submission is not None else "",
            detail={
                "token_id": token.pk,
                "token_prefix": token.prefix,
                "facility": token.facility.code,
                "http_status": refused.status,
                "codes": [issue.code for issue in refused.issues],
            },
        )
    return BundleResult(http_status=refused.status, body=outcome)


@transaction.atomic
def bundle_submission_record(*, token: ApiToken, body: bytes) -> BundleSubmission:
    digest = hashlib.sha256(body).hexdigest()
    submission = BundleSubmission.objects.create(
        token=token,
        facility_id=token.facility_id,
        received_at=clock.now(),
        body=body,
        body_sha256=digest,
    )
    audit_event_record(
        action=AuditEvent.Action.FHIR_BUNDLE_RECEIVED,
        actor_id=None,
        object_type="fhir_bundle",
        object_id=str(submission.pk),
        detail={
            "token_id": token.pk,
            "token_prefix": token.prefix,
            "facility": token.facility.code,
            "bytes": len(body),
            "sha256": digest,
        },
    )
    return submission


def _bundle_import(*, token: ApiToken, submission: BundleSubmission, body: bytes) -> BundleResult:
    data = _parsed(body)
    doses = BundleChecker(token=token, data=data).doses()
    # The file stands for what the facility sent and is read by the import, never handed out: values go as
    # they are (a phone "+84…" stays a phone), without formula escaping.
    content = table_bytes(TEMPLATE_HEADERS, [template_row(dose) for dose in doses], escape=False, bom=False)
    stored_path: str | None = None
    try:
        with transaction.atomic():
            batch = import_batch_create(
                file_name=f"fhir-bundle-{submission.pk}-{token.prefix}.csv",
                content=content,
                uploaded_by=None,
                facility_code=token.facility.code,
            )
            stored_path = batch.stored_path
            batch = import_batch_run(batch_id=batch.pk)
            _refuse_unless_all_stored(batch, doses)
            response = _transaction_response(data=data, doses=doses, batch=batch, token=token)
            submission.status = BundleSubmission.Status.STORED
            submission.batch = batch
            submission.http_status = 200
            submission.save(update_fields=["status", "batch", "http_status"])
    except BundleRefused:
        if stored_path:
            Path(stored_path).unlink(missing_ok=True)
        raise
    return BundleResult(http_status=200, body=response)


# Bytes that are not brackets, and braces written as brackets: what ``_nested_deeper_than`` keeps of a body.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


def _nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects deeper than ``limit`` (or leaves more open than that),
    found without parsing it and in C: strings are cut out (escaped backslashes and quotes first, then every
    other piece between quotes), the brackets alone are kept, and each pass removes the innermost pairs; a
    text ``limit`` deep is gone after ``limit`` passes, and one with a longer run of openers is too deep."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(_BRACES_AS_BRACKETS, _NOT_BRACKETS)
    for passes in range(limit + 1):
        if not brackets:
            return False
        if b"[" * (limit - passes + 1) in brackets:  # so many opened in a row: no need to go on
            return True
        inner_removed = brackets.replace(b"[]", b"")
        if len(inner_removed) == len(brackets):  # no pair left: what remains does not close (bad JSON)
            return passes + brackets.count(b"[") > limit
        brackets = inner_removed
    return True


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parsed(body: bytes) -> dict[str, Any]:
    if _nested_deeper_than(body, MAX_JSON_DEPTH):
        raise BundleRefused(
            400,
            [
                Issue(
                    "BUNDLE_TOO_DEEP",
                    f"Nội dung gửi lên lồng nhau sâu hơn {MAX_JSON_DEPTH} cấp (mảng và đối tượng JSON); một Bundle "
                    "bệnh nhân và mũi tiêm chỉ cần khoảng 10 cấp. Bundle không được đọc.",
                    f"The request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels; a Bundle of "
                    "Patients and Immunizations needs about 10. The Bundle was not read.",
                    fhir_code="too-costly",
                )
            ],
            unread=True,
        )
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleRefused(
            400,
            [
                Issue(
                    "BUNDLE_NOT_JSON",
                    f"Nội dung gửi lên không phải JSON UTF-8 đọc được ({exc}).",
                    f"The request body is not readable UTF-8 JSON ({exc}).",
                    fhir_code="structure",
                )
            ],
            unread=True,
        ) from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise BundleRefused(
            400,
            [
                Issue(
                    "BUNDLE_EXPECTED",
                    "Cần gửi một tài nguyên Bundle (resourceType “Bundle”).",
                    "A Bundle resource is expected (resourceType “Bundle”).",
                    expression="Bundle.resourceType",
                    fhir_code="structure",
                )
            ],
        )
    return data


def _schema_issues(error: pydantic.ValidationError, location: tuple[str | int, ...]) -> list[Issue]:
    issues = []
    for detail in error.errors():
        where = fhir_path("Bundle", [*location, *(p for p in detail["loc"] if isinstance(p, str | int))])
        message = detail["msg"]
        issues.append(
            Issue(
                "FHIR_INVALID",
                f"{where}: không đúng chuẩn FHIR R4B ({message}).",
                f"{where}: not valid FHIR R4B ({message}).",
                expression=where,
                fhir_code="required" if detail["type"].endswith("missing") else "structure",
            )
        )
    return issues


class BundleChecker:
    """Every check of a Bundle, collected rather than stopping at the first, so that one answer names all
    that must be fixed."""

    def __init__(self, *, token: ApiToken, data: dict[str, Any]) -> None:
        self.token = token
        self.data = data
        self.issues: list[Issue] = []
        self._issues_seen: set[Issue] = set()  # a Patient shared by many doses is named once
        self.patients: dict[int, dict[str, Any]] = {}  # entry index → Patient resource
        self.local_references: dict[str, int] = {}  # fullUrl or Patient/<id> → entry index

    def _issue(self, code: str, vi: str, en: str, where: str, fhir_code: str = "invalid") -> None:
        issue = Issue(code, vi, en, expression=where, fhir_code=fhir_code)
        if issue not in self._issues_seen:
            self._issues_seen.add(issue)
            self.issues.append(issue)

    def doses(self) -> list[DoseFields]:
        entries = self._entries()
        if self.issues:
            raise BundleRefused(400, self.issues)
        self.patients = {i: r for i, r in entries if r["resourceType"] == "Patient"}
        self.local_references = self._local_patient_keys()
        self._genders_check()
        doses: list[DoseFields] = []
        existing = self._existing_patients(entries)
        vaccines = _VaccineCodes()
        for index, resource in entries:
            if resource["resourceType"] != "Immunization":
                continue
            dose = self._dose(index, resource, existing, vaccines)
            if dose is not None:
                doses.append(dose)
        referenced = {
            self.local_references.get((r.get("patient") or {}).get("reference") or "")
            for _, r in entries
            if r["resourceType"] == "Immunization"
        }
        for index in sorted(set(self.patients) - referenced):
            self._issue(
                "PATIENT_WITHOUT_IMMUNIZATION",
                "Bệnh nhân này không có mũi tiêm nào trong Bundle: VaxReg ghi nhận người dân qua các mũi tiêm của họ.",
                "No Immunization in the Bundle refers to this Patient: VaxReg records persons through their doses.",
                f"Bundle.entry[{index}].resource",
                "business-rule",
            )
        self._duplicates(doses)
        if not doses and not self.issues:
            self._issue(
                "BUNDLE_EMPTY",
                "Bundle không có mũi tiêm nào.",
                "The Bundle holds no Immunization.",
                "Bundle.entry",
            )
        if self.issues:
            raise BundleRefused(422, self.issues)
        return doses

    # -- structure ---------------------------------------------------------------------------------------

    def _entries(self) -> list[tuple[int, dict[str, Any]]]:
        """(index, resource) of each entry, after the R4B models accepted the Bundle and each resource."""
        bundle_type = self.data.get("type")
        if bundle_type not in BUNDLE_TYPES:
            self._issue(
                "BUNDLE_TYPE",
                f"Loại Bundle “{bundle_type}” không được nhận: cần transaction, batch hoặc collection.",
                f"Bundle type “{bundle_type}” is not accepted: use transaction, batch or collection.",
                "Bundle.type",
                "not-supported",
            )
        raw_entries = self.data.get("entry") or []
        if not isinstance(raw_entries, list):
            self._issue(
                "FHIR_INVALID",
                "Bundle.entry phải là một danh sách.",
                "Bundle.entry must be a list.",
                "Bundle.entry",
            )
            return []
        if len(raw_entries) > MAX_ENTRIES:
            self._issue(
                "BUNDLE_TOO_LARGE",
                f"Bundle có {len(raw_entries)} mục, quá {MAX_ENTRIES}: hãy chia nhỏ.",
                f"The Bundle has {len(raw_entries)} entries, over {MAX_ENTRIES}: split it.",
                "Bundle.entry",
                "too-costly",
            )
            return []
        envelope = dict(self.data)
        envelope["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e for e in raw_entries
        ]
        try:
            Bundle.model_validate(envelope)
        except pydantic.ValidationError as error:
            self.issues += _schema_issues(error, ())
        except Exception as error:  # fhir.resources raises more than pydantic's errors for odd input
            self._issue("FHIR_INVALID", f"Bundle: {error}", f"Bundle: {error}", "Bundle", "structure")
        entries: list[tuple[int, dict[str, Any]]] = []
        for index, entry in enumerate(raw_entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            where = f"Bundle.entry[{index}].resource"
            if not isinstance(resource, dict):
                self._issue(
                    "RESOURCE_MISSING",
                    "Mục này không có tài nguyên.",
                    "This entry holds no resource.",
                    where,
                    "required",
                )
                continue
            kind = resource.get("resourceType")
            model = RESOURCE_MODELS.get(kind) if isinstance(kind, str) else None
            if model is None:
                self._issue(
                    "RESOURCE_NOT_SUPPORTED",
                    f"Loại tài nguyên “{kind}” không được nhận: chỉ Patient và Immunization.",
                    f"Resource type “{kind}” is not accepted: only Patient and Immunization.",
                    f"{where}.resourceType",
                    "not-supported",
                )
                continue
            request = entry.get("request")
            method = (request.get("method") if isinstance(request, dict) else None) or "POST"
            if method not in ("POST", "PUT"):
                self._issue(
                    "METHOD_NOT_SUPPORTED",
                    f"Thao tác {method} không được nhận: chỉ POST hoặc PUT; muốn sửa hay huỷ một mũi tiêm hãy dùng chức năng sửa thông tin.",
                    f"Method {method} is not accepted: only POST or PUT; to change or withdraw a dose use a correction.",
                    f"Bundle.entry[{index}].request.method",
                    "not-supported",
                )
            try:
                model.model_validate(resource)
            except pydantic.ValidationError as error:
                self.issues += _schema_issues(error, ("entry", index, "resource"))
                continue
            except Exception as error:  # fhir.resources raises more than pydantic's errors for odd input
                self._issue("FHIR_INVALID", f"{where}: {error}", f"{where}: {error}", where, "structure")
                continue
            entries.append((index, resource))
        return entries

    # -- patients ----------------------------------------------------------------------------------------

    def _existing_patients(self, entries: list[tuple[int, dict[str, Any]]]) -> dict[str, PatientFields]:
        """Persons already in VaxReg that Immunizations point at by ``Patient/<id>``, read in one query and
        only inside the token's jurisdiction."""
        wanted: set[int] = set()
        for _, resource in entries:
            if resource["resourceType"] == "Immunization":
                reference = (resource.get("patient") or {}).get("reference") or ""
                _, _, tail = reference.rpartition("Patient/")
                if reference not in self.local_references and tail.isdigit() and len(tail) < 18:
                    wanted.add(int(tail))
        if not wanted:
            return {}
        persons = token_jurisdiction(self.token).persons_visible(Person.objects.filter(pk__in=wanted))
        return {f"Patient/{p.pk}": patient_fields_of_person(p) for p in persons}

    def _local_patient_keys(self) -> dict[str, int]:
        keys: dict[str, int] = {}
        raw_entries = self.data.get("entry") or []
        for index, resource in self.patients.items():
            full_url = raw_entries[index].get("fullUrl")
            if full_url:
                keys[full_url] = index
            if resource.get("id"):
                keys.setdefault(f"Patient/{resource['id']}", index)
        return keys

    def _genders_check(self) -> None:
        for index, patient in self.patients.items():
            gender = patient.get("gender")
            if gender is not None and gender not in GENDER_IN:
                self._issue(
                    "GENDER_INVALID",
                    f"Giới tính “{gender}” không thuộc male, female, other, unknown.",
                    f"Gender “{gender}” is none of male, female, other, unknown.",
                    f"Bundle.entry[{index}].resource.gender",
                    "code-invalid",
                )

    def _patient(
        self, index: int, resource: dict[str, Any], existing: dict[str, PatientFields]
    ) -> tuple[PatientFields, int | None] | None:
        reference = (resource.get("patient") or {}).get("reference") or ""
        if reference in self.local_references:
            patient_index = self.local_references[reference]
            return patient_fields(self.patients[patient_index]), patient_index
        tail = reference.rpartition("Patient/")[2]
        if f"Patient/{tail}" in existing:
            return existing[f"Patient/{tail}"], None
        self._issue(
            "PATIENT_NOT_FOUND",
            f"Không tìm thấy bệnh nhân “{reference}” trong Bundle hay trong phạm vi của cơ sở.",
            f"The patient “{reference}” is neither in the Bundle nor among the facility's patients.",
            f"Bundle.entry[{index}].resource.patient.reference",
            "not-found",
        )
        return None

    # -- immunizations -----------------------------------------------------------------------------------

    def _dose(
        self,
        index: int,
        resource: dict[str, Any],
        existing: dict[str, PatientFields],
        vaccines: "_VaccineCodes",
    ) -> DoseFields | None:
        where = f"Bundle.entry[{index}].resource"
        count = len(self.issues)
        if resource.get("status") != "completed":
            self._issue(
                "STATUS_NOT_SUPPORTED",
                f"Trạng thái “{resource.get('status')}” không được nhận: chỉ “completed” (mũi đã tiêm).",
                f"Status “{resource.get('status')}” is not accepted: only “completed” (a dose given).",
                f"{where}.status",
                "not-supported",
            )
        source_record_id = self._source_record_id(where, resource)
        vaccination_date = self._occurrence(where, resource)
        vaccine = vaccines.resolve(resource.get("vaccineCode") or {})
        if vaccine is None:
            self._issue(
                "VACCINE_UNKNOWN",
                "Mã vắc xin không có trong danh mục (hệ mã VaxReg hoặc mã sản phẩm EU DCC).",
                "The vaccine code is not in the catalogue (VaxReg code system or EU DCC product code).",
                f"{where}.vaccineCode",
                "code-invalid",
            )
        self._facility_check(where, resource)
        patient = self._patient(index, resource, existing)
        if len(self.issues) > count or patient is None or vaccine is None:
            return None
        protocol = (resource.get("protocolApplied") or [{}])[0]
        dose_number = protocol.get("doseNumberPositiveInt", protocol.get("doseNumberString", ""))
        return DoseFields(
            entry_index=index,
            source_record_id=source_record_id,
            vaccination_date=vaccination_date,
            vaccine=vaccine,
            facility_code=self.token.facility.code,
            dose_number=str(dose_number),
            lot_number=(resource.get("lotNumber") or "").strip(),
            patient=patient[0],
            patient_entry_index=patient[1],
        )

    def _source_record_id(self, where: str, resource: dict[str, Any]) -> str:
        identifiers = [i for i in resource.get("identifier") or [] if (i.get("value") or "").strip()]
        if not identifiers:
            self._issue(
                "SOURCE_ID_MISSING",
                "Thiếu mã bản ghi của cơ sở (Immunization.identifier): cần để gửi lại không bị trùng.",
                "The facility's record id (Immunization.identifier) is missing: it keeps resends idempotent.",
                f"{where}.identifier",
                "required",
            )
            return ""
        ours = [n for n, i in enumerate(identifiers) if i.get("system") == SOURCE_RECORD_SYSTEM]
        position = ours[0] if ours else 0
        value = identifiers[position]["value"].strip()
        if len(value) > MAX_SOURCE_ID:
            self._issue(
                "SOURCE_ID_TOO_LONG",
                f"Mã bản ghi dài quá {MAX_SOURCE_ID} ký tự.",
                f"The record id is longer than {MAX_SOURCE_ID} characters.",
                f"{where}.identifier[{position}].value",
            )
        return value

    def _occurrence(self, where: str, resource: dict[str, Any]) -> str:
        value = resource.get("occurrenceDateTime")
        if not value:
            self._issue(
                "VACCINATION_DATE_MISSING",
                "Thiếu ngày tiêm (occurrenceDateTime).",
                "The vaccination date (occurrenceDateTime) is missing.",
                f"{where}.occurrenceDateTime",
                "required",
            )
            return ""
        text = str(value)
        if len(text) < 10:
            self._issue(
                "VACCINATION_DATE_INCOMPLETE",
                f"Ngày tiêm “{text}” thiếu ngày hoặc tháng: cần ngày đầy đủ.",
                f"The vaccination date “{text}” lacks the day or month: a full date is needed.",
                f"{where}.occurrenceDateTime",
            )
            return ""
        return text[:10]  # the day as the facility wrote it, in its own time zone

    def _facility_check(self, where: str, resource: dict[str, Any]) -> None:
        """The dose must be one the token's facility gave (a missing performer means the facility itself)."""
        own = self.token.facility.code.upper()
        places: list[tuple[str, dict[str, Any]]] = [
            (f"{where}.performer[{n}].actor", (p or {}).get("actor") or {})
            for n, p in enumerate(resource.get("performer") or [])
        ]
        places.append((f"{where}.location", resource.get("location") or {}))
        for path, reference in places:
            identifier = reference.get("identifier") or {}
            # A nurse's or a department's identifier says nothing about the facility: only the facility
            # system does, or an identifier without system on a reference typed Organization or Location.
            names_facility = identifier.get("system") == FACILITY_SYSTEM or (
                identifier.get("system") is None and reference.get("type") in ("Organization", "Location")
            )
            if not names_facility or not identifier.get("value"):
                continue
            code = str(identifier["value"]).strip()
            if code.upper() != own:
                self._issue(
                    "FACILITY_NOT_ALLOWED",
                    f"Mũi tiêm ghi cơ sở {code}; khoá này chỉ được gửi mũi tiêm của cơ sở {self.token.facility.code}.",
                    f"The dose names facility {code}; this token may only send doses given at {self.token.facility.code}.",
                    f"{path}.identifier.value",
                    "forbidden",
                )

    def _duplicates(self, doses: list[DoseFields]) -> None:
        seen: dict[str, DoseFields] = {}
        for dose in doses:
            first = seen.setdefault(dose.source_record_id, dose)
            if first is not dose and template_row(first) != template_row(dose):
                self._issue(
                    "DUPLICATE_SOURCE_ID_CONFLICT",
                    f"Mã bản ghi “{dose.source_record_id}” đã có ở mục {first.entry_index} với nội dung khác.",
                    f"Record id “{dose.source_record_id}” is already used by entry {first.entry_index} with other values.",
                    f"Bundle.entry[{dose.entry_index}].resource.identifier",
                    "duplicate",
                )


class _VaccineCodes:
    """Catalogue codes, EU DCC product codes and, last, the names people type (the import's aliases)."""

    def __init__(self) -> None:
        vaccines = list(Vaccine.objects.values_list("code", "eu_product"))
        self.codes = {code for code, _ in vaccines}
        self.eu_products = {eu: code for code, eu in vaccines if eu}
        self.aliases = vaccine_alias_map()

    def resolve(self, concept: dict[str, Any]) -> str | None:
        codings = [c for c in concept.get("coding") or [] if c.get("code")]
        for coding in codings:
            system, code = coding.get("system"), str(coding["code"]).strip()
            if system == VACCINE_SYSTEM:
                return code if code in self.codes else None
            if system in (EU_PRODUCT_SYSTEM, EU_TEMP_PRODUCT_SYSTEM) and code in self.eu_products:
                return self.eu_products[code]
        if codings and any(
            c.get("system") in (VACCINE_SYSTEM, EU_PRODUCT_SYSTEM, EU_TEMP_PRODUCT_SYSTEM) for c in codings
        ):
            return None
        for text in [
            concept.get("text"),
            *(c.get("display") for c in codings),
            *(c.get("code") for c in codings),
        ]:
            found = vaccine_resolve(str(text), alias_map=self.aliases) if text else None
            if found:
                return found
        return None


def _refuse_unless_all_stored(batch: ImportBatch, doses: list[DoseFields]) -> None:
    if batch.status == ImportBatch.Status.DONE and not batch.rows_rejected:
        return
    issues: list[Issue] = []
    if batch.status != ImportBatch.Status.DONE:
        issues.append(Issue("IMPORT_REFUSED", batch.message, batch.message, fhir_code="processing"))
    for row in RejectedRow.objects.filter(batch=batch).order_by("row_number"):
        dose = doses[row.row_number - 2]  # row 1 is the header
        for reason in row.reasons:
            issues.append(
                Issue(
                    reason["code"],
                    reason["message_vi"],
                    reason["message_en"],
                    expression=f"Bundle.entry[{dose.entry_index}].resource",
                    fhir_code="conflict" if reason["code"] == "DOSE_SIGNED_OFF" else "business-rule",
                )
            )
    # Leaving the atomic block with this exception rolls the whole import back.
    raise BundleRefused(409 if all(i.fhir_code == "conflict" for i in issues) else 422, issues)


def _transaction_response(
    *, data: dict[str, Any], doses: list[DoseFields], batch: ImportBatch, token: ApiToken
) -> dict[str, Any]:
    stored = {
        d.source_record_id: d
        for d in Dose.objects.filter(
            facility_id=token.facility_id, source_record_id__in=[dose.source_record_id for dose in doses]
        ).select_related("person")
    }
    person_of_entry: dict[int, Person] = {}
    dose_of_entry: dict[int, Dose] = {}
    for dose in doses:
        stored_dose = stored[dose.source_record_id]
        dose_of_entry[dose.entry_index] = stored_dose
        if dose.patient_entry_index is not None:
            person_of_entry[dose.patient_entry_index] = stored_dose.person
    entries = []
    for index in range(len(data.get("entry") or [])):
        record: Person | Dose = person_of_entry[index] if index in person_of_entry else dose_of_entry[index]
        kind = "Patient" if isinstance(record, Person) else "Immunization"
        created = record.created_batch_id == batch.pk
        entries.append(
            {
                "response": {
                    "status": "201 Created" if created else "200 OK",
                    "location": f"{kind}/{record.pk}/_history/{record.version}",
                    "etag": f'W/"{record.version}"',
                    "lastModified": record.updated_at.isoformat(),
                }
            }
        )
    return {
        "resourceType": "Bundle",
        "type": BUNDLE_TYPES[data["type"]],
        "entry": entries,
    }
