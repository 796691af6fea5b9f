"""Verify an "HC1:" certificate text, step by step, and say in Vietnamese and English what failed.

The steps, in order (named as in the EU conformance test data): UNPREFIX, B45DECODE, COMPRESSION,
DECODE (COSE and CBOR), VERIFY (known kid and valid signature), EXPIRATION, SCHEMA (the DCC schema of
the version the certificate declares, and the payload facts of ``dcc.dgc_payload_errors``), REVOKED.
The first that fails ends the verification; the holder's name, birth date and doses are given only for
a valid certificate, so that nobody reads a forged or expired certificate as someone's proof.

Works offline from a trust list (kid → certificate): by default the configured keys and the trust
directory (``vaxreg.certificates.keys.trusted_certificates``).
"""

import datetime as dt
import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from cryptography import x509
from django.utils.translation import gettext, gettext_noop

from vaxreg.certificates.dcc import dgc_schema_errors, uvci_sha256_hex, value_sets
from vaxreg.certificates.hcert import (
    ALG_ES256,
    ALG_PS256,
    CoseSign1,
    CwtClaims,
    HcertDecodeError,
    cose_sign1_parse,
    cose_signature_valid,
    cwt_claims,
    hcert_base45_decode,
    hcert_decompress,
    hcert_unprefix,
)
from vaxreg.certificates.keys import EKU_RECOVERY, EKU_TEST, EKU_VACCINATION, certificate_key_usages
from vaxreg.core.i18n import in_both_languages, in_each_language


class Step(enum.StrEnum):
    """A verification step."""

    UNPREFIX = "UNPREFIX"
    B45DECODE = "B45DECODE"
    COMPRESSION = "COMPRESSION"
    DECODE = "DECODE"
    VERIFY = "VERIFY"
    EXPIRATION = "EXPIRATION"
    SCHEMA = "SCHEMA"
    REVOKED = "REVOKED"


STEP_LABELS: dict[Step, str] = {
    Step.UNPREFIX: gettext_noop("HC1: prefix"),
    Step.B45DECODE: gettext_noop("Base45 decoding"),
    Step.COMPRESSION: gettext_noop("zlib decompression"),
    Step.DECODE: gettext_noop("COSE/CBOR structure"),
    Step.VERIFY: gettext_noop("Digital signature"),
    Step.EXPIRATION: gettext_noop("Validity period"),
    Step.SCHEMA: gettext_noop("Content against the DCC schema"),
    Step.REVOKED: gettext_noop("Not revoked"),
}

# What the holder of the certificate reads when a step fails (msgids; the Vietnamese is in the catalogue).
FAILURE_MESSAGES: dict[Step, str] = {
    Step.UNPREFIX: gettext_noop("This is not a digital COVID certificate (it does not start with HC1:)."),
    Step.B45DECODE: gettext_noop(
        "The certificate code is damaged or incompletely copied (invalid characters)."
    ),
    Step.COMPRESSION: gettext_noop("The certificate code is damaged (it cannot be decompressed)."),
    Step.DECODE: gettext_noop("The certificate code does not have the structure of an EU DCC."),
    Step.VERIFY: gettext_noop(
        "The digital signature is invalid or the signing key is not trusted: the certificate may be forged."
    ),
    Step.EXPIRATION: gettext_noop("The certificate has expired or is not yet valid."),
    Step.SCHEMA: gettext_noop("The certificate content does not follow the EU DCC schema."),
    Step.REVOKED: gettext_noop("The certificate has been revoked (it was re-issued or cancelled)."),
}
VALID_MESSAGE = gettext_noop("The certificate is valid.")


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step; ``detail`` is the technical reason of a failure (English)."""

    step: Step
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Holder:
    """The person a certificate names."""

    family_name: str
    given_name: str
    family_name_icao: str
    given_name_icao: str
    birth_date: str  # as in the certificate: YYYY-MM-DD, YYYY-MM, YYYY or empty

    @property
    def full_name(self) -> str:
        """The name as written, family name first (the ICAO form when only that is present)."""
        family = self.family_name or self.family_name_icao.replace("<", " ")
        given = self.given_name or self.given_name_icao.replace("<", " ")
        return " ".join(part for part in (family, given) if part)


@dataclass(frozen=True)
class VaccinationEntry:
    """One ``v`` entry of a certificate, with the display name of its vaccine when known."""

    date: str
    dose_number: int
    total_doses: int
    product_code: str
    product_name: str
    manufacturer_code: str
    country: str
    issuer: str
    uvci: str


@dataclass(frozen=True)
class Verification:
    """What ``hcert_verify`` found.

    Attributes:
        valid: every step passed.
        failed_step: the first step that failed (None when valid).
        steps: the steps run, in order, the failed one last.
        message_vi, message_en: one sentence for the person holding the certificate.
        kid, alg: the key identifier and COSE algorithm named by the certificate (when decoded).
        issuer_country, issued_at, expires_at: the CWT claims (when decoded).
        holder, vaccinations, uvci: the certificate's content, only when valid.
    """

    valid: bool
    failed_step: Step | None
    steps: tuple[StepResult, ...]
    message_vi: str
    message_en: str
    kid: bytes | None = None
    alg: str | None = None
    issuer_country: str | None = None
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    holder: Holder | None = None
    vaccinations: tuple[VaccinationEntry, ...] = ()
    uvci: str | None = None
    payload: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def message(self) -> str:
        """The message in both languages, Vietnamese first."""
        return f"{self.message_vi} / {self.message_en}"

    def detail_of(self, step: Step) -> str:
        return next((result.detail for result in self.steps if result.step == step), "")


def never_revoked(uvci_sha256_hex: str) -> bool:
    """The revocation check of a verifier without a revocation list."""
    return False


class _Failed(Exception):
    def __init__(self, step: Step, detail: str, fields: tuple[str, ...] = ()) -> None:
        self.step = step
        self.detail = detail
        self.fields = fields


def _error_fields(errors: list[str]) -> tuple[str, ...]:
    """The payload fields the errors name, in order, once each ("/v/0/dt: ..." names ``v/0/dt``), so
    that the holder reads which part of the certificate is wrong."""
    paths = (error.split(":", 1)[0].strip("/") for error in errors)
    return tuple(dict.fromkeys(path or "/" for path in paths))


def _failure_message(step: Step, fields: tuple[str, ...]) -> tuple[str, str]:
    """(Vietnamese, English): the step's failure, naming the fields found wrong."""
    if not fields:
        return in_both_languages(FAILURE_MESSAGES[step])
    values = {"fields": ", ".join(fields)}
    return in_each_language(
        lambda: (
            gettext("%(sentence)s (field %(fields)s).")
            % {"sentence": gettext(FAILURE_MESSAGES[step]).removesuffix("."), **values}
        )
    )


def _alg_name(alg: Any) -> str | None:
    return {ALG_PS256: "PS256", ALG_ES256: "ES256"}.get(alg, None if alg is None else str(alg))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _content(payload: Mapping[str, Any]) -> tuple[Holder, tuple[VaccinationEntry, ...], str | None]:
    name = payload.get("nam") or {}
    holder = Holder(
        family_name=_text(name.get("fn")),
        given_name=_text(name.get("gn")),
        family_name_icao=_text(name.get("fnt")),
        given_name_icao=_text(name.get("gnt")),
        birth_date=_text(payload.get("dob")),
    )
    products = value_sets()["vaccine-medicinal-product"]
    entries = tuple(
        VaccinationEntry(
            date=_text(entry.get("dt")),
            dose_number=_int(entry.get("dn")),
            total_doses=_int(entry.get("sd")),
            product_code=_text(entry.get("mp")),
            product_name=products.get(_text(entry.get("mp")), _text(entry.get("mp"))),
            manufacturer_code=_text(entry.get("ma")),
            country=_text(entry.get("co")),
            issuer=_text(entry.get("is")),
            uvci=_text(entry.get("ci")),
        )
        for entry in payload.get("v") or []
    )
    groups = [*(payload.get("v") or []), *(payload.get("t") or []), *(payload.get("r") or [])]
    uvci = next((_text(entry.get("ci")) for entry in groups if _text(entry.get("ci"))), None)
    return holder, entries, uvci


def hcert_verify(
    text: str,
    *,
    now: dt.datetime,
    trust: Mapping[bytes, x509.Certificate] | None = None,
    is_revoked: Callable[[str], bool] = never_revoked,
) -> Verification:
    """Verify an "HC1:" text at the moment ``now``.

    Args:
        text: the certificate text as read from the QR code.
        now: the verification clock (timezone-aware).
        trust: kid → signing certificate; default the configured keys and trust directory.
        is_revoked: called with the SHA-256 hex of the UVCI; True means revoked.

    Returns:
        The steps passed and the first failed, with a bilingual message; the holder and doses when
        valid.
    """
    if trust is None:
        from vaxreg.certificates.keys import trusted_certificates

        trust = trusted_certificates()
    steps: list[StepResult] = []
    cose: CoseSign1 | None = None
    claims: CwtClaims | None = None

    def decode(raw: bytes) -> CwtClaims:
        nonlocal cose
        cose = cose_sign1_parse(raw)
        return cwt_claims(cose)

    try:
        b45 = _run(steps, Step.UNPREFIX, lambda: hcert_unprefix(text))
        compressed = _run(steps, Step.B45DECODE, lambda: hcert_base45_decode(b45))
        raw = _run(steps, Step.COMPRESSION, lambda: hcert_decompress(compressed))
        claims = _run(steps, Step.DECODE, lambda: decode(raw))
        parsed = cast(CoseSign1, cose)  # set by decode() whenever it returned
        _check_signature(parsed, trust, claims.payload)
        steps.append(StepResult(Step.VERIFY, True))
        if problem := hcert_expiration_error(claims, now):
            raise _Failed(Step.EXPIRATION, problem)
        steps.append(StepResult(Step.EXPIRATION, True))
        payload = claims.payload
        if errors := dgc_schema_errors(payload, issued_at=claims.issued_at):
            raise _Failed(Step.SCHEMA, "; ".join(errors[:5]), _error_fields(errors[:5]))
        steps.append(StepResult(Step.SCHEMA, True))
        holder, entries, uvci = _content(payload)
        if uvci and is_revoked(uvci_sha256_hex(uvci)):
            raise _Failed(Step.REVOKED, "the UVCI hash is on the revocation list")
        steps.append(StepResult(Step.REVOKED, True))
    except _Failed as failure:
        steps.append(StepResult(failure.step, False, failure.detail))
        return _failure(steps, failure.step, cose, claims, failure.fields)
    valid_vi, valid_en = in_both_languages(VALID_MESSAGE)
    return Verification(
        valid=True,
        failed_step=None,
        steps=tuple(steps),
        message_vi=valid_vi,
        message_en=valid_en,
        kid=parsed.kid,
        alg=_alg_name(parsed.alg),
        issuer_country=claims.issuer,
        issued_at=claims.issued_at,
        expires_at=claims.expires_at,
        holder=holder,
        vaccinations=entries,
        uvci=uvci,
        payload=payload,
    )


def _run(steps: list[StepResult], step: Step, action: Callable[[], Any]) -> Any:
    try:
        value = action()
    except HcertDecodeError as error:
        raise _Failed(step, error.detail) from error
    steps.append(StepResult(step, True))
    return value


def _check_signature(cose: CoseSign1, trust: Mapping[bytes, x509.Certificate], payload: Any) -> None:
    kid = cose.kid
    if kid is None:
        raise _Failed(Step.VERIFY, "no kid in the COSE headers")
    certificate = trust.get(kid)
    if certificate is None:
        raise _Failed(Step.VERIFY, f"unknown kid {kid.hex()}")
    if cose.alg not in (ALG_PS256, ALG_ES256):
        raise _Failed(Step.VERIFY, f"unsupported algorithm {cose.alg!r}")
    if not cose_signature_valid(cose, _public_key(certificate)):
        raise _Failed(Step.VERIFY, "the signature does not match the signing certificate")
    if not key_usage_allows(certificate, payload):
        raise _Failed(
            Step.VERIFY, "the signing certificate may not sign this kind of certificate (key usage)"
        )


# A verifier sees the same few signers again and again: parse each one's key and extensions once.
@functools.lru_cache(maxsize=512)
def _public_key(certificate: x509.Certificate) -> Any:
    return certificate.public_key()


@functools.lru_cache(maxsize=512)
def _key_usages(certificate: x509.Certificate) -> frozenset[x509.ObjectIdentifier]:
    return certificate_key_usages(certificate)


_KIND_USAGES = {"v": EKU_VACCINATION, "t": EKU_TEST, "r": EKU_RECOVERY}


def key_usage_allows(certificate: x509.Certificate, payload: Any) -> bool:
    """Whether the signer's extended key usage allows every kind (vaccination, test, recovery) of
    entry the payload holds (a signer without DCC key usages may sign every kind)."""
    if not isinstance(payload, Mapping):
        return True
    allowed = _key_usages(certificate)
    return all(usage in allowed for key, usage in _KIND_USAGES.items() if payload.get(key))


def hcert_expiration_error(claims: CwtClaims, now: dt.datetime) -> str | None:
    """Why the token is not valid at ``now`` (no ``exp``, expired, issued in the future), or None."""
    if claims.expires_at is None:
        return "no expiry (exp) claim"
    if now > claims.expires_at:
        return f"expired at {claims.expires_at.isoformat()}"
    if claims.issued_at is not None and claims.issued_at > now:
        return f"issued in the future ({claims.issued_at.isoformat()})"
    return None


def _failure(
    steps: list[StepResult],
    step: Step,
    cose: CoseSign1 | None,
    claims: CwtClaims | None,
    fields: tuple[str, ...] = (),
) -> Verification:
    vi, en = _failure_message(step, fields)
    return Verification(
        valid=False,
        failed_step=step,
        steps=tuple(steps),
        message_vi=vi,
        message_en=en,
        kid=cose.kid if cose else None,
        alg=_alg_name(cose.alg) if cose else None,
        issuer_country=claims.issuer if claims else None,
        issued_at=claims.issued_at if claims else None,
        expires_at=claims.expires_at if claims else None,
        payload=claims.payload if claims and isinstance(claims.payload, Mapping) else None,
    )
