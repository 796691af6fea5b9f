"""What verifiers need besides the certificate: the revocation list and the trust list (SPEC §8).

Both are published as JSON at stable addresses so that an app can keep a copy and verify offline.
Revoked certificates are listed by the SHA-256 (hex) of their UVCI, as the EU's revocation lists do, so
the list tells nobody whose certificate was revoked.
"""

import base64
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaxreg.certificates.keys import trusted_certificates
from vaxreg.certificates.models import Certificate
from vaxreg.core import clock


def is_revoked(uvci_sha256_hex: str) -> bool:
    """Whether the certificate with this UVCI hash was revoked (the verify page asks this)."""
    return Certificate.objects.filter(
        uvci_sha256=uvci_sha256_hex.strip().lower(), revoked_at__isnull=False
    ).exists()


def revoked_hashes() -> Iterator[str]:
    yield from (
        Certificate.objects.filter(revoked_at__isnull=False)
        .order_by("uvci_sha256")
        .values_list("uvci_sha256", flat=True)
        .iterator(chunk_size=5000)
    )


def revocation_list() -> dict[str, Any]:
    return {
        "generated_at": clock.now().isoformat(timespec="seconds"),
        "hash_type": "SHA256(UVCI)",
        "revoked": list(revoked_hashes()),
    }


def trust_list() -> dict[str, Any]:
    """kid (base64) → the Document Signer certificate (DER, base64) and its algorithm."""
    keys = {}
    for kid, certificate in sorted(trusted_certificates().items()):
        alg = "ES256" if isinstance(certificate.public_key(), ec.EllipticCurvePublicKey) else "PS256"
        keys[base64.b64encode(kid).decode("ascii")] = {
            "alg": alg,
            "certificate": base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode(
                "ascii"
            ),
        }
    return {"generated_at": clock.now().isoformat(timespec="seconds"), "country": "VN", "keys": keys}
