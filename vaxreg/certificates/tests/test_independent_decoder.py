"""A certificate made by VaxReg decodes and verifies with a decoder written here from the specifications
(DCC technical specification vol. 1, RFC 8152 COSE, RFC 8392 CWT, RFC 9285 base45), which uses only
zlib, base45, cbor2 and cryptography. The product is imported only to make the keys and the certificate.
"""

import datetime as dt
import hashlib
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.conf import settings

from vaxreg.certificates.dcc import dgc_vaccination_payload, uvci_new
from vaxreg.certificates.hcert import hcert_encode
from vaxreg.certificates.keys import KeyFiles, keys_generate, signing_key

ISSUED = dt.datetime(2021, 12, 15, 8, 30, tzinfo=dt.UTC)
EXPIRES = ISSUED + dt.timedelta(days=365)


def decode_and_verify(text: str, signer_pem: bytes) -> dict[str, Any]:
    """Decode an "HC1:" text and check its signature against the signer's PEM certificate; the claims."""
    assert text.startswith("HC1:")
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    assert isinstance(cose, cbor2.CBORTag) and cose.tag == 18  # COSE_Sign1
    protected_bytes, unprotected, payload, signature = cose.value
    protected = cbor2.loads(protected_bytes)
    certificate = x509.load_pem_x509_certificate(signer_pem)
    # kid: the first 8 bytes of the SHA-256 of the DER certificate.
    assert protected[4] == hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]
    sig_structure = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    public_key = certificate.public_key()
    if protected[1] == -37:  # PS256: RSASSA-PSS, SHA-256, MGF1 SHA-256, salt 32 bytes
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(
            signature,
            sig_structure,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    elif protected[1] == -7:  # ES256: the signature is r || s, 32 bytes each
        assert isinstance(public_key, ec.EllipticCurvePublicKey) and len(signature) == 64
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public_key.verify(der, sig_structure, ec.ECDSA(hashes.SHA256()))
    else:
        raise AssertionError(f"unexpected alg {protected[1]}")
    claims: dict[str, Any] = cbor2.loads(payload)
    return claims


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return keys_generate(tmp_path_factory.mktemp("dcc-keys"))


@pytest.fixture
def key_dir(key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder of the signing keys, configured through the settings of the VAXREG_DCC_* variables, as in production."""
    for name, value in key_files.environment().items():
        monkeypatch.setattr(settings, name, value)
    return key_files.ps256_key.parent


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_a_vaxreg_certificate_decodes_and_verifies_independently(alg: str, key_dir: Path) -> None:
    uvci = uvci_new()
    payload = dgc_vaccination_payload(
        family_name="Nguyễn",
        given_name="Thị Đào",
        birth_date_iso="1958-03-02",
        doses=[
            {"date": "2021-08-02", "mp": "EU/1/21/1529", "ma": "ORG-100001699", "vp": "J07BX03", "dose_number": 1, "total_doses": 2},
            {"date": "2021-10-25", "mp": "EU/1/21/1529", "ma": "ORG-100001699", "vp": "J07BX03", "dose_number": 2, "total_doses": 2},
        ],
        uvci=uvci,
    )  # fmt: skip
    text = hcert_encode(payload=payload, key=signing_key(alg), issued_at=ISSUED, expires_at=EXPIRES)

    claims = decode_and_verify(text, (key_dir / f"{alg.lower()}-cert.pem").read_bytes())

    assert claims[1] == "VN"
    assert claims[6] == int(ISSUED.timestamp()) and claims[4] == int(EXPIRES.timestamp())
    dcc = claims[-260][1]
    assert dcc["ver"] == "1.3.0" and dcc["dob"] == "1958-03-02"
    assert dcc["nam"] == {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Đào", "gnt": "THI<DAO"}
    assert dcc["v"] == [
        {"tg": "840539006", "vp": "J07BX03", "mp": "EU/1/21/1529", "ma": "ORG-100001699", "dn": 2, "sd": 2,
         "dt": "2021-10-25", "co": "VN", "is": "Bộ Y tế Việt Nam", "ci": uvci}
    ]  # fmt: skip


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_a_changed_byte_breaks_the_independent_signature_check(alg: str, key_dir: Path) -> None:
    payload = dgc_vaccination_payload(
        family_name="Trần",
        given_name="Văn An",
        birth_date_iso="1990",
        doses=[{"date": "2021-09-01", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "vp": "J07BX03", "dose_number": 1, "total_doses": 2}],
        uvci=uvci_new(),
    )  # fmt: skip
    text = hcert_encode(payload=payload, key=signing_key(alg), issued_at=ISSUED, expires_at=EXPIRES)
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    forged_payload = cose.value[2].replace("Văn An".encode(), "Văn Ăn".encode())
    forged = cbor2.dumps(cbor2.CBORTag(18, [cose.value[0], cose.value[1], forged_payload, cose.value[3]]))
    forged_text = "HC1:" + base45.b45encode(zlib.compress(forged)).decode()

    with pytest.raises(InvalidSignature):
        decode_and_verify(forged_text, (key_dir / f"{alg.lower()}-cert.pem").read_bytes())
