"""HCERT: the EU DCC payload signed as a CBOR Web Token in a COSE_Sign1, compressed, base45, "HC1:".

Encoding (SPEC §8)::

    payload → CWT claims {1: iss, 4: exp, 6: iat, -260: {1: payload}} → CBOR
            → COSE_Sign1 (tag 18, protected header {1: alg, 4: kid}) → zlib → base45 → "HC1:" + text

Decoding is split into the same steps in reverse, each raising ``HcertDecodeError`` with the step that
failed, so that a verifier (``vaxreg.certificates.verifying``) can say exactly where a certificate broke:
``hcert_unprefix`` → ``hcert_base45_decode`` → ``hcert_decompress`` → ``cose_sign1_parse`` →
``cwt_claims``; ``cose_signature_valid`` checks a parsed COSE_Sign1 against a public key.

Signatures follow the DCC specification: PS256 is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte
salt; ES256 is ECDSA P-256 with SHA-256 and the signature as raw r||s (64 bytes), not DER.
"""

import datetime as dt
import enum
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from vaxreg.certificates.keys import SigningKey

PREFIX = "HC1:"
COSE_SIGN1_TAG = 18
CWT_TAG = 61
# CWT claim keys (RFC 8392) and the HCERT claim (DCC specification).
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
HCERT_EU_DCC_V1 = 1
# COSE header labels and algorithm identifiers (RFC 8152, RFC 8230).
HEADER_ALG, HEADER_KID = 1, 4
ALG_ES256, ALG_PS256 = -7, -37
# DCC specification: PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt.
PSS_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
ES256_COORDINATE_BYTES = 32
# Every zlib stream with the deflate method and a 32 KiB window (what every issuer uses) starts so.
ZLIB_HEADER = b"\x78"
# A certificate is a few kilobytes; the verify page is public, so a "zip bomb" must stop early.
MAX_DECOMPRESSED_BYTES = 64 * 1024


class DecodeStep(enum.StrEnum):
    """The decoding steps, named as the EU's conformance test data names them."""

    UNPREFIX = "UNPREFIX"
    B45DECODE = "B45DECODE"
    COMPRESSION = "COMPRESSION"
    DECODE = "DECODE"  # COSE structure and CBOR claims


class HcertDecodeError(ValueError):
    """A certificate text could not be decoded; ``step`` says at which step."""

    def __init__(self, step: DecodeStep, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


@dataclass(frozen=True)
class CoseSign1:
    """A parsed COSE_Sign1 message.

    Attributes:
        protected_bytes: the protected header exactly as signed (a CBOR map in a byte string).
        protected: that header decoded.
        unprotected: the unprotected header.
        payload: the signed bytes (the CBOR of the CWT claims).
        signature: the signature (for ES256 raw r||s, 64 bytes; for PS256 the RSA signature).
    """

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    def header(self, label: int) -> Any:
        """A header value, from the protected header first, else the unprotected one."""
        if label in self.protected:
            return self.protected[label]
        return self.unprotected.get(label)

    @property
    def alg(self) -> Any:
        return self.header(HEADER_ALG)

    @property
    def kid(self) -> bytes | None:
        kid = self.header(HEADER_KID)
        return bytes(kid) if isinstance(kid, bytes | bytearray) else None


@dataclass(frozen=True)
class CwtClaims:
    """The claims of an HCERT token.

    Attributes:
        issuer: ``iss``, the issuing country (may be absent in foreign certificates).
        issued_at, expires_at: ``iat`` and ``exp`` (UTC), None when absent.
        payload: the DCC payload (claim -260, key 1).
    """

    issuer: str | None
    issued_at: dt.datetime | None
    expires_at: dt.datetime | None
    payload: Any


def cose_sig_structure(protected_bytes: bytes, payload: bytes) -> bytes:
    """The bytes a COSE_Sign1 signature covers: ["Signature1", protected, external_aad b"", payload]."""
    return cbor2.dumps(["Signature1", protected_bytes, b"", payload])


def _timestamp(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return int(value.timestamp())


def cose_sign(payload: bytes, key: SigningKey) -> bytes:
    """The tagged COSE_Sign1 of ``payload`` signed by ``key`` (protected header {1: alg, 4: kid})."""
    protected = cbor2.dumps({HEADER_ALG: key.cose_alg, HEADER_KID: key.kid})
    to_sign = cose_sig_structure(protected, payload)
    private_key = key.private_key
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(to_sign, PSS_PADDING, hashes.SHA256())
    else:
        r, s = decode_dss_signature(private_key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(ES256_COORDINATE_BYTES, "big") + s.to_bytes(ES256_COORDINATE_BYTES, "big")
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def hcert_encode(
    *,
    payload: Mapping[str, Any],
    key: SigningKey,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
    issuer_country: str = "VN",
) -> str:
    """The "HC1:" text of a DCC payload signed by ``key`` (QR rendering is separate).

    Args:
        payload: the DCC payload (``vaxreg.certificates.dcc.dgc_vaccination_payload``).
        key: the Document Signer (``vaxreg.certificates.keys.signing_key``).
        issued_at, expires_at: timezone-aware; stored as whole seconds (``iat``, ``exp``).
        issuer_country: ``iss``.
    """
    claims = {
        CLAIM_ISS: issuer_country,
        CLAIM_IAT: _timestamp(issued_at),
        CLAIM_EXP: _timestamp(expires_at),
        CLAIM_HCERT: {HCERT_EU_DCC_V1: dict(payload)},
    }
    cose = cose_sign(cbor2.dumps(claims), key)
    return PREFIX + base45_encode(zlib.compress(cose, 9))


# Base45 (RFC 9285), written here because it is half the cost of verifying a certificate with the
# pure-Python package: two bytes become three characters, least significant first.
BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUES = bytes(BASE45_ALPHABET.index(chr(c)) if chr(c) in BASE45_ALPHABET else 255 for c in range(256))
_B45_TRIPLES = [
    BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[n // 45 % 45] + BASE45_ALPHABET[n // 2025] for n in range(65536)
]
_B45_PAIRS = [BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[n // 45] for n in range(256)]


def base45_encode(data: bytes) -> str:
    """The base45 text of ``data``."""
    whole = len(data) // 2 * 2
    text = "".join([_B45_TRIPLES[n] for n in struct.unpack(f">{whole // 2}H", data[:whole])])
    return text + _B45_PAIRS[data[-1]] if whole < len(data) else text


def base45_decode(text: str) -> bytes:
    """The bytes of a base45 text; ValueError when it is not one."""
    try:
        values = text.encode("ascii").translate(_B45_VALUES)
    except UnicodeEncodeError as error:
        raise ValueError("a character outside the base45 alphabet") from error
    if 255 in values:
        raise ValueError("a character outside the base45 alphabet")
    whole, rest = divmod(len(values), 3)
    if rest == 1:
        raise ValueError("a length that is 1 more than a multiple of 3")
    numbers = [
        a + 45 * b + 2025 * c for a, b, c in zip(values[0::3], values[1::3], values[2::3], strict=False)
    ]
    if numbers and max(numbers) > 0xFFFF:
        raise ValueError("a group of three characters above 65535")
    data = struct.pack(f">{whole}H", *numbers[:whole])
    if rest == 2:
        last = values[-2] + 45 * values[-1]
        if last > 0xFF:
            raise ValueError("a final pair of characters above 255")
        data += bytes([last])
    return data


def hcert_unprefix(text: str) -> str:
    """The base45 text after the "HC1:" prefix (surrounding white space ignored)."""
    stripped = text.strip()
    if not stripped.startswith(PREFIX):
        raise HcertDecodeError(DecodeStep.UNPREFIX, f"does not start with {PREFIX}")
    return stripped[len(PREFIX) :]


def hcert_base45_decode(text: str) -> bytes:
    """The bytes of a base45 text (RFC 9285)."""
    try:
        return base45_decode(text)
    except ValueError as error:
        raise HcertDecodeError(DecodeStep.B45DECODE, f"not valid base45 ({error})") from error


def hcert_decompress(data: bytes) -> bytes:
    """The zlib-decompressed bytes.

    Data that does not start with a zlib header (0x78) is passed on as it is: the specification allows
    an uncompressed COSE message, and it then fails or passes at the COSE step on its own merits.
    """
    if data[:1] != ZLIB_HEADER:
        return data
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, MAX_DECOMPRESSED_BYTES)
    except zlib.error as error:
        raise HcertDecodeError(DecodeStep.COMPRESSION, f"not valid zlib data ({error})") from error
    if inflater.unconsumed_tail:
        raise HcertDecodeError(
            DecodeStep.COMPRESSION, f"more than {MAX_DECOMPRESSED_BYTES:,} bytes once decompressed"
        )
    if not inflater.eof:
        raise HcertDecodeError(DecodeStep.COMPRESSION, "not valid zlib data (incomplete or truncated stream)")
    return inflated


def cose_sign1_parse(data: bytes) -> CoseSign1:
    """A COSE_Sign1 message (tag 18 optional, inside a CWT tag 61 too)."""
    try:
        message = cbor2.loads(data)
    except Exception as error:  # cbor2 raises several types on malformed input
        raise HcertDecodeError(DecodeStep.DECODE, f"not valid CBOR ({error})") from error
    if isinstance(message, cbor2.CBORTag) and message.tag == CWT_TAG:
        message = message.value
    if isinstance(message, cbor2.CBORTag):
        if message.tag != COSE_SIGN1_TAG:
            raise HcertDecodeError(DecodeStep.DECODE, f"CBOR tag {message.tag} is not COSE_Sign1 (18)")
        message = message.value
    if not (isinstance(message, list) and len(message) == 4):
        raise HcertDecodeError(DecodeStep.DECODE, "not a COSE_Sign1 array of four items")
    protected_bytes, unprotected, payload, signature = message
    if (
        not isinstance(protected_bytes, bytes)
        or not isinstance(payload, bytes)
        or not isinstance(signature, bytes)
    ):
        raise HcertDecodeError(DecodeStep.DECODE, "COSE_Sign1 items have the wrong types")
    if not isinstance(unprotected, dict):
        raise HcertDecodeError(DecodeStep.DECODE, "the unprotected header is not a map")
    try:
        protected = cbor2.loads(protected_bytes) if protected_bytes else {}
    except Exception as error:
        raise HcertDecodeError(DecodeStep.DECODE, f"protected header is not valid CBOR ({error})") from error
    if not isinstance(protected, dict):
        raise HcertDecodeError(DecodeStep.DECODE, "the protected header is not a map")
    return CoseSign1(
        protected_bytes=protected_bytes,
        protected=protected,
        unprotected=unprotected,
        payload=payload,
        signature=signature,
    )


def _datetime(value: Any, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HcertDecodeError(DecodeStep.DECODE, f"claim {name} is not a number")
    try:
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise HcertDecodeError(DecodeStep.DECODE, f"claim {name} is out of range") from error


def cwt_claims(cose: CoseSign1) -> CwtClaims:
    """The CWT claims of a parsed COSE_Sign1 (not yet verified: check the signature before trusting)."""
    try:
        claims = cbor2.loads(cose.payload)
    except Exception as error:
        raise HcertDecodeError(DecodeStep.DECODE, f"the payload is not valid CBOR ({error})") from error
    if not isinstance(claims, dict):
        raise HcertDecodeError(DecodeStep.DECODE, "the payload is not a CBOR map of claims")
    hcert = claims.get(CLAIM_HCERT)
    if not isinstance(hcert, dict) or HCERT_EU_DCC_V1 not in hcert:
        raise HcertDecodeError(DecodeStep.DECODE, "no HCERT claim (-260: {1: ...})")
    issuer = claims.get(CLAIM_ISS)
    return CwtClaims(
        issuer=issuer if isinstance(issuer, str) else None,
        issued_at=_datetime(claims.get(CLAIM_IAT), "iat"),
        expires_at=_datetime(claims.get(CLAIM_EXP), "exp"),
        payload=hcert[HCERT_EU_DCC_V1],
    )


def hcert_decode(text: str) -> tuple[CoseSign1, CwtClaims]:
    """Every decoding step of an "HC1:" text (no signature check); raises ``HcertDecodeError``."""
    cose = cose_sign1_parse(hcert_decompress(hcert_base45_decode(hcert_unprefix(text))))
    return cose, cwt_claims(cose)


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def cose_signature_valid(cose: CoseSign1, public_key: Any) -> bool:
    """Whether the COSE_Sign1 signature is valid for ``public_key`` under the algorithm it names.

    PS256 needs an RSA key, ES256 a P-256 key with a raw r||s signature; any other combination is
    invalid.
    """
    to_verify = cose_sig_structure(cose.protected_bytes, cose.payload)
    try:
        if cose.alg == ALG_PS256 and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cose.signature, to_verify, PSS_PADDING, hashes.SHA256())
            return True
        if cose.alg == ALG_ES256 and isinstance(public_key, ec.EllipticCurvePublicKey):
            if len(cose.signature) != 2 * ES256_COORDINATE_BYTES:
                return False
            r = int.from_bytes(cose.signature[:ES256_COORDINATE_BYTES], "big")
            s = int.from_bytes(cose.signature[ES256_COORDINATE_BYTES:], "big")
            public_key.verify(encode_dss_signature(r, s), to_verify, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False
