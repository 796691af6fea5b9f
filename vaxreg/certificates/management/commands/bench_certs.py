import contextlib
import json
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

TARGET_ISSUED_PER_S_PS256 = 1_000
TARGET_VERIFIED_PER_S = 3_000
REVOKED_SHARE = 0.01
REVOCATION_LIST_SIZE = 100_000
_FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
)
_GIVEN = (
    "Thị Đào",
    "Văn An",
    "Bảo Duy",
    "Minh Châu",
    "Thu Hà",
    "Quốc Hùng",
    "Ngọc Ánh",
    "Đức Thắng",
    "Thị Mỹ Lệ",
)
_VACCINES = (
    ("EU/1/21/1529", "ORG-100001699", 2),
    ("EU/1/20/1528", "ORG-100030215", 2),
    ("EU/1/20/1507", "ORG-100031184", 2),
    ("BBIBP-CorV", "ORG-100020693", 2),
    ("EU/1/20/1525", "ORG-100001417", 1),
)


class Command(BaseCommand):
    help = (
        "Measure issuing and verifying vaccination certificates (SPEC §8) on one CPU core. With fresh PS256 "
        "(RSA-2048) and ES256 (P-256) keys, issue --count certificates per algorithm for varied synthetic "
        'people — DCC 1.3.0 payload, CWT claims, COSE_Sign1 signature, zlib, base45, "HC1:" (drawing the QR '
        "code is not included) — then fully verify each one as the verify page does: the decoding steps, the "
        "signature against the trust list, expiry, the schema, and a look-up of the UVCI hash in a revocation "
        f"set of {REVOCATION_LIST_SIZE:,} hashes that holds {REVOKED_SHARE:.0%} of the issued certificates (those "
        "must come out revoked, the rest valid). Baseline in the same run: raw signatures and raw verifications "
        "with the same keys through `cryptography` on a message of the same size; ratio = VaxReg rate ÷ raw "
        "rate. Rates are per second of the process's CPU time, so that other work on the machine does not "
        "count; wall-clock rates are printed beside them. The process is pinned to one core where the system "
        f"allows it. Targets: at least {TARGET_ISSUED_PER_S_PS256:,} issued/s with PS256 and "
        f"{TARGET_VERIFIED_PER_S:,} verified/s. Needs no database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count", type=int, default=2_000, help="certificates per algorithm (default 2,000)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["count"] < 1:
            raise CommandError("--count phải ≥ 1 / --count must be at least 1")
        result = certs_bench(count=options["count"], seed=options["seed"])
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(_report(result))


@contextlib.contextmanager
def _one_core() -> Iterator[int | None]:
    """Run on one core (the first this process may use), as the targets are per core; restored after."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    core = min(allowed)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, allowed)


def _rate(count: int, action: Callable[[int], Any]) -> tuple[float, float]:
    """(per CPU second, per wall-clock second) of ``action(i)`` for i in range(count)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        action(i)
    cpu_spent, wall_spent = time.process_time() - cpu, time.perf_counter() - wall
    return count / max(cpu_spent, 1e-9), count / max(wall_spent, 1e-9)


def _people(count: int, seed: int) -> list[dict[str, Any]]:
    import datetime as dt

    rng = random.Random(seed)
    people = []
    for _ in range(count):
        product, holder, series = rng.choice(_VACCINES)
        first = dt.date(2021, 7, 1) + dt.timedelta(days=rng.randrange(150))
        doses = [
            {"date": first + dt.timedelta(days=56 * n), "mp": product, "ma": holder, "vp": "J07BX03",
             "dose_number": n + 1, "total_doses": series}
            for n in range(series)
        ]  # fmt: skip
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30_000))
        people.append(
            {
                "family_name": rng.choice(_FAMILY),
                "given_name": rng.choice(_GIVEN),
                "birth_date_iso": birth.isoformat() if rng.random() > 0.05 else str(birth.year),
                "doses": doses,
            }
        )
    return people


def certs_bench(*, count: int, seed: int = 1) -> dict[str, Any]:
    """Run the benchmark; the figures as a JSON-ready dict."""
    from vaxreg.certificates.keys import keys_generate, signing_key, trust_list

    people = _people(count, seed)
    result: dict[str, Any] = {"count": count, "clock": "process CPU time"}
    with tempfile.TemporaryDirectory(prefix="vaxreg-bench-certs-") as folder:
        files = keys_generate(folder)
        with override_settings(**files.environment()):
            keys = [signing_key(alg) for alg in ("PS256", "ES256")]
    trust = trust_list(key.certificate for key in keys)
    with _one_core() as core:
        result["core"] = core
        for key in keys:
            suffix = key.alg.lower()
            for name, value in _measure(key, trust=trust, people=people).items():
                result[f"{name}_{suffix}" if not name.endswith("_wall") else f"{name[:-5]}_{suffix}_wall"] = (
                    value
                )
    for name in list(result):
        if isinstance(result[name], float):
            result[name] = round(result[name], 1)
    result["ratios"] = {
        f"{kind}_{alg}": round(result[f"{kind}_per_s_{alg}"] / result[f"raw_{raw}_per_s_{alg}"], 4)
        for kind, raw in (("issued", "sign"), ("verified", "verify"))
        for alg in ("ps256", "es256")
    }
    result["targets"] = {
        "issued_per_s_ps256": TARGET_ISSUED_PER_S_PS256,
        "verified_per_s": TARGET_VERIFIED_PER_S,
        "issued_ps256_met": result["issued_per_s_ps256"] >= TARGET_ISSUED_PER_S_PS256,
        "verified_ps256_met": result["verified_per_s_ps256"] >= TARGET_VERIFIED_PER_S,
        "verified_es256_met": result["verified_per_s_es256"] >= TARGET_VERIFIED_PER_S,
    }
    return result


def _measure(key: Any, *, trust: dict[bytes, Any], people: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue and verify one certificate per person with ``key``, then the raw signature baseline."""
    import datetime as dt

    from vaxreg.certificates.dcc import dgc_vaccination_payload, uvci_new, uvci_sha256_hex
    from vaxreg.certificates.hcert import cose_sig_structure, hcert_decode, hcert_encode
    from vaxreg.certificates.verifying import Step, hcert_verify

    count = len(people)
    issued_at = dt.datetime(2022, 1, 10, 8, 0, tzinfo=dt.UTC)
    expires_at = issued_at + dt.timedelta(days=365)
    now = issued_at + dt.timedelta(days=30)
    figures: dict[str, Any] = {}
    texts: list[str] = []
    uvcis: list[str] = []

    def issue(i: int) -> None:
        uvci = uvci_new()
        payload = dgc_vaccination_payload(**people[i], uvci=uvci)
        texts.append(hcert_encode(payload=payload, key=key, issued_at=issued_at, expires_at=expires_at))
        uvcis.append(uvci)

    figures["issued_per_s"], figures["issued_per_s_wall"] = _rate(count, issue)
    revoked_count = int(count * REVOKED_SHARE)
    revoked = {secrets.token_hex(32) for _ in range(REVOCATION_LIST_SIZE - revoked_count)}
    revoked.update(uvci_sha256_hex(uvci) for uvci in uvcis[:revoked_count])
    outcomes: dict[str, int] = {}

    def verify(i: int) -> None:
        verdict = hcert_verify(texts[i], now=now, trust=trust, is_revoked=revoked.__contains__)
        name = "valid" if verdict.valid else str(verdict.failed_step)
        outcomes[name] = outcomes.get(name, 0) + 1

    figures["verified_per_s"], figures["verified_per_s_wall"] = _rate(count, verify)
    expected = {
        "valid": count - revoked_count,
        **({str(Step.REVOKED): revoked_count} if revoked_count else {}),
    }
    if outcomes != expected:
        raise CommandError(f"unexpected verification outcomes {outcomes}")

    # The baseline: the same key signing and verifying a message as large as what VaxReg signs.
    sample, _ = hcert_decode(texts[0])
    message = cose_sig_structure(sample.protected_bytes, sample.payload)
    sign_raw, verify_raw = _raw_operations(key.private_key, message)
    figures["raw_sign_per_s"], figures["raw_sign_per_s_wall"] = _rate(count, sign_raw)
    figures["raw_verify_per_s"], figures["raw_verify_per_s_wall"] = _rate(count, verify_raw)
    figures["hcert_chars"] = round(sum(map(len, texts)) / count)
    figures["signed_message_bytes"] = len(message)
    return figures


def _raw_operations(private_key: Any, message: bytes) -> tuple[Callable[[int], Any], Callable[[int], Any]]:
    """Sign and verify ``message`` with ``cryptography`` alone, as PS256 or ES256 need."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from vaxreg.certificates.hcert import PSS_PADDING

    public_key = private_key.public_key()
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(message, PSS_PADDING, hashes.SHA256())
        return (
            lambda i: private_key.sign(message, PSS_PADDING, hashes.SHA256()),
            lambda i: public_key.verify(signature, message, PSS_PADDING, hashes.SHA256()),
        )
    ecdsa = ec.ECDSA(hashes.SHA256())
    signature = private_key.sign(message, ecdsa)
    return (
        lambda i: private_key.sign(message, ecdsa),
        lambda i: public_key.verify(signature, message, ecdsa),
    )


def _report(r: dict[str, Any]) -> str:
    def met(ok: bool) -> str:
        return "met" if ok else "UNMET"

    t = r["targets"]
    lines = [
        f"bench certs: {r['count']:,} certificates per algorithm on core {r['core']} "
        f"(rates per CPU second; wall clock in brackets)",
    ]
    for alg in ("ps256", "es256"):
        lines += [
            f"  {alg.upper()}: issued {r[f'issued_per_s_{alg}']:,.0f}/s [{r[f'issued_per_s_{alg}_wall']:,.0f}]"
            f"  (raw sign {r[f'raw_sign_per_s_{alg}']:,.0f}/s, ratio {r['ratios'][f'issued_{alg}']:.3f})",
            f"         verified {r[f'verified_per_s_{alg}']:,.0f}/s [{r[f'verified_per_s_{alg}_wall']:,.0f}]"
            f"  (raw verify {r[f'raw_verify_per_s_{alg}']:,.0f}/s, ratio {r['ratios'][f'verified_{alg}']:.3f});"
            f"  {r[f'hcert_chars_{alg}']} characters per HC1 text",
        ]
    lines.append(
        f"  targets: ≥ {t['issued_per_s_ps256']:,} issued/s PS256 {met(t['issued_ps256_met'])}; "
        f"≥ {t['verified_per_s']:,} verified/s PS256 {met(t['verified_ps256_met'])}, "
        f"ES256 {met(t['verified_es256_met'])}"
    )
    return "\n".join(lines)
