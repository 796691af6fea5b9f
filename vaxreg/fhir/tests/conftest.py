from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from vaxreg.fhir.tokens import api_token_create
from vaxreg.testing.world import World, world

__all__ = ["world"]


@pytest.fixture(autouse=True)
def private_media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def secrets_by_facility(world: World) -> dict[str, str]:
    """One token per facility of the world, by facility code: its secret."""
    return {
        code: api_token_create(facility_code=code, name=f"Phần mềm {code}", actor_id=world.users["admin"].pk)[
            1
        ]
        for code in world.facilities
    }


FhirClient = Callable[..., Any]


@pytest.fixture
def fhir(secrets_by_facility: dict[str, str]) -> FhirClient:
    """``fhir("GET", "/fhir/Patient/1", facility="HN001")``: a request with that facility's bearer token."""
    client = Client()

    def call(
        method: str, path: str, *, facility: str = "HN001", secret: str | None = None, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {secret or secrets_by_facility[facility]}"}
        if method == "GET":
            return client.get(path, kwargs.get("params"), headers=headers)
        return client.post(
            path,
            kwargs["body"],
            content_type=kwargs.get("content_type", "application/fhir+json"),
            headers=headers,
        )

    return call
