"""The configuration `vaxreg api conformance` gives schemathesis: valid, every check on, and the one place
where a valid request may be refused is where the API's rules go beyond its schema."""

import tomllib

from schemathesis.config import SchemathesisConfig

from vaxreg.api.management.commands.api_conformance import ROLES, schemathesis_config

ROLE = {role.name: role for role in ROLES}


def _settings(role: str, session_id: str | None = None) -> dict:
    text = schemathesis_config(role=ROLE[role], max_examples=7, max_time=30, seed=None, session_id=session_id)
    SchemathesisConfig.from_str(text)  # schemathesis reads it: no misspelt key
    return tomllib.loads(text)


def test_staff_runs_send_the_session_and_accept_only_the_rules_refusals():
    settings = _settings("facility", session_id="abc")
    assert settings["auth"]["openapi"]["SessionAuth"]["api_key"] == "abc"
    assert settings["checks"]["enabled"] is True
    expected = settings["checks"]["positive_data_acceptance"]["expected-statuses"]
    assert "400" in expected and "422" not in expected  # a valid request is never "invalid input"
    assert (settings["max-time"], settings["generation"]["max-examples"]) == (30, 7)


def test_the_public_run_allows_the_intakes_refusals_only_where_its_rules_apply():
    settings = _settings("anonymous")
    assert "auth" not in settings
    assert "400" not in settings["checks"]["positive_data_acceptance"]["expected-statuses"]
    allowed = {op["include-name"] for op in settings["operations"]}
    assert allowed == {
        "POST /api/public/complaints",
        "POST /api/public/complaints/{tracking_code}/attachments",
    }
    for op in settings["operations"]:
        assert "422" in op["checks"]["positive_data_acceptance"]["expected-statuses"]
