"""Bodies that cost too much or cannot be read are refused with an OperationOutcome (400, 413 or 415), never
a server error, and a kept submission never stays "received"."""

import json
from typing import Any

import pytest

from vaxreg.core.models import AuditEvent
from vaxreg.fhir.intake import MAX_JSON_DEPTH
from vaxreg.fhir.models import BundleSubmission
from vaxreg.fhir.tests.test_bundle import bundle, counts, immunization, patient, refused, two_doses

pytestmark = pytest.mark.django_db


def _codes(issues: list[dict[str, Any]]) -> list[str]:
    return [issue["details"]["coding"][0]["code"] for issue in issues]


def _refusal_audited(submission: BundleSubmission | None, code: str, status: int) -> None:
    event = AuditEvent.objects.get(action=AuditEvent.Action.FHIR_BUNDLE_REFUSED)
    assert event.object_type == "fhir_bundle" and event.object_id == (
        str(submission.pk) if submission else ""
    )
    assert event.detail["codes"] == [code] and event.detail["http_status"] == status
    assert event.detail["facility"] == "HN001"


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType": "Bundle", "type": "batch", "entry": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"resourceType": "Bundle", "type": "batch", "entry": ' + b"[" * 50_000,  # never closed
        b'{"resourceType": "Bundle", "type": "batch", "entry": [{"resource": ' + b'{"a": ' * 50_000,
    ],
    ids=["arrays", "unclosed", "objects"],
)
def test_a_bundle_nested_50000_levels_deep_is_refused_before_it_is_read(world, fhir, body):
    before = counts()
    issues = refused(fhir("POST", "/fhir/Bundle", body=body), 400)
    assert _codes(issues) == ["BUNDLE_TOO_DEEP"]
    assert f"deeper than {MAX_JSON_DEPTH} levels" in issues[0]["diagnostics"]
    assert f"sâu hơn {MAX_JSON_DEPTH} cấp" in issues[0]["details"]["text"]
    submission = BundleSubmission.objects.get()
    assert (submission.status, submission.http_status) == ("refused", 400)
    assert bytes(submission.body) == body and submission.outcome["issue"] == issues
    _refusal_audited(submission, "BUNDLE_TOO_DEEP", 400)
    assert counts() == before


def test_a_bundle_as_deep_as_allowed_is_read(world, fhir):
    """Extensions nested in extensions up to the limit: read, checked and stored like any other Bundle."""
    extension: dict[str, Any] = {"url": "https://example.org/fhir/ext/note", "valueString": "x"}
    document = bundle(patient(extension=[extension]), immunization("BM-1"))
    depth = 9  # Bundle.entry[].resource.extension[] holding the innermost extension object
    while depth + 2 <= MAX_JSON_DEPTH:
        extension = {"url": "https://example.org/fhir/ext/group", "extension": [extension]}
        depth += 2
    document["entry"][0]["resource"]["extension"] = [extension]
    response = fhir("POST", "/fhir/Bundle", body=document)
    assert response.status_code == 200, response.content
    assert BundleSubmission.objects.get().status == "stored"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"resourceType": "Bundle", "type": "batch", "total": ' + b"9" * 5_000 + b"}", "BUNDLE_NOT_JSON"),
        (b'{"resourceType": "Bundle", "type": "batch", "total": NaN}', "BUNDLE_NOT_JSON"),
        (b'{"resourceType": "Bundle", "type": "batch", "total": -Infinity}', "BUNDLE_NOT_JSON"),
        (b'{"resourceType": "Bundle", "type": "batch", "entry": [\xff\xfe]}', "BUNDLE_NOT_JSON"),
        (json.dumps(two_doses()).encode("utf-16"), "BUNDLE_NOT_JSON"),
    ],
    ids=["5000-digit number", "NaN", "Infinity", "invalid UTF-8", "UTF-16"],
)
def test_a_body_that_is_not_json_is_refused_and_audited(world, fhir, body, code):
    issues = refused(fhir("POST", "/fhir/Bundle", body=body), 400)
    assert _codes(issues) == [code]
    submission = BundleSubmission.objects.get()
    assert submission.status == "refused"
    _refusal_audited(submission, code, 400)


@pytest.mark.parametrize(
    "document",
    [
        bundle(patient(), immunization("BM-1", protocolApplied=[{"doseNumberPositiveInt": 1e308}])),
        bundle(patient(), immunization("BM-1", protocolApplied=[{"doseNumberPositiveInt": 10**4000}])),
        bundle(patient(), immunization("BM-1", lotNumber="L" * 5_000_000)),
        bundle(patient(name=[{"text": "N" * 3_000_000}]), immunization("BM-1")),
    ],
    ids=["huge float", "4000-digit integer", "5 MB lot number", "3 MB name"],
)
def test_huge_numbers_and_strings_are_refused_with_an_outcome(world, fhir, document):
    response = fhir("POST", "/fhir/Bundle", body=document)
    assert response.status_code in (400, 422), response.content[:300]
    refused(response, response.status_code)
    assert BundleSubmission.objects.get().status == "refused"


def test_another_content_type_and_a_body_too_large_are_refused_and_audited(world, fhir):
    response = fhir("POST", "/fhir/Bundle", body="a=b", content_type="application/x-www-form-urlencoded")
    assert _codes(refused(response, 415)) == ["MEDIA_TYPE"]
    _refusal_audited(None, "MEDIA_TYPE", 415)
    AuditEvent.objects.filter(action=AuditEvent.Action.FHIR_BUNDLE_REFUSED).delete()
    body = b'{"resourceType": "Bundle", "type": "batch", "id": "' + b"x" * (20 << 20) + b'"}'
    assert _codes(refused(fhir("POST", "/fhir/Bundle", body=body), 413)) == ["BUNDLE_TOO_LARGE"]
    _refusal_audited(None, "BUNDLE_TOO_LARGE", 413)
    assert not BundleSubmission.objects.exists()  # neither body was taken


def test_a_failure_past_the_checks_leaves_the_submission_refused_not_received(
    world, fhir, settings, tmp_path
):
    """The import cannot store its file (the folder is a file): the answer is a 500 OperationOutcome, and the
    submission says it was not stored, so that the facility sends it again."""
    settings.MEDIA_ROOT = tmp_path / "not-a-folder"
    settings.MEDIA_ROOT.write_text("")
    before = counts()
    issues = refused(fhir("POST", "/fhir/Bundle", body=two_doses()), 500)
    assert _codes(issues) == ["SERVER_ERROR"]
    submission = BundleSubmission.objects.get()
    assert (submission.status, submission.http_status) == ("refused", 500)
    assert counts() == before
