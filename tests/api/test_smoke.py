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
