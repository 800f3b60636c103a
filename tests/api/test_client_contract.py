"""The Python client's table of operations against the service's OpenAPI document.

The client (clients/python) sends only what its table names; this checks every entry against
the document the app serves, so that a renamed path, parameter or field, or a newly required
field, fails here instead of in an integrator's sync job.
"""

from __future__ import annotations

from typing import Any

import pytest
from consent_client import OPERATIONS, Operation

from consent_service import create_app


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    from tests.conftest import make_context, migrate

    folder = tmp_path_factory.mktemp("client-contract")
    url = f"sqlite:///{folder / 'consent.db'}"
    migrate(url)
    context = make_context(url, folder)
    try:
        return create_app(context=context).test_client().get("/openapi.json").get_json()
    finally:
        context.db.dispose()


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    content = operation["requestBody"]["content"]["application/json"]
    return resolve(spec, content["schema"])


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_operation_of_the_client_is_one_of_the_service(spec, name):
    entry: Operation = OPERATIONS[name]
    operations = spec["paths"].get(entry.path)
    assert operations is not None, f"{entry.path} is not a path of the service"
    operation = operations.get(entry.method.lower())
    assert operation is not None, f"{entry.method} {entry.path} is not an operation of the service"

    parameters = operation.get("parameters", []) + operations.get("parameters", [])
    query = {p["name"] for p in parameters if p["in"] == "query"}
    assert set(entry.query) <= query, f"unknown query parameters {set(entry.query) - query}"
    required_query = {p["name"] for p in parameters if p["in"] == "query" and p.get("required")}
    assert required_query <= set(entry.query), f"the client cannot send {required_query - set(entry.query)}"
    templated = {p["name"] for p in parameters if p["in"] == "path"}
    assert templated == {part[1:-1] for part in entry.path.split("/") if part.startswith("{")}

    if entry.body:
        schema = body_schema(spec, operation)
        properties = set(schema["properties"])
        assert set(entry.body) <= properties, f"unknown body fields {set(entry.body) - properties}"
        required = set(schema.get("required", []))
        assert required <= set(entry.body), f"the client cannot send {required - set(entry.body)}"
    else:
        assert "requestBody" not in operation, f"{name} sends no body but the service takes one"


def test_the_check_refuses_a_field_the_service_does_not_know(spec):
    """The contract test itself can fail: a made-up field is not in the schema."""
    operation = spec["paths"]["/v1/consents"]["post"]
    assert "granted_all" not in body_schema(spec, operation)["properties"]
    assert "/v1/consent" not in spec["paths"]
