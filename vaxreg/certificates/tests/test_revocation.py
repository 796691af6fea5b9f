"""A correction makes a certificate stale: the old one is revoked and listed, a new one is issued."""

import base64

from django.test import Client
from django.urls import reverse

from vaxreg.certificates.dcc import uvci_sha256_hex
from vaxreg.certificates.issuing import certificate_issue
from vaxreg.certificates.keys import KeyFiles, signing_key
from vaxreg.certificates.models import Certificate, RevocationReason
from vaxreg.certificates.revocation import is_revoked
from vaxreg.certificates.tests.test_issuing import dcc_key_files, dcc_keys, qualified, trust_from_published
from vaxreg.certificates.verifying import Step, hcert_verify
from vaxreg.core import clock
from vaxreg.core.models import AuditEvent
from vaxreg.corrections.services import dose_correct, person_correct
from vaxreg.people.models import Person
from vaxreg.testing.world import World, world

__all__ = ["dcc_key_files", "dcc_keys", "world"]


def _correct_name(person_id: int, name: str) -> None:
    person = Person.objects.get(pk=person_id)
    person_correct(
        person_id=person.pk,
        expected_version=person.version,
        changes={"full_name": name},
        reason="Sửa tên theo CCCD",
        actor_id=None,
    )


def test_a_correction_revokes_the_old_certificate_and_issues_a_new_one(
    world: World, dcc_keys: KeyFiles
) -> None:
    dao = qualified(world)
    old = certificate_issue(person_id=dao.pk, alg="ES256")
    _correct_name(dao.pk, "Nguyễn Thị Hồng Đào")

    old.refresh_from_db()
    new = Certificate.objects.get(person=dao, revoked_at__isnull=True)
    assert old.revoked_reason == RevocationReason.CORRECTED and old.replaced_by == new
    assert new.alg == "ES256" and new.payload["nam"]["gn"] == "Thị Hồng Đào"
    assert is_revoked(old.uvci_sha256) and not is_revoked(new.uvci_sha256)

    client = Client()
    published = client.get(reverse("certificates:revocations_json"))
    assert "max-age=60" in published["Cache-Control"] and "public" in published["Cache-Control"]
    assert uvci_sha256_hex(old.uvci) in published.json()["revoked"]
    assert uvci_sha256_hex(new.uvci) not in published.json()["revoked"]
    assert published.json()["generated_at"]

    trust = trust_from_published(client)
    stale = hcert_verify(old.hcert, now=clock.now(), trust=trust, is_revoked=is_revoked)
    assert not stale.valid and stale.steps[-1].step == Step.REVOKED
    assert hcert_verify(new.hcert, now=clock.now(), trust=trust, is_revoked=is_revoked).valid
    actions = set(AuditEvent.objects.values_list("action", "object_id"))
    assert (AuditEvent.Action.CERTIFICATE_REVOKED, str(old.pk)) in actions
    assert (AuditEvent.Action.CERTIFICATE_ISSUED, str(new.pk)) in actions


def test_a_correction_that_changes_nothing_printed_keeps_the_certificate(
    world: World, dcc_keys: KeyFiles
) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    dao.refresh_from_db()
    person_correct(
        person_id=dao.pk,
        expected_version=dao.version,
        changes={"phone": "0912345699"},
        reason="Số điện thoại mới",
        actor_id=None,
    )
    certificate.refresh_from_db()
    assert certificate.revoked_at is None and Certificate.objects.filter(person=dao).count() == 1


def test_a_correction_that_disqualifies_revokes_without_a_new_one(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    dao.refresh_from_db()
    person_correct(
        person_id=dao.pk,
        expected_version=dao.version,
        changes={"gender": "M"},
        reason="Nhầm giới tính",
        actor_id=None,
    )
    certificate.refresh_from_db()
    assert certificate.revoked_reason == RevocationReason.CORRECTED and certificate.replaced_by is None
    assert not Certificate.objects.filter(person=dao, revoked_at__isnull=True).exists()


def test_a_dose_correction_reissues_when_the_certificate_changes(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    old = certificate_issue(person_id=dao.pk)
    latest = dao.doses.order_by("-vaccination_date").first()
    dose_correct(
        dose_id=latest.pk,
        expected_version=latest.version,
        changes={"lot_number": "AZ-2"},
        reason="Sửa số lô",
        actor_id=None,
    )
    old.refresh_from_db()
    assert old.revoked_at is None  # the lot is not on the certificate
    dose_correct(
        dose_id=latest.pk,
        expected_version=latest.version + 1,
        changes={"dose_number": 3},
        reason="Mũi nhắc",
        actor_id=None,
    )
    old.refresh_from_db()
    assert old.revoked_reason == RevocationReason.CORRECTED
    assert old.replaced_by.payload["v"][0]["dn"] == 3


def test_the_trust_list_publishes_every_configured_key(world: World, dcc_keys: KeyFiles) -> None:
    published = Client().get(reverse("certificates:trust_list_json"))
    assert "max-age=60" in published["Cache-Control"]
    keys = published.json()["keys"]
    for alg in ("PS256", "ES256"):
        key = signing_key(alg)
        entry = keys[base64.b64encode(key.kid).decode()]
        assert entry["alg"] == alg
        assert base64.b64decode(entry["certificate"])[:1] == b"\x30"  # DER
