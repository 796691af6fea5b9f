"""The EU's public conformance test data (dgc-testdata, Apache-2.0, vendored beside this file).

Every JSON test file flags the steps it tests (EXPECTEDRESULTS) with the outcome a conforming verifier
must give; each (file, step) is one test here, so the counts per step show in the report. Run this file
as a script for a table of the counts:

    uv run python -m vaxreg.certificates.tests.test_dgc_testdata
"""

import base64
import binascii
import collections
import datetime as dt
import fnmatch
import json
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509

from vaxreg.certificates.dcc import dgc_schema_errors
from vaxreg.certificates.hcert import (
    HcertDecodeError,
    cose_sign1_parse,
    cose_signature_valid,
    cwt_claims,
    hcert_base45_decode,
    hcert_decode,
    hcert_decompress,
    hcert_unprefix,
)
from vaxreg.certificates.keys import trust_list
from vaxreg.certificates.tests.qr_codes import read_qr_codes
from vaxreg.certificates.verifying import hcert_expiration_error, hcert_verify, key_usage_allows

TESTDATA = Path(__file__).resolve().parent / "dgc-testdata"


@dataclass(frozen=True)
class KnownBad:
    """Test files (globs) whose expectation for a step contradicts the DCC specification.

    Each reason was checked against the files. Every matching file fails the step (strict xfail): one
    that starts passing makes the run fail, so the entry must then shrink.
    """

    files: tuple[str, ...]
    step: str
    reason: str


# The Netherlands' generated test files (by number) that expect a valid payload with an empty country
# (co ""), and those that expect one with dose number or series 0.
_NL_EMPTY_COUNTRY = (
    5, 11, 18, 20, 45, 57, 59, 60, 73, 120, 123, 144, 153, 162, 163, 165, 169, 178, 186, 189, 192, 201,
    216, 217, 226, 240, 245, 252, 257, 258, 264,
)  # fmt: skip
_NL_DOSE_ZERO = (104, 109, 121, 130)


def _nl(numbers: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"NL/2DCode/raw/{number:03d}-*.json" for number in numbers)


KNOWN_BAD = (
    KnownBad(
        ("ES/2DCode/raw/40[123].json",),
        "EXPECTEDVERIFY",
        "signed with a P-384 key (96-byte signature) under alg -7 (ES256); the DCC specification's ES256 "
        "is ECDSA on P-256 with SHA-256 (RFC 9053 only suggests the pairing, so lax verifiers accept it)",
    ),
    KnownBad(
        ("IS/2DCode/raw/3.json",),
        "EXPECTEDKEYUSAGE",
        "expects a refusal because the signer's extended key usage names only 2.23.136.1.1.14.2; Spain's "
        "signers name only serverAuth/clientAuth/emailProtection (ES/2DCode/raw/101.json and 17 more) and "
        "are expected to verify; the DCC specification lets a signer naming no DCC OID sign every kind",
    ),
    KnownBad(
        ("FR/2DCode/raw/test_pcr_ok.json",),
        "EXPECTEDVALIDJSON",
        "the file's JSON says sc 12:34:56Z and dr 12:45:01Z, the signed certificate 14:34:56Z and 14:45:01Z",
    ),
    KnownBad(
        ("PL/1.3.0/2DCode/raw/[15].json",),
        "EXPECTEDVALIDJSON",
        "the file's JSON names another person than the signed certificate (JSON copied from another file)",
    ),
    KnownBad(
        ("PL/*/2DCode/raw/9.json",),
        "EXPECTEDSCHEMAVALIDATION",
        "expects a refusal for the vaccine manufacturer ORG-99999999, outside the value set; San Marino's "
        "files (SM/2DCode/raw/1.json to 5.json, ma ORG-1000030215) and Georgia's (GE/2DCode/raw/1.json, "
        "ma SinovacBiotech) expect codes outside it to pass, and the set grows without a schema version",
    ),
    KnownBad(
        ("PL/*/2DCode/raw/7.json",),
        "EXPECTEDSCHEMAVALIDATION",
        "expects a refusal for the test device 9999, outside the value set; GE/2DCode/raw/2.json (device "
        "N/A) expects a device outside it to pass, and the device list grows every week without a schema",
    ),
    KnownBad(
        ("BG/2DCode/raw/[12].json",),
        "EXPECTEDSCHEMAVALIDATION",
        "declares 1.0.0 but dob 1978-01-26T00:00:00 fails the dob pattern ^(19|20)\\d\\d(-\\d\\d){0,2}$ and the "
        "empty groups are null where the schema says array, in 1.1.0, 1.2.1 and 1.3.0 alike",
    ),
    KnownBad(
        ("HU/2DCode/raw/3.json",),
        "EXPECTEDSCHEMAVALIDATION",
        "declares 1.0.0: tc is 100 characters and ci 52, the 1.x schemas before 1.3 allow 50 (1.3.0: tc 80)",
    ),
    KnownBad(
        _nl(_NL_EMPTY_COUNTRY),
        "EXPECTEDSCHEMAVALIDATION",
        "expects an empty country co to pass; country_vt has the pattern [A-Z]{1,10} (at least one capital) "
        "in every schema version (1.1.0, 1.2.1, 1.3.0)",
    ),
    KnownBad(
        _nl(_NL_DOSE_ZERO),
        "EXPECTEDSCHEMAVALIDATION",
        "expects dose number dn or series sd 0 to pass; dose_posint has minimum 1 in every schema version "
        "(the Netherlands' other files with dn 0, 078, 079 and 139, expect a refusal for other reasons: a "
        "birth in 1815 or 2023, an empty gnt)",
    ),
)


@dataclass(frozen=True)
class Case:
    path: str
    step: str
    expected: bool
    data: dict[str, Any]


def _cases() -> Iterator[Case]:
    for path in sorted(TESTDATA.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        expected = data.get("EXPECTEDRESULTS") if isinstance(data, dict) else None
        if not isinstance(expected, dict):
            continue  # not a test file (e.g. a bare payload sample)
        for step, outcome in sorted(expected.items()):
            if step in CHECKS and isinstance(outcome, bool):
                yield Case(str(path.relative_to(TESTDATA)), step, outcome, data)


def _certificate(data: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(data["TESTCTX"]["CERTIFICATE"]))


def _cose(data: dict[str, Any]) -> bytes:
    """The file's COSE, else the one its compressed, base45 or prefixed form holds."""
    if "COSE" in data:
        return bytes.fromhex(data["COSE"])
    if "COMPRESSED" in data:
        return hcert_decompress(bytes.fromhex(data["COMPRESSED"]))
    text = data["BASE45"] if "BASE45" in data else hcert_unprefix(data["PREFIX"])
    return hcert_decompress(hcert_base45_decode(text))


def _payload(data: dict[str, Any]) -> Any:
    """The DCC payload as the test file's chain holds it: from COSE, else from the prefixed text."""
    return cwt_claims(cose_sign1_parse(_cose(data))).payload


def _json_equal(decoded: Any, expected: Any) -> bool:
    """CBOR content equals JSON content: maps without order, CBOR dates and tags as their JSON text."""
    if isinstance(decoded, dict) and isinstance(expected, dict):
        return decoded.keys() == expected.keys() and all(
            _json_equal(decoded[k], expected[k]) for k in decoded
        )
    if isinstance(decoded, list) and isinstance(expected, list):
        return len(decoded) == len(expected) and all(map(_json_equal, decoded, expected))
    if isinstance(decoded, dt.datetime | dt.date) and isinstance(expected, str):
        return decoded == _parse_time(expected)
    if isinstance(decoded, str) and isinstance(expected, str) and decoded != expected:
        # The same instant written two ways ("Z" or "+00:00") is the same content.
        moment, other = _parse_time(decoded), _parse_time(expected)
        return isinstance(moment, dt.datetime) and moment.tzinfo is not None and moment == other
    if isinstance(decoded, cbor2.CBORTag):
        return _json_equal(decoded.value, expected)
    return (
        type(decoded) is type(expected)
        and decoded == expected
        or (isinstance(decoded, int | float) and isinstance(expected, int | float) and decoded == expected)
    )


def _parse_time(text: str) -> dt.datetime | dt.date | str:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text


def unprefix(data: dict[str, Any]) -> bool:
    text = hcert_unprefix(data["PREFIX"])
    return "BASE45" not in data or text == data["BASE45"]


def b45decode(data: dict[str, Any]) -> bool:
    decoded = hcert_base45_decode(data["BASE45"])
    if "COMPRESSED" in data:
        return decoded == bytes.fromhex(data["COMPRESSED"])
    return "COSE" not in data or hcert_decompress(decoded) == _cose(data)


def compression(data: dict[str, Any]) -> bool:
    decompressed = zlib.decompress(bytes.fromhex(data["COMPRESSED"]))
    return "COSE" not in data or decompressed == _cose(data)


def decode(data: dict[str, Any]) -> bool:
    """The COSE payload decodes to the HCERT claims, equal to the file's CBOR: member states put either
    the whole CWT claims or only the DCC payload in that field."""
    cose = cose_sign1_parse(_cose(data))
    payload = cwt_claims(cose).payload
    if "CBOR" not in data:
        return True
    expected = cbor2.loads(bytes.fromhex(data["CBOR"]))
    return expected in (payload, cbor2.loads(cose.payload))


def verify(data: dict[str, Any]) -> bool:
    """The product's VERIFY step with the file's certificate as the only trusted one."""
    cose = cose_sign1_parse(_cose(data))
    certificate = _certificate(data)
    if cose.kid is not None and cose.kid not in trust_list([certificate]):
        return False
    return cose_signature_valid(cose, certificate.public_key())


def key_usage(data: dict[str, Any]) -> bool:
    """The key usage of the file's certificate allows the kind of certificate the payload is (the
    signature is EXPECTEDVERIFY's business: Poland's file 6 expects a true key usage and a false
    signature)."""
    return key_usage_allows(_certificate(data), _payload(data))


def _clock(data: dict[str, Any]) -> dt.datetime | None:
    """The file's validation clock (UTC when it names no zone), or None when it has none."""
    text = (data.get("TESTCTX") or {}).get("VALIDATIONCLOCK")
    if not text:
        return None
    clock = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return clock if clock.tzinfo else clock.replace(tzinfo=dt.UTC)


def expiration(data: dict[str, Any]) -> bool:
    claims = cwt_claims(cose_sign1_parse(_cose(data)))
    clock = _clock(data)
    if clock is None:
        raise KeyError("VALIDATIONCLOCK")
    return hcert_expiration_error(claims, clock) is None


def schema(data: dict[str, Any]) -> bool:
    """The payload the chain holds (else the file's CBOR, the DCC alone or inside the CWT claims)
    against the schema of the version it declares and the payload checks, with its issue time."""
    try:
        claims = cwt_claims(cose_sign1_parse(_cose(data)))
        payload, issued_at = claims.payload, claims.issued_at
    except (HcertDecodeError, KeyError):
        payload, issued_at = cbor2.loads(bytes.fromhex(data["CBOR"])), None
        if isinstance(payload, dict) and -260 in payload:
            if isinstance(payload.get(6), int):
                issued_at = dt.datetime.fromtimestamp(payload[6], dt.UTC)
            payload = payload[-260][1]
    return not dgc_schema_errors(payload, issued_at=issued_at)


def valid_json(data: dict[str, Any]) -> bool:
    return _json_equal(hcert_decode(data["PREFIX"])[1].payload, data["JSON"])


def picture_decode(data: dict[str, Any]) -> bool:
    import io

    from PIL import Image

    encoded = data["2DCODE"].split(",", 1)[-1]  # some files keep a "data:image/png;base64," prefix
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    found = read_qr_codes(image)
    return any(result.text == data["PREFIX"] for result in found)


CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "EXPECTEDUNPREFIX": unprefix,
    "EXPECTEDB45DECODE": b45decode,
    "EXPECTEDCOMPRESSION": compression,
    "EXPECTEDDECODE": decode,
    "EXPECTEDVERIFY": verify,
    "EXPECTEDKEYUSAGE": key_usage,
    "EXPECTEDEXPIRATIONCHECK": expiration,
    "EXPECTEDSCHEMAVALIDATION": schema,
    "EXPECTEDVALIDJSON": valid_json,
    "EXPECTEDPICTUREDECODE": picture_decode,
}


_CHAIN = ("COSE", "COMPRESSED", "BASE45", "PREFIX")
# The inputs each step reads (any one of a tuple); a file that flags a step without them cannot test it.
INPUTS: dict[str, list[tuple[str, ...]]] = {
    "EXPECTEDUNPREFIX": [("PREFIX",)],
    "EXPECTEDB45DECODE": [("BASE45",)],
    "EXPECTEDCOMPRESSION": [("COMPRESSED",)],
    "EXPECTEDDECODE": [_CHAIN],
    "EXPECTEDVERIFY": [_CHAIN, ("TESTCTX.CERTIFICATE",)],
    "EXPECTEDKEYUSAGE": [_CHAIN, ("TESTCTX.CERTIFICATE",)],
    "EXPECTEDEXPIRATIONCHECK": [_CHAIN, ("TESTCTX.VALIDATIONCLOCK",)],
    "EXPECTEDSCHEMAVALIDATION": [("CBOR", *_CHAIN)],
    "EXPECTEDVALIDJSON": [("PREFIX",), ("JSON",)],
    "EXPECTEDPICTUREDECODE": [("2DCODE",), ("PREFIX",)],
}


def missing_input(case: Case) -> str | None:
    """The input the step needs that the file lacks, or None."""
    context = case.data.get("TESTCTX") or {}
    for alternatives in INPUTS[case.step]:
        present = [
            name
            for name in alternatives
            if (
                context.get(name.removeprefix("TESTCTX."))
                if name.startswith("TESTCTX.")
                else case.data.get(name)
            )
        ]
        if not present:
            return " or ".join(alternatives)
    return None


def outcome(case: Case) -> bool:
    """What the product says for the step: True when the step succeeds."""
    try:
        return CHECKS[case.step](case.data)
    except (
        HcertDecodeError,
        ValueError,
        KeyError,
        TypeError,
        zlib.error,
        binascii.Error,
        cbor2.CBORDecodeError,
        OSError,
    ):
        return False


CASES = list(_cases())


def known_bad(case: Case) -> KnownBad | None:
    return next(
        (k for k in KNOWN_BAD if k.step == case.step and any(fnmatch.fnmatch(case.path, g) for g in k.files)),
        None,
    )


def _param(case: Case) -> Any:
    marks = []
    if missing := missing_input(case):
        marks.append(pytest.mark.skip(reason=f"the file flags this step but has no {missing}"))
    elif known := known_bad(case):
        marks.append(pytest.mark.xfail(reason=known.reason, strict=True))
    return pytest.param(case, id=f"{case.path}:{case.step.removeprefix('EXPECTED')}", marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_step_gives_the_expected_result(case: Case) -> None:
    assert outcome(case) is case.expected, case.data["TESTCTX"].get("DESCRIPTION", "")


def test_the_vendored_test_data_is_complete() -> None:
    assert (TESTDATA / "LICENSE").is_file() and (TESTDATA / "NOTICE").is_file()
    assert len(CASES) > 4000


_END_TO_END_STEPS = (
    "EXPECTEDDECODE",
    "EXPECTEDVERIFY",
    "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDSCHEMAVALIDATION",
)


def test_the_whole_verification_agrees_with_the_test_files() -> None:
    """``hcert_verify`` (what the verify page and ``vaxreg certs verify`` run) on each file's "HC1:" text,
    trusting its certificate, at its clock: valid exactly when every step it flags is expected true."""
    outcomes: collections.Counter[str] = collections.Counter()
    for path in sorted({case.path for case in CASES}):
        data = json.loads((TESTDATA / path).read_text(encoding="utf-8"))
        expected, context = data["EXPECTEDRESULTS"], data["TESTCTX"]
        if not all(step in expected for step in _END_TO_END_STEPS) or not context.get("VALIDATIONCLOCK"):
            continue
        cases = [Case(path, step, value, data) for step, value in expected.items() if step in CHECKS]
        if any(known_bad(case) for case in cases) or "CERTIFICATE" not in context:
            continue
        if "EXPECTEDKEYUSAGE" not in expected and not key_usage(data):
            # The file does not test key usage, yet its signer may sign only another kind (Liechtenstein's
            # test certificate signed by a vaccination signer): hcert_verify refuses it at VERIFY, rightly.
            outcomes["signer of another kind"] += 1
            continue
        clock = _clock(data)
        assert clock is not None  # files without a clock were left out above
        result = hcert_verify(data["PREFIX"], now=clock, trust=trust_list([_certificate(data)]))
        should_pass = all(
            expected[step] for step in (*_END_TO_END_STEPS, "EXPECTEDKEYUSAGE") if step in expected
        )
        assert result.valid is should_pass, (path, result.failed_step, result.steps[-1].detail)
        outcomes["valid" if result.valid else f"refused at {result.failed_step}"] += 1
    assert outcomes["valid"] > 250, outcomes


if __name__ == "__main__":
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for case in CASES:
        if missing_input(case):
            counts[(case.step, "skipped")] += 1
            continue
        ok = outcome(case) is case.expected
        if known_bad(case):
            counts[(case.step, "known-bad" if not ok else "known-bad but passes")] += 1
            if "-v" in sys.argv:
                sys.stdout.write(
                    f"{'KNOWN' if not ok else 'XPASS'} {case.path} {case.step} expected {case.expected}\n"
                )
            continue
        counts[(case.step, "passed" if ok else "failed")] += 1
        if not ok and "-v" in sys.argv:
            sys.stdout.write(
                f"FAIL {case.path} {case.step} expected {case.expected}: {case.data['TESTCTX'].get('DESCRIPTION')}\n"
            )
    for step in CHECKS:
        passed, failed, bad, xpass, skipped = (
            counts[(step, kind)]
            for kind in ("passed", "failed", "known-bad", "known-bad but passes", "skipped")
        )
        sys.stdout.write(
            f"{step.removeprefix('EXPECTED'):<18} {passed:>4} passed  {failed:>3} failed  {bad:>3} known-bad  "
            f"{xpass:>3} known-bad but passing  {skipped:>3} without the input\n"
        )
