"""`vaxreg certs keygen` and `vaxreg certs verify`."""

import datetime as dt
import io
import stat
import sys
import types
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from vaxreg.certificates.dcc import dgc_vaccination_payload, uvci_new, uvci_sha256_hex
from vaxreg.certificates.hcert import hcert_encode
from vaxreg.certificates.keys import KeyFiles, keys_generate, signing_key

ISSUED = dt.datetime(2022, 2, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for alg in ("PS256", "ES256"):
        for what in ("KEY", "CERT"):
            monkeypatch.setattr(settings, f"VAXREG_DCC_{alg}_{what}", "")
            monkeypatch.setattr(settings, f"VAXREG_DCC_{alg}_{what}_PEM", "")
    monkeypatch.setattr(settings, "VAXREG_DCC_TRUST_DIR", "")
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return keys_generate(tmp_path_factory.mktemp("dcc-keys"))


def _certificate(key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch, *, uvci: str | None = None) -> str:
    for name, value in key_files.environment().items():
        monkeypatch.setattr(settings, name, value)
    payload = dgc_vaccination_payload(
        family_name="Đỗ",
        given_name="Quang Vinh",
        birth_date_iso="1949",
        doses=[{"date": "2021-08-30", "mp": "BBIBP-CorV", "ma": "ORG-100020693", "vp": "J07BX03", "dose_number": 2, "total_doses": 2}],
        uvci=uvci or uvci_new(),
    )  # fmt: skip
    return hcert_encode(
        payload=payload,
        key=signing_key("ES256"),
        issued_at=ISSUED,
        expires_at=ISSUED + dt.timedelta(days=365),
    )


def _verify(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("certs_verify", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_keygen_writes_the_keys_and_prints_how_to_configure_them(tmp_path: Path) -> None:
    out = io.StringIO()

    call_command("certs_keygen", "--out", str(tmp_path / "keys"), stdout=out)

    names = sorted(p.name for p in (tmp_path / "keys").iterdir())
    assert names == ["es256-cert.pem", "es256-key.pem", "ps256-cert.pem", "ps256-key.pem"]
    assert stat.S_IMODE((tmp_path / "keys" / "ps256-key.pem").stat().st_mode) == 0o600
    assert f"export VAXREG_DCC_PS256_KEY={tmp_path / 'keys' / 'ps256-key.pem'}" in out.getvalue()


def test_keygen_does_not_replace_keys_unless_told(tmp_path: Path) -> None:
    call_command("certs_keygen", stdout=io.StringIO())
    first = (tmp_path / "var" / "dcc-keys" / "ps256-cert.pem").read_bytes()

    with pytest.raises(CommandError, match="--force"):
        call_command("certs_keygen", stdout=io.StringIO())
    call_command("certs_keygen", "--force", stdout=io.StringIO())

    assert (tmp_path / "var" / "dcc-keys" / "ps256-cert.pem").read_bytes() != first


def test_verify_prints_each_step_and_the_holder(key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _certificate(key_files, monkeypatch)

    code, out = _verify(text, "--now", "2022-03-01T00:00:00Z", "--no-revocation")

    assert code == 0
    assert "✓ UNPREFIX" in out and "✓ VERIFY" in out and "✓ SCHEMA" in out
    assert "HỢP LỆ / VALID" in out
    assert "Đỗ Quang Vinh" in out and "Ngày sinh / Date of birth: 1949" in out
    assert "Mũi / Dose 2/2: 2021-08-30 BBIBP-CorV" in out


def test_verify_exits_1_and_marks_the_failed_step(
    key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _certificate(key_files, monkeypatch)

    code, out = _verify(text, "--now", "2023-03-01", "--no-revocation")

    assert code == 1
    assert "✗ EXPIRATION" in out and "KHÔNG HỢP LỆ / INVALID" in out
    assert "SCHEMA" not in out and "Đỗ Quang Vinh" not in out


def test_verify_trusts_a_certificate_given_with_cert(
    key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _certificate(key_files, monkeypatch)
    for name in key_files.environment():
        monkeypatch.setattr(settings, name, "")

    assert _verify(text, "--now", "2022-03-01", "--no-revocation")[0] == 1
    assert (
        _verify(text, "--now", "2022-03-01", "--no-revocation", "--cert", str(key_files.es256_cert))[0] == 0
    )


def test_verify_reads_the_text_from_standard_input(
    key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(_certificate(key_files, monkeypatch) + "\n"))

    assert _verify("-", "--now", "2022-03-01", "--no-revocation")[0] == 0


def test_verify_consults_the_revocation_list(key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    uvci = uvci_new()
    revocation = types.ModuleType("vaxreg.certificates.revocation")
    revocation.is_revoked = lambda uvci_hash: uvci_hash == uvci_sha256_hex(uvci)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vaxreg.certificates.revocation", revocation)

    code, out = _verify(_certificate(key_files, monkeypatch, uvci=uvci), "--now", "2022-03-01")

    assert code == 1 and "✗ REVOKED" in out


def test_verify_refuses_an_unreadable_clock() -> None:
    with pytest.raises(CommandError, match="--now"):
        _verify("HC1:ABC", "--now", "yesterday")
