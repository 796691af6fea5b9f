"""Encoding a vaccination certificate and verifying it: each broken step is named, a valid one shows who."""

import datetime as dt
import hashlib
import io
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
import segno
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from vaxreg.certificates.dcc import (
    dgc_schema_errors,
    dgc_vaccination_payload,
    dgc_value_set_errors,
    icao_transliterate,
    uvci_new,
    uvci_sha256_hex,
)
from vaxreg.certificates.hcert import (
    DecodeStep,
    HcertDecodeError,
    base45_decode,
    base45_encode,
    hcert_decode,
    hcert_encode,
)
from vaxreg.certificates.keys import KeyFiles, SigningKey, keys_generate, signing_key, trust_list
from vaxreg.certificates.tests.qr_codes import read_qr_codes
from vaxreg.certificates.verifying import Step, hcert_verify

ISSUED = dt.datetime(2021, 12, 20, 3, 0, tzinfo=dt.UTC)
EXPIRES = ISSUED + dt.timedelta(days=365)
NOW = ISSUED + dt.timedelta(days=30)
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
DOSES = [
    {"date": "2021-09-06", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "vp": "J07BX03", "dose_number": 1, "total_doses": 2},
    {"date": "2021-10-04", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "vp": "J07BX03", "dose_number": 2, "total_doses": 2},
    {"date": "2022-01-15", "mp": "EU/1/20/1507", "ma": "ORG-100031184", "vp": "J07BX03", "dose_number": 3, "total_doses": 3},
]  # fmt: skip


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return keys_generate(tmp_path_factory.mktemp("dcc-keys"))


@pytest.fixture(params=["PS256", "ES256"])
def key(request: pytest.FixtureRequest, key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch) -> SigningKey:
    for name, value in key_files.environment().items():
        monkeypatch.setattr(settings, name, value)
    return signing_key(request.param)


def _payload(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "family_name": "Nguyễn",
        "given_name": "Thị Đào",
        "birth_date_iso": "1962-07-14",
        "doses": DOSES[:2],
        "uvci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF",
    }
    return dgc_vaccination_payload(**{**arguments, **changes})


def _encode(key: SigningKey, payload: dict[str, Any] | None = None, **times: dt.datetime) -> str:
    return hcert_encode(
        payload=payload or _payload(),
        key=key,
        issued_at=times.get("issued_at", ISSUED),
        expires_at=times.get("expires_at", EXPIRES),
    )


def _trust(key: SigningKey) -> dict[bytes, Any]:
    return trust_list([key.certificate])


def _rewrap(text: str, change: Any) -> str:
    """The certificate with its COSE message changed by ``change`` (a function of the COSE array)."""
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    changed = cbor2.dumps(cbor2.CBORTag(18, change(list(cose.value))))
    return "HC1:" + base45.b45encode(zlib.compress(changed)).decode()


# -- the payload --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "icao"),
    [
        ("Nguyễn Thị Đào", "NGUYEN<THI<DAO"),
        ("Bảo Duy", "BAO<DUY"),
        ("đặng", "DANG"),
        ("Trương-Vũ  Ánh", "TRUONG<VU<ANH"),
        ("Musterfrau-Gößinger", "MUSTERFRAU<GOESSINGER"),
        ("d'Červenková Panklová", "DCERVENKOVA<PANKLOVA"),
        ("Ông 2", "ONG"),
    ],
)
def test_names_are_transliterated_as_icao_9303_says(name: str, icao: str) -> None:
    assert icao_transliterate(name) == icao


def test_the_payload_states_the_latest_dose_with_its_place_in_the_series() -> None:
    payload = _payload(doses=DOSES)

    assert payload["ver"] == "1.3.0"
    assert payload["nam"] == {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Đào", "gnt": "THI<DAO"}
    [entry] = payload["v"]
    assert (entry["dn"], entry["sd"], entry["dt"], entry["mp"]) == (3, 3, "2022-01-15", "EU/1/20/1507")
    assert (entry["tg"], entry["co"], entry["is"]) == ("840539006", "VN", "Bộ Y tế Việt Nam")
    assert dgc_schema_errors(payload) == [] and dgc_value_set_errors(payload) == []


@pytest.mark.parametrize("birth_date", ["1940", "1951-03", "2010-12-31"])
def test_partial_birth_dates_are_valid(birth_date: str) -> None:
    assert dgc_schema_errors(_payload(birth_date_iso=birth_date)) == []


def test_schema_errors_name_the_field() -> None:
    payload = _payload()
    payload["v"][0]["dn"] = 0
    payload["dob"] = "12/03/1960"
    del payload["nam"]["fnt"]

    errors = dgc_schema_errors(payload)

    assert any(e.startswith("/v/0/dn:") for e in errors)
    assert any(e.startswith("/dob:") for e in errors)
    assert "/nam/fnt: required" in errors


def test_codes_outside_the_value_sets_are_reported() -> None:
    payload = _payload(doses=[{**DOSES[0], "ma": "Julphar"}])

    assert dgc_value_set_errors(payload) == ["/v/0/ma: 'Julphar' is not in the value set vaccine-mah-manf"]


def test_a_uvci_is_unique_and_in_the_vietnamese_format() -> None:
    first, second = uvci_new(), uvci_new()

    assert first != second
    assert first.startswith("URN:UVCI:01:VN:") and len(first) == len("URN:UVCI:01:VN:") + 32
    assert first[15:] == first[15:].upper() and int(first[15:], 16) >= 0
    assert uvci_sha256_hex(first) == hashlib.sha256(first.encode()).hexdigest()


def test_a_payload_needs_a_dose() -> None:
    with pytest.raises(ValueError, match="ít nhất một mũi"):
        _payload(doses=[])


# -- encoding -----------------------------------------------------------------------------------------


@given(st.binary(max_size=600))
def test_base45_agrees_with_the_reference_package(data: bytes) -> None:
    text = base45_encode(data)

    assert text == base45.b45encode(data).decode()
    assert base45_decode(text) == data


@pytest.mark.parametrize("text", ["GGW", "A", "ABCD", "abc", "ÀBC", ":::"])
def test_base45_refuses_what_rfc_9285_forbids(text: str) -> None:
    with pytest.raises(ValueError):
        base45_decode(text)


def test_the_text_fits_a_qr_code_in_alphanumeric_mode_with_error_correction_q(key: SigningKey) -> None:
    text = _encode(key, _payload(doses=DOSES))
    assert text.startswith("HC1:") and set(text) <= QR_ALPHANUMERIC

    qr = segno.make_qr(text, error="q", boost_error=False)
    image = io.BytesIO()
    qr.save(image, kind="png", scale=4)
    from PIL import Image

    [read] = read_qr_codes(Image.open(io.BytesIO(image.getvalue())))

    assert qr.mode == "alphanumeric" and qr.error == "Q"
    assert read.text == text


def test_the_decoding_steps_give_back_the_claims(key: SigningKey) -> None:
    cose, claims = hcert_decode(_encode(key))

    assert cose.kid == key.kid and cose.alg == key.cose_alg
    assert cose.protected == {1: key.cose_alg, 4: key.kid} and cose.unprotected == {}
    assert (claims.issuer, claims.issued_at, claims.expires_at) == ("VN", ISSUED, EXPIRES)
    assert claims.payload == _payload()


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("HC2:NCFOXN%TS3DH", DecodeStep.UNPREFIX),
        ("NCFOXN%TS3DH", DecodeStep.UNPREFIX),
        ("HC1:NCFOXN%TS3DH!", DecodeStep.B45DECODE),
        ("HC1:" + base45.b45encode(b"\x78\x9cnot zlib").decode(), DecodeStep.COMPRESSION),
        ("HC1:" + base45.b45encode(zlib.compress(b"\0" * 100_000)).decode(), DecodeStep.COMPRESSION),
        ("HC1:" + base45.b45encode(zlib.compress(b"\x84" * 500)[:-6]).decode(), DecodeStep.COMPRESSION),
        ("HC1:" + base45.b45encode(zlib.compress(cbor2.dumps({"a": 1}))).decode(), DecodeStep.DECODE),
        ("HC1:" + base45.b45encode(zlib.compress(b"\xff\x00")).decode(), DecodeStep.DECODE),
    ],
)
def test_each_decoding_failure_names_its_step(text: str, step: DecodeStep) -> None:
    with pytest.raises(HcertDecodeError) as failed:
        hcert_decode(text)

    assert failed.value.step == step


# -- verifying ----------------------------------------------------------------------------------------


def test_a_valid_certificate_shows_the_holder_and_the_dose(key: SigningKey) -> None:
    result = hcert_verify(_encode(key), now=NOW, trust=_trust(key))

    assert result.valid and result.failed_step is None
    assert [s.step for s in result.steps] == list(Step) and all(s.ok for s in result.steps)
    assert result.message == "Chứng nhận hợp lệ. / The certificate is valid."
    assert result.holder is not None
    assert (result.holder.full_name, result.holder.birth_date) == ("Nguyễn Thị Đào", "1962-07-14")
    [dose] = result.vaccinations
    assert (dose.dose_number, dose.total_doses, dose.date, dose.product_name) == (
        2,
        2,
        "2021-10-04",
        "Comirnaty",
    )
    assert result.alg == key.alg and result.kid == key.kid


def _failed(result: Any) -> tuple[Step | None, bool]:
    return result.failed_step, result.holder is None


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("", Step.UNPREFIX),
        ("https://example.org/not-a-certificate", Step.UNPREFIX),
        ("HC1:abc", Step.B45DECODE),
        ("HC1:" + base45.b45encode(b"\x78\x9c\x00\x00").decode(), Step.COMPRESSION),
        ("HC1:" + base45.b45encode(zlib.compress(b"\x82\x01\x02")).decode(), Step.DECODE),
    ],
)
def test_a_broken_text_fails_at_the_step_that_broke(text: str, step: Step, key: SigningKey) -> None:
    result = hcert_verify(text, now=NOW, trust=_trust(key))

    assert _failed(result) == (step, True)
    assert (result.steps[-1].step, result.steps[-1].ok) == (step, False)
    assert all(passed.ok for passed in result.steps[:-1])
    assert " / " in result.message


def test_an_unknown_signer_fails_verification(key: SigningKey, tmp_path: Path) -> None:
    other = keys_generate(tmp_path)
    from cryptography import x509

    stranger = x509.load_pem_x509_certificate(other.es256_cert.read_bytes())

    result = hcert_verify(_encode(key), now=NOW, trust=trust_list([stranger]))

    assert _failed(result) == (Step.VERIFY, True)
    assert "unknown kid" in result.detail_of(Step.VERIFY)
    assert "giả mạo" in result.message_vi


def test_a_changed_name_breaks_the_signature(key: SigningKey) -> None:
    forged = _rewrap(_encode(key), lambda c: [c[0], c[1], c[2].replace("Đào".encode(), "Đạo".encode()), c[3]])

    result = hcert_verify(forged, now=NOW, trust=_trust(key))

    assert _failed(result) == (Step.VERIFY, True)
    assert "signature" in result.detail_of(Step.VERIFY)


def test_a_kid_moved_to_the_unprotected_header_is_still_found(key: SigningKey) -> None:
    # Another country's certificate may carry its kid unprotected; the signature must still hold.
    text = _rewrap(_encode(key), lambda c: [c[0], {4: key.kid}, c[2], c[3]])

    assert hcert_verify(text, now=NOW, trust=_trust(key)).valid


def test_an_expired_or_future_certificate_fails_the_validity_check(key: SigningKey) -> None:
    text = _encode(key)

    assert _failed(hcert_verify(text, now=EXPIRES + dt.timedelta(seconds=1), trust=_trust(key))) == (
        Step.EXPIRATION,
        True,
    )
    assert hcert_verify(text, now=EXPIRES, trust=_trust(key)).valid  # valid up to and including exp
    assert _failed(hcert_verify(text, now=ISSUED - dt.timedelta(hours=1), trust=_trust(key))) == (
        Step.EXPIRATION,
        True,
    )


def test_a_signed_payload_outside_the_schema_fails_the_schema_check(key: SigningKey) -> None:
    payload = _payload()
    payload["v"][0]["dt"] = "04/10/2021"

    result = hcert_verify(_encode(key, payload), now=NOW, trust=_trust(key))

    assert _failed(result) == (Step.SCHEMA, True)
    assert "/v/0/dt" in result.detail_of(Step.SCHEMA)


def test_a_revoked_certificate_is_refused_by_the_hash_of_its_uvci(key: SigningKey) -> None:
    uvci = uvci_new()
    asked: list[str] = []

    def is_revoked(uvci_hash: str) -> bool:
        asked.append(uvci_hash)
        return uvci_hash == hashlib.sha256(uvci.encode()).hexdigest()

    revoked = hcert_verify(
        _encode(key, _payload(uvci=uvci)), now=NOW, trust=_trust(key), is_revoked=is_revoked
    )
    other = hcert_verify(_encode(key), now=NOW, trust=_trust(key), is_revoked=is_revoked)

    assert _failed(revoked) == (Step.REVOKED, True) and "thu hồi" in revoked.message_vi
    assert other.valid
    assert asked == [uvci_sha256_hex(uvci), uvci_sha256_hex(_payload()["v"][0]["ci"])]
