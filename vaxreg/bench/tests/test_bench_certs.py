"""`vaxreg bench certs` runs end to end on a few certificates and reports every figure."""

import io
import json
import os

from django.core.management import call_command

EXPECTED_KEYS = {
    "issued_per_s_ps256",
    "issued_per_s_es256",
    "verified_per_s_ps256",
    "verified_per_s_es256",
    "raw_sign_per_s_ps256",
    "raw_sign_per_s_es256",
    "raw_verify_per_s_ps256",
    "raw_verify_per_s_es256",
    "ratios",
    "targets",
}


def test_the_benchmark_prints_one_json_object_with_every_rate() -> None:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    out = io.StringIO()

    call_command("bench_certs", "--count", "3", "--json", stdout=out)

    result = json.loads(out.getvalue())
    assert result.keys() >= EXPECTED_KEYS
    assert result["count"] == 3
    assert all(result[key] > 0 for key in EXPECTED_KEYS - {"ratios", "targets"})
    assert set(result["ratios"]) == {"issued_ps256", "issued_es256", "verified_ps256", "verified_es256"}
    assert {"issued_ps256_met", "verified_ps256_met", "verified_es256_met"} <= result["targets"].keys()
    # The benchmark pins itself to one core only while it measures.
    assert affinity is None or os.sched_getaffinity(0) == affinity


def test_the_text_report_says_whether_the_targets_are_met() -> None:
    out = io.StringIO()

    call_command("bench_certs", "--count", "2", stdout=out)

    report = out.getvalue()
    assert "PS256: issued" in report and "ES256: issued" in report and "raw verify" in report
    assert "targets: ≥ 1,000 issued/s PS256" in report and ("met" in report or "UNMET" in report)
