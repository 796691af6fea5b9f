"""Facility API tokens: the secret is shown once, only its hash is kept, revoking locks the system out."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from vaxreg.core.models import AuditEvent
from vaxreg.fhir.models import ApiToken
from vaxreg.fhir.tokens import ApiTokenError, api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def test_create_keeps_only_the_hash_and_audits(world):
    token, secret = api_token_create(
        facility_code="HN001", name="Phần mềm tiêm chủng", actor_id=world.users["admin"].pk
    )

    stored = ApiToken.objects.get()
    assert stored.facility.code == "HN001" and stored.created_by == world.users["admin"]
    assert secret.startswith(f"vxr_{stored.prefix}_") and len(secret) > 40
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(list(ApiToken.objects.values()))
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_CREATED)
    assert event.actor == world.users["admin"] and event.object_id == str(token.pk)
    assert event.detail["facility"] == "HN001" and secret not in str(event.detail)


def test_unknown_facility_is_refused(world):
    with pytest.raises(ApiTokenError) as refused:
        api_token_create(facility_code="XX999", name="x", actor_id=None)
    assert "XX999" in refused.value.message_vi and refused.value.message_en
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer vxr_00000000_nothing", "Basic abc", "Bearer not-a-token"],
)
def test_requests_without_a_valid_token_get_401_operation_outcome(world, header):
    headers = {"Authorization": header} if header else {}
    response = Client().get("/fhir/Patient", {"identifier": "001190012345"}, headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.FULL_ID_READ).exists()


def test_a_secret_with_a_known_prefix_but_wrong_rest_is_refused(world):
    _, secret = api_token_create(facility_code="HN001", name="A", actor_id=None)
    forged = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    response = Client().get("/fhir/Patient/1", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_revoked_token_gets_401_and_revoking_is_audited(world):
    token, secret = api_token_create(facility_code="HN001", name="A", actor_id=None)
    person = world.persons["dao_hn"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert Client().get(f"/fhir/Patient/{person.pk}", headers=headers).status_code == 200
    assert ApiToken.objects.get().last_used_at is not None

    api_token_revoke(token_id=token.pk, actor_id=world.users["admin"].pk)

    response = Client().get(f"/fhir/Patient/{person.pk}", headers=headers)
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_REVOKED)
    assert event.actor == world.users["admin"] and event.object_id == str(token.pk)
    with pytest.raises(ApiTokenError):
        api_token_revoke(token_id=token.pk, actor_id=None)


def test_command_creates_lists_and_revokes(world):
    out = io.StringIO()
    call_command(
        "fhir_token",
        "create",
        "--facility",
        "HN001",
        "--name",
        "Phần mềm tiêm chủng",
        "--user",
        "admin",
        stdout=out,
    )
    secret = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert secret.startswith(f"vxr_{token.prefix}_") and token.created_by == world.users["admin"]

    listing = io.StringIO()
    call_command("fhir_token", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and "Phần mềm tiêm chủng" in listing.getvalue()
    assert secret not in listing.getvalue() and "active" in listing.getvalue()

    call_command("fhir_token", "revoke", token.prefix, stdout=io.StringIO())
    token.refresh_from_db()
    assert token.revoked_at is not None
    listing = io.StringIO()
    call_command("fhir_token", "list", "--facility", "HN001", stdout=listing)
    assert "revoked" in listing.getvalue()

    with pytest.raises(CommandError):
        call_command("fhir_token", "create", "--facility", "NOPE", "--name", "x", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("fhir_token", "revoke", "nope", stdout=io.StringIO())
