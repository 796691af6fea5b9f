"""The Document Signer keys of the certificates (SPEC §8): loading, the trust list, generating new ones.

A key is configured by files (or PEM text) named in the environment (config/env.py, read into the settings of
the same names), never stored in the repository::

    VAXREG_DCC_PS256_KEY / VAXREG_DCC_PS256_CERT     paths of the PEM private key and certificate
    VAXREG_DCC_ES256_KEY / VAXREG_DCC_ES256_CERT     the same for ES256
    VAXREG_DCC_PS256_KEY_PEM, ... (suffix _PEM)      the PEM text itself instead of a path
    VAXREG_DCC_ALG                                   the algorithm that signs new certificates (PS256)
    VAXREG_DCC_TRUST_DIR                             more PEM certificates that still verify (old keys)

When nothing is set, the files that ``vaxreg certs keygen`` writes by default in
``$VAXREG_VAR_DIR/dcc-keys/`` are used, so that a demo works without configuration.

The private key stays inside the server process: nothing here (and no view) serialises it except
``keys_generate``, which writes a new one to a file of mode 0600.
"""

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

Algorithm = Literal["PS256", "ES256"]
ALGORITHMS: tuple[Algorithm, ...] = ("PS256", "ES256")
# COSE algorithm identifiers (RFC 8152 / RFC 8230).
COSE_ALGORITHM_IDS: dict[Algorithm, int] = {"PS256": -37, "ES256": -7}

# Extended key usage OIDs of the DCC specification: a signer restricted to some of these may only sign
# certificates of those kinds; a signer with none of them may sign every kind.
EKU_TEST = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.1")
EKU_VACCINATION = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.2")
EKU_RECOVERY = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.3")
# Some member states' test data still carry the earlier draft OIDs of the same three kinds.
EKU_LEGACY = {
    x509.ObjectIdentifier("1.3.6.1.4.1.0.1847.2021.1.1"): EKU_TEST,
    x509.ObjectIdentifier("1.3.6.1.4.1.0.1847.2021.1.2"): EKU_VACCINATION,
    x509.ObjectIdentifier("1.3.6.1.4.1.0.1847.2021.1.3"): EKU_RECOVERY,
}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyNotConfigured(Exception):
    """No signing key is configured for the algorithm asked for (the message says which variables)."""


@dataclass(frozen=True)
class SigningKey:
    """A Document Signer: its algorithm, its kid, its private key and its certificate.

    Attributes:
        alg: "PS256" (RSASSA-PSS with SHA-256) or "ES256" (ECDSA P-256 with SHA-256).
        kid: the key identifier in every certificate it signs: the first 8 bytes of the SHA-256 of the
            signing certificate in DER.
        private_key: the private key; never leaves the process (left out of ``repr``).
        certificate: the X.509 certificate published in the trust list.
    """

    alg: Algorithm
    kid: bytes
    private_key: PrivateKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)

    @property
    def cose_alg(self) -> int:
        """The COSE algorithm identifier (-37 for PS256, -7 for ES256)."""
        return COSE_ALGORITHM_IDS[self.alg]


@dataclass(frozen=True)
class KeyFiles:
    """The four files ``keys_generate`` writes."""

    ps256_key: Path
    ps256_cert: Path
    es256_key: Path
    es256_cert: Path

    def environment(self) -> dict[str, str]:
        """The variables (in the environment, and the settings of the same names) that configure these files
        as the signing keys."""
        return {
            "VAXREG_DCC_PS256_KEY": str(self.ps256_key),
            "VAXREG_DCC_PS256_CERT": str(self.ps256_cert),
            "VAXREG_DCC_ES256_KEY": str(self.es256_key),
            "VAXREG_DCC_ES256_CERT": str(self.es256_cert),
        }


def kid_of(certificate: x509.Certificate) -> bytes:
    """The DCC key identifier of a certificate: the first 8 bytes of SHA-256 over its DER encoding."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()[:8]


def default_key_directory() -> Path:
    """Where ``vaxreg certs keygen`` writes by default and where keys are looked for when none is set."""
    return Path(settings.VAR_DIR) / "dcc-keys"


def _file_names(alg: Algorithm) -> tuple[str, str]:
    return f"{alg.lower()}-key.pem", f"{alg.lower()}-cert.pem"


def _configured_pem(alg: Algorithm, what: Literal["KEY", "CERT"]) -> bytes | None:
    name = f"VAXREG_DCC_{alg}_{what}"
    if text := getattr(settings, f"{name}_PEM"):
        return str(text).encode()
    if path := getattr(settings, name):
        return Path(path).read_bytes()
    default = default_key_directory() / _file_names(alg)[0 if what == "KEY" else 1]
    if default.is_file():
        return default.read_bytes()
    return None


@functools.lru_cache(maxsize=8)
def _load_signing_key(alg: Algorithm, key_pem: bytes, cert_pem: bytes) -> SigningKey:
    private_key = serialization.load_pem_private_key(key_pem, password=None)
    certificate = x509.load_pem_x509_certificate(cert_pem)
    expected = rsa.RSAPrivateKey if alg == "PS256" else ec.EllipticCurvePrivateKey
    if not isinstance(private_key, expected):
        raise KeyNotConfigured(
            f"Khóa cấu hình cho {alg} không đúng loại / The key configured for {alg} is not of the right type"
        )
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise KeyNotConfigured("ES256 cần khóa P-256 / ES256 needs a P-256 key")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*spki) != private_key.public_key().public_bytes(*spki):
        raise KeyNotConfigured(
            f"Chứng thư {alg} không khớp với khóa bí mật / The {alg} certificate does not match its private key"
        )
    return SigningKey(alg=alg, kid=kid_of(certificate), private_key=private_key, certificate=certificate)


def signing_key(alg: str | None = None) -> SigningKey:
    """The configured signing key of ``alg`` (default: ``VAXREG_DCC_ALG``, else PS256).

    Raises:
        KeyNotConfigured: the algorithm is unknown, or its key or certificate is not configured or
            does not match.
    """
    chosen = (alg or settings.VAXREG_DCC_ALG or "PS256").upper()
    if chosen not in ALGORITHMS:
        raise KeyNotConfigured(f"Thuật toán không hỗ trợ / Unsupported algorithm: {chosen}")
    algorithm: Algorithm = "PS256" if chosen == "PS256" else "ES256"
    key_pem, cert_pem = _configured_pem(algorithm, "KEY"), _configured_pem(algorithm, "CERT")
    if key_pem is None or cert_pem is None:
        raise KeyNotConfigured(
            f"Chưa cấu hình khóa ký {algorithm}: đặt VAXREG_DCC_{algorithm}_KEY và VAXREG_DCC_{algorithm}_CERT "
            f"(hoặc chạy `vaxreg certs keygen`) / No {algorithm} signing key: set VAXREG_DCC_{algorithm}_KEY and "
            f"VAXREG_DCC_{algorithm}_CERT (or run `vaxreg certs keygen`)"
        )
    return _load_signing_key(algorithm, key_pem, cert_pem)


def certificates_from_pem(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM text (a file may hold several)."""
    return list(x509.load_pem_x509_certificates(data))


def trust_list(certificates: Iterable[x509.Certificate]) -> dict[bytes, x509.Certificate]:
    """A kid → certificate mapping of the given certificates."""
    return {kid_of(certificate): certificate for certificate in certificates}


def trusted_certificates() -> dict[bytes, x509.Certificate]:
    """The trust list: kid → certificate of every key that may have signed a valid certificate.

    The configured signing certificates (both algorithms, those configured), plus every certificate in
    the PEM files (``*.pem``, ``*.crt``) of ``VAXREG_DCC_TRUST_DIR``, so that certificates signed before a
    key rotation keep verifying.
    """
    certificates: list[x509.Certificate] = []
    for alg in ALGORITHMS:
        cert_pem = _configured_pem(alg, "CERT")
        if cert_pem is not None:
            certificates.extend(certificates_from_pem(cert_pem))
    if directory := settings.VAXREG_DCC_TRUST_DIR:
        for path in sorted(Path(directory).iterdir()):
            if path.suffix.lower() in {".pem", ".crt"} and path.is_file():
                certificates.extend(certificates_from_pem(path.read_bytes()))
    return trust_list(certificates)


def _self_signed(private_key: PrivateKey, *, country: str, common_name: str, days: int) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bo Y te"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([EKU_VACCINATION]), critical=False)
        .sign(private_key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, *, mode: int) -> None:
    # Created with its final mode, so the private key is never readable by others even for an instant.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def keys_generate(directory: Path | str, *, country: str = "VN", days: int = 2 * 365) -> KeyFiles:
    """Make a new RSA-2048 (PS256) and P-256 (ES256) Document Signer in ``directory``.

    Each gets a self-signed certificate restricted to vaccination certificates (extended key usage
    1.3.6.1.4.1.1847.2021.1.2). Private keys are written with mode 0600, certificates 0644; existing
    files of the same names are replaced (keep the old certificates in the trust directory).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    keys: dict[Algorithm, PrivateKey] = {
        "PS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
    }
    paths: dict[str, Path] = {}
    for alg, private_key in keys.items():
        key_name, cert_name = _file_names(alg)
        certificate = _self_signed(private_key, country=country, common_name=f"VaxReg DSC {alg}", days=days)
        key_pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(folder / key_name, key_pem, mode=0o600)
        _write(folder / cert_name, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
        paths[f"{alg.lower()}_key"] = folder / key_name
        paths[f"{alg.lower()}_cert"] = folder / cert_name
    return KeyFiles(**paths)


def certificate_key_usages(certificate: x509.Certificate) -> frozenset[x509.ObjectIdentifier]:
    """The DCC kinds (test, vaccination, recovery OIDs) the certificate may sign; all three when its
    extended key usage names none of them (DCC specification)."""
    try:
        usages = list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    except ValueError:
        # Some issuers' certificates break DER rules in an unrelated extension (an encoded default,
        # an empty sequence), which makes the library refuse all extensions: read the EKU alone.
        usages = _extended_key_usages_from_der(certificate.tbs_certificate_bytes)
    kinds = {EKU_LEGACY.get(oid, oid) for oid in usages} & {EKU_TEST, EKU_VACCINATION, EKU_RECOVERY}
    return frozenset(kinds or {EKU_TEST, EKU_VACCINATION, EKU_RECOVERY})


_EKU_OID_DER = bytes.fromhex("0603551d25")  # OBJECT IDENTIFIER 2.5.29.37 (extendedKeyUsage)


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) items of a DER sequence's content."""
    items, offset = [], 0
    while offset < len(data):
        tag, length = data[offset], data[offset + 1]
        offset += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[offset : offset + size], "big")
            offset += size
        items.append((tag, data[offset : offset + length]))
        offset += length
    return items


def _oid_text(content: bytes) -> str:
    """The dotted text of a DER OBJECT IDENTIFIER's content (X.690 §8.19)."""
    arc = min(content[0] // 40, 2)
    parts, value = [str(arc), str(content[0] - 40 * arc)], 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(str(value))
            value = 0
    return ".".join(parts)


def _extended_key_usages_from_der(tbs: bytes) -> list[x509.ObjectIdentifier]:
    try:
        (_, body), *_ = _der_items(tbs)
        extensions = next(content for tag, content in _der_items(body) if tag == 0xA3)
        (_, sequence), *_ = _der_items(extensions)
        for _, extension in _der_items(sequence):
            parts = _der_items(extension)
            if parts and bytes([parts[0][0], len(parts[0][1])]) + parts[0][1] == _EKU_OID_DER:
                (_, usages), *_ = _der_items(parts[-1][1])
                return [
                    x509.ObjectIdentifier(_oid_text(oid)) for tag, oid in _der_items(usages) if tag == 0x06
                ]
    except (StopIteration, ValueError, IndexError):
        pass
    return []
