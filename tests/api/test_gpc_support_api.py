"""``/.well-known/gpc.json``: the GPC support resource as the specification (§ 4) describes it."""

from __future__ import annotations

from consent_service import create_app
from tests.api.helpers import assert_problem


def test_the_support_resource_is_public_json_readable_from_any_origin(client):
    response = client.get("/.well-known/gpc.json", headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"gpc": True, "lastUpdate": "2026-12-02"}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "public" in response.headers["Cache-Control"]


def test_its_date_is_the_configured_statement_date(ctx):
    ctx.config = ctx.config.with_overrides(gpc_last_update="2025-04-15T09:30:00Z")
    response = create_app(context=ctx).test_client().get("/.well-known/gpc.json")
    assert response.get_json() == {"gpc": True, "lastUpdate": "2025-04-15T09:30:00Z"}


def test_it_is_only_read(client):
    assert_problem(client.post("/.well-known/gpc.json", json={}), 405)


def test_the_openapi_document_lists_it_without_auth_like_health(client):
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/.well-known/gpc.json"]["get"]
    assert operation["security"] == [] == spec["paths"]["/health"]["get"]["security"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/GpcSupportOut"}
    assert set(spec["components"]["schemas"]["GpcSupportOut"]["properties"]) == {"gpc", "lastUpdate"}
