"""The OpenAPI document (/api/openapi.json) is true: every reference resolves, no schema silently takes the
place of another one of the same name, and every operation declares the errors the framework answers."""

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from ninja.constants import NOT_SET
from ninja.openapi.schema import REF_TEMPLATE
from ninja.schema import NinjaGenerateJsonSchema

from vaxreg.api.api import api

pytestmark = pytest.mark.django_db


@pytest.fixture
def document() -> dict[str, Any]:
    # What /api/openapi.json serves (whoever may read it), as a client reads the JSON.
    return json.loads(json.dumps(api.get_openapi_schema()))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_reference_resolves_in_the_components(document):
    components = document["components"]["schemas"]
    refs = set(_refs(document))
    assert refs, "the document references its schemas"
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref  # never "#/$defs/…", which nothing resolves
        assert ref.removeprefix("#/components/schemas/") in components, ref
    assert "$defs" not in json.dumps(document)


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from node
        for key, value in node.items():
            if key not in ("properties", "examples", "example", "default", "enum"):
                yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_bounds_are_written_as_json_schema_says(document):
    # pydantic writes a bound it cannot place as its own "ge"/"le": no client or tool reads those.
    assert not {"ge", "le", "gt", "lt"} & set(_keys(document))


def test_no_two_different_models_share_a_schema_name():
    # The document keeps one schema per name: a second model of the same name would silently replace the
    # first in every operation that uses it. Each model's own schema is compared here, name by name.
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for bound_router in api._get_bound_routers():
        for path, path_view in bound_router.path_operations.items():
            for operation in path_view.operations:
                where = f"{','.join(operation.methods)} {bound_router.prefix}{path}"
                models = [(m, "validation") for m in operation.models]
                models += [
                    (m, "serialization")
                    for m in operation.response_models.values()
                    if m not in (None, NOT_SET)
                ]
                for model, mode in models:
                    schema = model.model_json_schema(
                        ref_template=REF_TEMPLATE, schema_generator=NinjaGenerateJsonSchema, mode=mode
                    )
                    for name, definition in schema.get("$defs", {}).items():
                        seen[name][json.dumps(definition, sort_keys=True)].append(where)
    clashes = {name: list(variants.values()) for name, variants in seen.items() if len(variants) > 1}
    assert not clashes, f"schema names used by different models: {clashes}"


def test_every_operation_declares_the_errors_the_framework_answers(document):
    for method, path, operation in _operations(document):
        responses = {int(status): value for status, value in operation["responses"].items()}
        expected = set()
        if operation.get("security"):
            expected.add(401)
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                expected.add(403)  # CSRF
        if any(p["in"] == "path" for p in operation.get("parameters", ())):
            expected.add(404)
        if operation.get("parameters") or "requestBody" in operation:
            expected.add(422)
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if status >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)


def test_an_id_of_the_wrong_shape_gets_the_apis_json_404(client, world):
    client.force_login(world.users["national"])
    paths = (
        "/api/cases/abc",
        "/api/complaints/-1",
        "/api/people/1/nothing-here",
        "/api/nowhere",
        "/api/cases/1%0A2",
    )
    for path in paths:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path
        assert response.json()["code"] == "not_found" and response.json()["message_vi"]


def test_a_query_parameter_the_operation_does_not_have_is_refused_and_named(client, world):
    client.force_login(world.users["national"])
    misspelt = client.get("/api/cases", {"stat": "open"})  # `state`: ignoring it would list every case
    assert misspelt.status_code == 422
    assert (misspelt.json()["code"], misspelt.json()["field"]) == ("invalid_input", "stat")
    assert client.get("/api/cases", {"state": "open"}).status_code == 200
