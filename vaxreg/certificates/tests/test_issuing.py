"""Issuing certificates: who gets one, what it says, and that it verifies against the published trust list."""

import base64
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from django.conf import settings
from django.test import Client
from django.urls import reverse

from vaxreg.accounts.models import User
from vaxreg.certificates.issuing import CertificateRefused, certificate_get_or_issue, certificate_issue
from vaxreg.certificates.keys import KeyFiles, keys_generate
from vaxreg.certificates.models import Certificate, RevocationReason
from vaxreg.certificates.revocation import is_revoked
from vaxreg.certificates.tests.qr_codes import read_qr_codes
from vaxreg.certificates.verifying import hcert_verify
from vaxreg.core import clock
from vaxreg.core.messaging import memory_outbox
from vaxreg.core.models import AuditEvent
from vaxreg.core.testing import World, world
from vaxreg.people.models import IdType, Person, VerificationState
from vaxreg.quality.services import quality_check_persons
from vaxreg.vaccinations.models import Dose, Vaccine
from vaxreg.vaccinations.services import day_sign_off
from vaxreg.verification.models import CaseState, VerificationCase
from vaxreg.verification.services import case_escalate, case_police_result, cases_sync

__all__ = ["world"]

KEY_VARIABLES = (
    "VAXREG_DCC_ALG",
    "VAXREG_DCC_TRUST_DIR",
    "VAXREG_DCC_PS256_KEY_PEM",
    "VAXREG_DCC_ES256_KEY_PEM",
)


@pytest.fixture(scope="session")
def dcc_key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return keys_generate(tmp_path_factory.mktemp("dcc-keys"))


@pytest.fixture
def dcc_keys(dcc_key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyFiles]:
    """Freshly generated Document Signers, configured through the settings of the VAXREG_DCC_* variables, as in production."""
    for name in KEY_VARIABLES:
        monkeypatch.setattr(settings, name, "")
    for name, value in dcc_key_files.environment().items():
        monkeypatch.setattr(settings, name, value)
    yield dcc_key_files


def vaccine_with_eu_codes(w: World) -> None:
    """The world's AstraZeneca as the catalogue has it, with its EU value-set codes."""
    Vaccine.objects.filter(pk=w.vaccine.pk).update(
        eu_product="EU/1/21/1529", eu_manufacturer="ORG-100001699", eu_prophylaxis="J07BX03"
    )


def sign_off_doses(w: World, person: Person) -> None:
    """The facilities' heads sign off every day on which the person got a dose."""
    by_facility = {u.facility_id: u for u in w.users.values() if u.facility_id}
    for dose in Dose.objects.filter(person=person).select_related("facility"):
        actor = by_facility.get(dose.facility_id) or User.objects.create(
            username=f"head-{dose.facility.code}", role="facility", facility=dose.facility
        )
        day_sign_off(actor=actor, facility_id=dose.facility_id, day=dose.vaccination_date)


def qualified(w: World, key: str = "dao_hn") -> Person:
    vaccine_with_eu_codes(w)
    person = w.persons[key]
    sign_off_doses(w, person)
    return person


def trust_from_published(client: Client) -> dict[bytes, x509.Certificate]:
    published = client.get(reverse("certificates:trust_list_json")).json()
    return {
        base64.b64decode(kid): x509.load_der_x509_certificate(base64.b64decode(entry["certificate"]))
        for kid, entry in published["keys"].items()
    }


def test_a_verified_person_with_signed_off_doses_gets_a_certificate_that_verifies(
    world: World, dcc_keys: KeyFiles
) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)

    assert certificate.uvci.startswith("URN:UVCI:01:VN:") and len(certificate.uvci.split(":")[-1]) == 32
    assert certificate.hcert.startswith("HC1:") and certificate.alg == "PS256"
    result = hcert_verify(
        certificate.hcert, now=clock.now(), trust=trust_from_published(Client()), is_revoked=is_revoked
    )
    assert result.valid, result
    assert certificate.payload["nam"] == {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Đào", "gnt": "THI<DAO"}
    assert certificate.payload["dob"] == "1990-01-15"
    entry = certificate.payload["v"][0]
    assert (entry["dn"], entry["sd"], entry["mp"], entry["dt"]) == (2, 2, "EU/1/21/1529", "2021-09-30")
    assert entry["ci"] == certificate.uvci
    assert certificate.expires_at - certificate.issued_at == dt.timedelta(days=365)
    assert sorted(certificate.dose_ids) == sorted(
        Dose.objects.filter(person=dao).values_list("pk", flat=True)
    )
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CERTIFICATE_ISSUED, object_id=str(certificate.pk)
    ).exists()


def test_es256_is_supported(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk, alg="ES256")
    assert certificate.alg == "ES256"
    assert hcert_verify(certificate.hcert, now=clock.now(), trust=trust_from_published(Client())).valid


def test_doses_not_signed_off_are_named_in_the_refusal(world: World, dcc_keys: KeyFiles) -> None:
    vaccine_with_eu_codes(world)
    dao = world.persons["dao_hn"]
    with pytest.raises(CertificateRefused) as refused:
        certificate_issue(person_id=dao.pk)
    assert {m.code for m in refused.value.missing} == {"dose_not_signed_off"}
    assert "01/08/2021 tại Bệnh viện Bạch Mai chưa được cơ sở tiêm ký duyệt" in refused.value.message_vi
    assert "not yet signed off" in refused.value.message_en
    assert not Certificate.objects.exists()


def test_an_unknown_vaccine_is_refused(world: World, dcc_keys: KeyFiles) -> None:
    dao = world.persons["dao_hn"]
    sign_off_doses(world, dao)
    with pytest.raises(CertificateRefused) as refused:
        certificate_issue(person_id=dao.pk)
    assert "chưa rõ loại vắc xin" in refused.value.message_vi


def test_an_open_blocking_finding_or_case_refuses(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    Person.objects.filter(pk=dao.pk).update(gender="M")  # her CCCD says female
    quality_check_persons(person_ids=[dao.pk])
    with pytest.raises(CertificateRefused) as refused:
        certificate_issue(person_id=dao.pk)
    assert [m.code for m in refused.value.missing] == ["blocking_findings"]
    assert "ID_GENDER_MISMATCH" in refused.value.message_en

    cases_sync(person_ids=[dao.pk])
    with pytest.raises(CertificateRefused) as refused:
        certificate_issue(person_id=dao.pk)
    assert [m.code for m in refused.value.missing] == ["verification_in_progress"]


def test_a_passport_needs_the_police_verified_identity(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    Person.objects.filter(pk=dao.pk).update(id_type=IdType.PASSPORT, id_number="C1234567")
    with pytest.raises(CertificateRefused) as refused:
        certificate_issue(person_id=dao.pk)
    assert [m.code for m in refused.value.missing] == ["identity_not_verified"]

    # Her birth date is lost: a case opens, the station sends it to the police, who verify her identity.
    Person.objects.filter(pk=dao.pk).update(birth_year=None, birth_month=None, birth_day=None)
    quality_check_persons(person_ids=[dao.pk])
    cases_sync(person_ids=[dao.pk])
    case = VerificationCase.objects.get(person=dao)
    case_escalate(actor=world.users["commune_badinh"], case_id=case.pk, reason="Cần đối chiếu CSDL dân cư")
    case_police_result(
        actor=world.users["police_badinh"],
        case_id=case.pk,
        result="MATCH",
        verified={"birth_year": 1990, "birth_month": 1, "birth_day": 15, "id_number": "C1234567"},
    )
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert certificate_issue(person_id=dao.pk).payload["dob"] == "1990-01-15"


def test_unverifiable_identity_is_refused(world: World, dcc_keys: KeyFiles) -> None:
    dao = qualified(world)
    Person.objects.filter(pk=dao.pk).update(verification_state=VerificationState.UNVERIFIABLE)
    with pytest.raises(CertificateRefused) as refused:
        certificate_issue(person_id=dao.pk)
    assert [m.code for m in refused.value.missing] == ["identity_unverifiable"]


def test_asking_again_gives_the_same_certificate_and_issuing_anew_supersedes(
    world: World, dcc_keys: KeyFiles
) -> None:
    dao = qualified(world)
    first = certificate_get_or_issue(person_id=dao.pk)
    assert certificate_get_or_issue(person_id=dao.pk) == first
    second = certificate_issue(person_id=dao.pk)
    first.refresh_from_db()
    assert first.revoked_reason == RevocationReason.SUPERSEDED and first.replaced_by == second
    assert Certificate.objects.filter(person=dao, revoked_at__isnull=True).get() == second


# -- the citizen's page and the downloads -------------------------------------------------------------------


def citizen_client(person: Person) -> Client:
    """A browser that has just looked the person up with the code sent to their phone."""
    client = Client()
    memory_outbox.clear()
    client.post(reverse("citizens:start"), {"id_number": person.id_number, "phone": person.phone})
    [sms] = memory_outbox
    code = re.search(r"\b(\d{6})\b", sms.text)
    assert code is not None
    response = client.post(reverse("citizens:code"), {"code": code.group(1)})
    assert response["Location"] == reverse("citizens:record")
    return client


def test_the_citizen_gets_their_certificate_and_downloads_it(world: World, dcc_keys: KeyFiles) -> None:
    from PIL import Image

    dao = qualified(world)
    client = citizen_client(dao)
    page = client.get(reverse("certificates:mine")).content.decode()
    assert "Nhận chứng nhận của tôi" in page
    assert client.post(reverse("certificates:mine"))["Location"] == reverse("certificates:mine")
    certificate = Certificate.objects.get(person=dao)
    page = client.get(reverse("certificates:mine")).content.decode()
    assert certificate.uvci in page and "Tải bản PDF" in page

    png = client.get(reverse("certificates:qr", args=[certificate.uvci]))
    assert png["Content-Type"] == "image/png" and "no-store" in png["Cache-Control"]
    import io

    found = read_qr_codes(Image.open(io.BytesIO(png.content)))
    assert [f.text for f in found] == [certificate.hcert]
    assert found[0].ec_level == "Q"

    pdf = client.get(reverse("certificates:pdf", args=[certificate.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf["Content-Disposition"]


def test_downloads_go_only_to_the_person_or_staff_of_their_jurisdiction(
    world: World, dcc_keys: KeyFiles
) -> None:
    dao = qualified(world)
    certificate = certificate_issue(person_id=dao.pk)
    url = reverse("certificates:qr", args=[certificate.uvci])
    assert Client().get(url).status_code == 404
    assert citizen_client(world.persons["binh_hn"]).get(url).status_code == 404
    assert Client().get(reverse("certificates:qr", args=["URN:UVCI:01:VN:" + "0" * 32])).status_code == 404
    for user, status in (
        ("commune_badinh", 200),
        ("province_hn", 200),
        ("commune_hoankiem", 404),
        ("province_hcm", 404),
    ):
        staff = Client()
        staff.force_login(world.users[user])
        assert staff.get(url).status_code == status, user


def test_the_certificate_page_says_what_is_missing(world: World, dcc_keys: KeyFiles) -> None:
    dao = world.persons["dao_hn"]
    vaccine_with_eu_codes(world)
    client = citizen_client(dao)
    page = client.get(reverse("certificates:mine")).content.decode()
    assert "chưa được cơ sở tiêm ký duyệt" in page and "Nhận chứng nhận" not in page
    response = client.post(reverse("certificates:mine"))
    assert response.status_code == 400 and "Chưa cấp được chứng nhận" in response.content.decode()
    assert not Certificate.objects.exists()


def test_without_a_lookup_the_page_sends_the_citizen_to_the_lookup(world: World) -> None:
    memory_outbox.clear()
    response = Client().get(reverse("certificates:mine"))
    assert response.status_code == 302 and response["Location"] == reverse("citizens:start")


def test_no_configured_key_is_said_plainly(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("VAXREG_DCC_PS256_KEY", "VAXREG_DCC_PS256_CERT", *KEY_VARIABLES):
        monkeypatch.setattr(settings, name, "")
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path)
    dao = qualified(world)
    response = citizen_client(dao).post(reverse("certificates:mine"))
    assert response.status_code == 400 and "thử lại sau" in response.content.decode()
