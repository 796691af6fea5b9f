"""The DCC payload checks beyond schema 1.3.0: the schema of the declared version and the payload facts."""

import copy
import datetime as dt
from typing import Any

import pytest
from django.conf import settings

from vaxreg.certificates.dcc import (
    compile_schema,
    dgc_payload_errors,
    dgc_schema_errors,
    dgc_schema_version,
)
from vaxreg.certificates.hcert import hcert_encode
from vaxreg.certificates.keys import KeyFiles, keys_generate, signing_key, trust_list
from vaxreg.certificates.verifying import Step, hcert_verify

ISSUED = dt.datetime(2021, 6, 1, 8, 0, tzinfo=dt.UTC)
VACCINATION: dict[str, Any] = {
    "ver": "1.3.0",
    "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Đào", "gnt": "THI<DAO"},
    "dob": "1964-01-31",
    "v": [
        {
            "tg": "840539006",
            "vp": "J07BX03",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2021-05-18",
            "co": "VN",
            "is": "Bộ Y tế Việt Nam",
            "ci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF",
        }
    ],
}


def _payload(**changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(VACCINATION)
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("declared", "checked_against"),
    [("1.0.0", "1.2.1"), ("1.0.4", "1.2.1"), ("1.1.0", "1.2.1"), ("1.2.1", "1.2.1"), ("1.3.0", "1.3.0")],
)
def test_a_payload_is_checked_against_the_schema_of_its_declared_version(
    declared: str, checked_against: str
) -> None:
    assert dgc_schema_version(declared) == checked_against


@pytest.mark.parametrize("declared", ["1.3.2", "2.0.0", "one", None])
def test_later_or_unreadable_versions_are_checked_against_the_newest_schema(declared: str | None) -> None:
    assert dgc_schema_version(declared) == "1.3.0"


def test_two_vaccination_entries_are_valid_before_1_3_and_not_in_1_3() -> None:
    second = {**VACCINATION["v"][0], "dn": 1, "dt": "2021-04-20"}
    entries = [second, VACCINATION["v"][0]]

    assert dgc_schema_errors(_payload(ver="1.2.1", v=entries)) == []
    assert any(error.startswith("/v:") for error in dgc_schema_errors(_payload(v=entries)))


def test_the_older_schema_keeps_its_own_limits() -> None:
    long_issuer = [{**VACCINATION["v"][0], "is": "I" * 60}]
    tenth_dose = [{**VACCINATION["v"][0], "dn": 10, "sd": 10}]

    assert dgc_schema_errors(_payload(v=long_issuer)) == []
    assert dgc_schema_errors(_payload(ver="1.0.0", v=long_issuer)) == ["/v/0/is: longer than 50 characters"]
    assert "/v/0/dn: above the maximum 9" in dgc_schema_errors(_payload(ver="1.2.1", v=tenth_dose))


def test_the_compiler_knows_maximum() -> None:
    validate = compile_schema({"type": "integer", "maximum": 9})

    assert validate(9) == [] and validate(10) == ["/: above the maximum 9"]


@pytest.mark.parametrize("written", ["2021-03-18T22:54:00+02:00", "2021-03-18T00:00:00.000Z"])
def test_a_date_written_as_a_date_time_is_accepted(written: str) -> None:
    assert dgc_schema_errors(_payload(v=[{**VACCINATION["v"][0], "dt": written}])) == []


@pytest.mark.parametrize("written", ["2021-02-30", "2021-02-30T10:00:00Z", "18/03/2021", "2021-03-18T22:54"])
def test_a_date_must_still_be_a_real_one(written: str) -> None:
    errors = dgc_schema_errors(_payload(v=[{**VACCINATION["v"][0], "dt": written}]))

    assert errors == [f"/v/0/dt: {written!r} is not a valid date"]


def test_the_country_must_be_an_iso_3166_code() -> None:
    assert dgc_payload_errors(_payload(v=[{**VACCINATION["v"][0], "co": "XY"}])) == [
        "/v/0/co: 'XY' is not an ISO 3166 country code"
    ]
    assert dgc_payload_errors(_payload(v=[{**VACCINATION["v"][0], "co": "XK"}])) == []


def test_vaccine_codes_outside_the_value_sets_are_left_to_the_issuer() -> None:
    entry = {**VACCINATION["v"][0], "mp": "EU/1/22/1709", "ma": "ORG-100036422"}

    assert dgc_schema_errors(_payload(v=[entry]), issued_at=ISSUED) == []


@pytest.mark.parametrize("birth", ["2023-01-01", "2022", "2021-07"])
def test_a_birth_after_the_issue_of_the_certificate_is_refused(birth: str) -> None:
    errors = dgc_schema_errors(_payload(dob=birth), issued_at=ISSUED)

    assert errors == [f"/dob: {birth!r} is after the certificate was issued (2021-06-01)"]


@pytest.mark.parametrize("birth", ["2021-06-01", "2021-06-02", "2021", "2021-06", "1963-00", ""])
def test_a_birth_up_to_the_day_of_issue_is_accepted(birth: str) -> None:
    # The day after counts as the same day somewhere east of UTC; month 00 is what some issuers write.
    assert dgc_payload_errors(_payload(dob=birth), issued_at=ISSUED) == []


def test_without_an_issue_time_the_birth_date_is_not_compared() -> None:
    assert dgc_payload_errors(_payload(dob="2099-01-01")) == []


def test_an_empty_standardised_forename_beside_a_forename_is_refused() -> None:
    emoji = _payload(nam={"fn": "Achternaam", "fnt": "ACHTERNAAM", "gn": "😀😃😄", "gnt": ""})
    no_forename = _payload(nam={"fn": "Achternaam", "fnt": "ACHTERNAAM", "gn": "", "gnt": ""})
    without_gnt = _payload(nam={"fn": "Achternaam", "fnt": "ACHTERNAAM", "gn": "Voornaam"})

    assert dgc_payload_errors(emoji) == ["/nam/gnt: empty, yet the forename gn is given"]
    assert dgc_payload_errors(no_forename) == [] and dgc_payload_errors(without_gnt) == []


def test_a_certificate_holds_exactly_one_group_in_every_version() -> None:
    recovery = [
        {
            "tg": "840539006",
            "fr": "2021-02-20",
            "co": "VN",
            "is": "Bộ Y tế Việt Nam",
            "df": "2021-04-04",
            "du": "2021-10-04",
            "ci": "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEE",
        }
    ]

    errors = dgc_schema_errors(_payload(ver="1.2.1", r=recovery))

    assert errors == ["/: holds v and r; a certificate holds exactly one of v, t, r"]


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return keys_generate(tmp_path_factory.mktemp("dcc-keys"))


def test_the_verification_names_the_wrong_field_in_both_languages(
    key_files: KeyFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in key_files.environment().items():
        monkeypatch.setattr(settings, name, value)
    key = signing_key("ES256")
    text = hcert_encode(
        payload=_payload(dob="2023-01-01"),
        key=key,
        issued_at=ISSUED,
        expires_at=ISSUED + dt.timedelta(days=365),
    )

    result = hcert_verify(text, now=ISSUED + dt.timedelta(days=1), trust=trust_list([key.certificate]))

    assert result.failed_step is Step.SCHEMA and result.holder is None
    assert "(trường dob)" in result.message_vi and "(field dob)" in result.message_en
    assert "/dob: '2023-01-01' is after the certificate was issued" in result.detail_of(Step.SCHEMA)
