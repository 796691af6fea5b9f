"""The Document Signer keys: generated files, configuration from the environment, the trust list."""

import datetime as dt
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from vaxreg.certificates.dcc import dgc_vaccination_payload, uvci_new
from vaxreg.certificates.hcert import hcert_encode
from vaxreg.certificates.keys import (
    EKU_VACCINATION,
    KeyFiles,
    KeyNotConfigured,
    keys_generate,
    signing_key,
    trusted_certificates,
)
from vaxreg.certificates.verifying import Step, hcert_verify

NOW = dt.datetime(2022, 1, 10, 9, 0, tzinfo=dt.UTC)
_KEY_VARIABLES = [
    f"VAXREG_DCC_{alg}_{what}{suffix}"
    for alg in ("PS256", "ES256")
    for what in ("KEY", "CERT")
    for suffix in ("", "_PEM")
]


@pytest.fixture(autouse=True)
def no_configured_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [*_KEY_VARIABLES, "VAXREG_DCC_ALG", "VAXREG_DCC_TRUST_DIR"]:
        monkeypatch.setattr(settings, name, "")
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")


def _configure(monkeypatch: pytest.MonkeyPatch, files: KeyFiles) -> None:
    for name, value in files.environment().items():
        monkeypatch.setattr(settings, name, value)


def _certificate_text(alg: str) -> str:
    payload = dgc_vaccination_payload(
        family_name="Lê",
        given_name="Minh",
        birth_date_iso="1985-05",
        doses=[{"date": "2021-10-01", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "vp": "J07BX03", "dose_number": 2, "total_doses": 2}],
        uvci=uvci_new(),
    )  # fmt: skip
    return hcert_encode(
        payload=payload, key=signing_key(alg), issued_at=NOW, expires_at=NOW + dt.timedelta(days=365)
    )


def test_generated_keys_are_private_and_restricted_to_vaccination_certificates(tmp_path: Path) -> None:
    files = keys_generate(tmp_path / "keys")

    for key in (files.ps256_key, files.es256_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for cert_path in (files.ps256_cert, files.es256_cert):
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [EKU_VACCINATION]
        assert certificate.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "VN"


def test_keys_are_read_from_the_files_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = keys_generate(tmp_path)
    _configure(monkeypatch, files)

    ps256, es256 = signing_key("PS256"), signing_key("ES256")

    assert (ps256.alg, es256.alg) == ("PS256", "ES256")
    der = x509.load_pem_x509_certificate(files.ps256_cert.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert ps256.kid == hashlib.sha256(der).digest()[:8]
    assert signing_key().alg == "PS256"  # the default
    monkeypatch.setattr(settings, "VAXREG_DCC_ALG", "ES256")
    assert signing_key().alg == "ES256"


def test_keys_can_be_given_as_pem_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = keys_generate(tmp_path)
    monkeypatch.setattr(settings, "VAXREG_DCC_ES256_KEY_PEM", files.es256_key.read_text())
    monkeypatch.setattr(settings, "VAXREG_DCC_ES256_CERT_PEM", files.es256_cert.read_text())

    assert signing_key("ES256").alg == "ES256"


def test_the_private_key_is_not_shown_in_logs_or_tracebacks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _configure(monkeypatch, keys_generate(tmp_path))

    shown = repr(signing_key("PS256"))

    assert "private_key" not in shown and "BEGIN" not in shown


def test_a_missing_key_is_refused_with_what_to_set() -> None:
    with pytest.raises(KeyNotConfigured) as refused:
        signing_key("PS256")

    assert "VAXREG_DCC_PS256_KEY" in str(refused.value) and "Chưa cấu hình" in str(refused.value)


def test_a_certificate_that_does_not_match_its_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = keys_generate(tmp_path / "a"), keys_generate(tmp_path / "b")
    monkeypatch.setattr(settings, "VAXREG_DCC_PS256_KEY", str(first.ps256_key))
    monkeypatch.setattr(settings, "VAXREG_DCC_PS256_CERT", str(second.ps256_cert))

    with pytest.raises(KeyNotConfigured, match="không khớp"):
        signing_key("PS256")


def test_keys_generated_into_the_var_folder_are_used_without_configuration(tmp_path: Path) -> None:
    keys_generate(tmp_path / "var" / "dcc-keys")

    assert signing_key("ES256").alg == "ES256"
    assert len(trusted_certificates()) == 2


def test_certificates_signed_before_a_key_rotation_keep_verifying(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = keys_generate(tmp_path / "old")
    _configure(monkeypatch, old)
    issued_before = _certificate_text("PS256")
    new = keys_generate(tmp_path / "new")
    _configure(monkeypatch, new)

    assert hcert_verify(issued_before, now=NOW).failed_step == Step.VERIFY  # the old key is no longer trusted
    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    (trust_dir / "2021-ps256.pem").write_bytes(old.ps256_cert.read_bytes())
    monkeypatch.setattr(settings, "VAXREG_DCC_TRUST_DIR", str(trust_dir))

    assert hcert_verify(issued_before, now=NOW).valid
    assert hcert_verify(_certificate_text("PS256"), now=NOW).valid
