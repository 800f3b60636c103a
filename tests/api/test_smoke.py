"""The app starts, answers health and publishes its OpenAPI document."""


def test_health_answers_without_auth(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_openapi_lists_the_public_contract(client):
    spec = client.get("/openapi.json").get_json()
    for path in (
        "/v1/purposes/{key}",
        "/v1/cookies/{name}",
        "/v1/consents",
        "/v1/decisions",
        "/v1/decisions/batch",
        "/v1/subjects/resolve",
        "/v1/subjects/{subject_id}/consents",
        "/v1/subjects/{subject_id}/history",
        "/v1/events",
        "/v1/ledger/verify",
        "/v1/ledger/checkpoints/latest",
        "/v1/public/consents",
    ):
        assert path in spec["paths"], path


def test_hand_checked_endpoints_still_document_their_bodies(client):
    spec = client.get("/openapi.json").get_json()
    body = spec["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DecisionQuery"}
    assert "DecisionQuery" in spec["components"]["schemas"]


def _resolve(spec, response):
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def test_every_documented_error_is_a_problem_document(client):
    spec = client.get("/openapi.json").get_json()
    errors = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if status == "default" or status.startswith(("4", "5")):
                    content = _resolve(spec, response)["content"]
                    assert list(content) == ["application/problem+json"], (method, path, status)
                    assert content["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
                    errors += 1
    assert errors > 59
    assert {"type", "title", "status", "detail"} <= set(spec["components"]["schemas"]["Problem"]["required"])


def test_signed_links_and_callbacks_are_not_documented_as_bearer_protected(client):
    spec = client.get("/openapi.json").get_json()
    package = spec["paths"]["/v1/packages/{token}"]["get"]
    assert package["security"] == []
    assert {"application/json", "text/csv", "text/html"} <= set(package["responses"]["200"]["content"])
    callback = spec["paths"]["/v1/stores/{key}/callback"]["post"]
    assert callback["security"] == []
    headers = {p["name"] for p in callback["parameters"] if p["in"] == "header" and p["required"]}
    assert headers == {"X-Consent-Timestamp", "X-Consent-Signature"}


def test_the_retention_run_body_is_optional_as_on_the_server(client, admin):
    spec = client.get("/openapi.json").get_json()
    assert spec["paths"]["/v1/retention/runs"]["post"]["requestBody"]["required"] is False
    assert client.post("/v1/retention/runs", headers=admin).status_code == 202


def test_unknown_query_parameters_are_refused(client, admin):
    body = client.get("/v1/events?after=0&afterr=5", headers=admin)
    assert body.status_code == 422 and "afterr" in body.get_json()["errors"]
