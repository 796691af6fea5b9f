"""The public verify page: paste or photograph a certificate, see who it names or which check failed."""

import datetime as dt
import io
import sys
import types
from typing import Any

import pytest
import segno
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from vaxreg.certificates import verify_views
from vaxreg.certificates.dcc import dgc_vaccination_payload, uvci_new, uvci_sha256_hex
from vaxreg.certificates.hcert import hcert_encode
from vaxreg.certificates.keys import KeyFiles, keys_generate, signing_key
from vaxreg.core.ratelimit import RateLimit

pytestmark = pytest.mark.django_db
URL = "/certificates/verify/"


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return keys_generate(tmp_path_factory.mktemp("dcc-keys"))


@pytest.fixture(autouse=True)
def configured_keys(key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in key_files.environment().items():
        monkeypatch.setattr(settings, name, value)
    monkeypatch.setattr(settings, "VAXREG_DCC_TRUST_DIR", "")


def _certificate(
    *, uvci: str | None = None, expires_in: dt.timedelta = dt.timedelta(days=365), alg: str = "PS256"
) -> str:
    now = dt.datetime.now(dt.UTC)
    payload = dgc_vaccination_payload(
        family_name="Phạm",
        given_name="Thu Hà",
        birth_date_iso="1971-09-23",
        doses=[{"date": "2021-11-20", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "vp": "J07BX03", "dose_number": 2, "total_doses": 2}],
        uvci=uvci or uvci_new(),
    )  # fmt: skip
    return hcert_encode(
        payload=payload,
        key=signing_key(alg),
        issued_at=now - dt.timedelta(days=1),
        expires_at=now + expires_in,
    )


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make_qr(text, error="q").save(out, kind="png", scale=4, border=4)
    return out.getvalue()


def _text(response: Any) -> str:
    return response.content.decode()


def test_the_page_is_public_and_carries_a_csrf_token(client: Client) -> None:
    response = client.get(reverse("certificates:verify"))

    assert response.status_code == 200 and reverse("certificates:verify") == URL
    assert "csrfmiddlewaretoken" in _text(response)
    assert "Kiểm tra chứng nhận tiêm chủng" in _text(
        response
    ) and "Verify a vaccination certificate" in _text(response)


def test_a_post_without_the_csrf_token_is_refused() -> None:
    response = Client(enforce_csrf_checks=True).post(URL, {"text": _certificate()})

    assert response.status_code == 403


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_a_valid_pasted_certificate_shows_the_holder_and_the_dose(client: Client, alg: str) -> None:
    response = client.post(URL, {"text": "  " + _certificate(alg=alg) + "\n"})

    page = _text(response)
    assert response.status_code == 200
    assert "✓ Hợp lệ" in page and "Valid" in page
    assert "Phạm Thu Hà" in page and "1971-09-23" in page
    assert "2/2 · 2021-11-20 · Comirnaty" in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_photo_of_the_qr_code_is_read_and_verified(client: Client) -> None:
    upload = SimpleUploadedFile("qr.png", _qr_png(_certificate()), content_type="image/png")

    response = client.post(URL, {"image": upload})

    assert response.status_code == 200
    assert "✓ Hợp lệ" in _text(response) and "Phạm Thu Hà" in _text(response)


def test_an_expired_certificate_names_the_failed_check_and_not_the_person(client: Client) -> None:
    response = client.post(URL, {"text": _certificate(expires_in=-dt.timedelta(days=1))})

    page = _text(response)
    assert "✗ Không hợp lệ" in page
    assert "Chứng nhận đã hết hạn" in page and "The certificate has expired" in page
    assert 'class="failed" data-step="EXPIRATION"' in page
    assert 'class="not-run" data-step="SCHEMA"' in page
    assert "Phạm Thu Hà" not in page


def test_each_check_is_named_in_both_languages_whatever_the_page_language(client: Client) -> None:
    for language in ("vi", "en"):
        client.post(reverse("set_language"), {"language": language, "next": "/"})
        page = _text(client.post(URL, {"text": _certificate(expires_in=-dt.timedelta(days=1))}))

        assert "Chữ ký số / Digital signature" in page
        assert "Thời hạn / Validity period" in page
        assert "Nội dung theo lược đồ DCC / Content against the DCC schema" in page


def test_a_certificate_from_an_unknown_signer_is_shown_as_possibly_forged(
    client: Client, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _certificate()
    for name, value in keys_generate(tmp_path).environment().items():
        monkeypatch.setattr(settings, name, value)

    page = _text(client.post(URL, {"text": text}))

    assert 'class="failed" data-step="VERIFY"' in page and "giả mạo" in page and "forged" in page
    assert "Phạm Thu Hà" not in page


def test_text_that_is_not_a_certificate_fails_at_the_prefix(client: Client) -> None:
    page = _text(client.post(URL, {"text": "https://example.org/abc"}))

    assert 'class="failed" data-step="UNPREFIX"' in page and "HC1:" in page


def test_a_revoked_certificate_is_refused(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    uvci = uvci_new()
    revocation = types.ModuleType("vaxreg.certificates.revocation")
    revocation.is_revoked = lambda uvci_hash: uvci_hash == uvci_sha256_hex(uvci)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vaxreg.certificates.revocation", revocation)

    revoked = _text(client.post(URL, {"text": _certificate(uvci=uvci)}))
    other = _text(client.post(URL, {"text": _certificate()}))

    assert 'class="failed" data-step="REVOKED"' in revoked and "đã bị thu hồi" in revoked
    assert "✓ Hợp lệ" in other


def test_an_empty_form_asks_for_the_text_or_a_picture(client: Client) -> None:
    response = client.post(URL, {"text": ""})

    assert response.status_code == 400
    assert "Dán mã chứng nhận" in _text(response) and "Paste the certificate text" in _text(response)


def test_a_file_that_is_not_a_picture_is_refused(client: Client) -> None:
    upload = SimpleUploadedFile("qr.png", b"%PDF-1.4 not a picture", content_type="image/png")

    response = client.post(URL, {"image": upload})

    assert response.status_code == 400 and "The picture cannot be opened" in _text(response)


def test_a_picture_without_a_qr_code_says_so(client: Client) -> None:
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, format="PNG")

    response = client.post(URL, {"image": SimpleUploadedFile("blank.png", blank.getvalue())})

    assert response.status_code == 400 and "No QR code found in the picture" in _text(response)


def test_a_too_large_upload_is_refused_before_it_is_read(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_views, "MAX_IMAGE_BYTES", 1000)

    response = client.post(URL, {"image": SimpleUploadedFile("qr.png", _qr_png(_certificate()))})

    assert response.status_code == 400 and "The picture is too large" in _text(response)


def test_verifications_are_rate_limited_per_address(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        verify_views, "VERIFY_PER_ADDRESS", RateLimit("certificate-verify-test", 2, dt.timedelta(minutes=10))
    )
    text = _certificate()

    statuses = [client.post(URL, {"text": text}, REMOTE_ADDR="203.0.113.9").status_code for _ in range(3)]
    elsewhere = client.post(URL, {"text": text}, REMOTE_ADDR="198.51.100.7")

    assert statuses == [200, 200, 429]
    assert elsewhere.status_code == 200
    last = client.post(URL, {"text": text}, REMOTE_ADDR="203.0.113.9")
    assert int(last["Retry-After"]) > 0 and "Too many certificates" in _text(last)
