"""The API documentation and its schema are for the staff roles that use the API, and need nothing from
outside the server."""

import pytest
from django.test import Client

from vaxreg.testing.world import World

pytestmark = pytest.mark.django_db


def test_a_visitor_is_sent_to_log_in_and_gets_no_schema(client: Client) -> None:
    page = client.get("/api/docs")
    schema = client.get("/api/openapi.json")

    assert page.status_code == 302
    assert page["Location"] == "/login/?next=/api/docs"
    assert schema.status_code == 401
    body = schema.json()
    assert body["message_vi"] and body["message_en"] and "paths" not in body


@pytest.mark.parametrize("user_key", list(World.VISIBLE))
def test_every_staff_role_reads_the_docs_served_by_the_product(world: World, user_key: str) -> None:
    client = Client()
    client.force_login(world.users[user_key])

    page = client.get("/api/docs")
    schema = client.get("/api/openapi.json")

    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "/static/ninja/swagger-ui.css" in html
    assert "cdn." not in html and "https://" not in html
    assert "/api/cases/{case_id}/police-result" in schema.json()["paths"]


def test_a_role_that_does_not_use_the_api_gets_403(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaxreg.accounts.permissions import ROLES_OF, Capability

    # Every role of today uses the API; a role added later is left out until Capability.API_DOCS names it.
    monkeypatch.setitem(ROLES_OF, Capability.API_DOCS, ROLES_OF[Capability.API_DOCS] - {"police"})
    client = Client()
    client.force_login(world.users["police_badinh"])

    assert client.get("/api/docs").status_code == 403
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 403 and "paths" not in schema.json()
