"""Bearer tokens and scopes."""

import pytest

from tests.api.helpers import assert_problem


def test_missing_and_unknown_tokens_are_401(client):
    body = assert_problem(client.get("/v1/purposes"), 401)
    assert "Bearer" in body["detail"]
    assert_problem(client.get("/v1/purposes", headers={"Authorization": "Bearer cs_nope"}), 401)
    assert_problem(client.get("/v1/purposes", headers={"Authorization": "Basic abc"}), 401)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "/v1/purposes", "registry:read"),
        ("get", "/v1/cookies", "registry:read"),
        ("put", "/v1/purposes/x", "registry:write"),
        ("post", "/v1/consents", "consent:write"),
        ("post", "/v1/decisions", "decisions:read"),
        ("post", "/v1/decisions/batch", "decisions:read"),
        ("get", "/v1/events", "consent:read"),
        ("post", "/v1/subjects/resolve", "consent:read"),
        ("get", "/v1/ledger/verify", "ledger:audit"),
        ("get", "/v1/ledger/checkpoints/latest", "ledger:audit"),
    ],
)
def test_a_token_without_the_scope_is_403(client, token, method, path, scope):
    other = "registry:read" if scope != "registry:read" else "consent:read"
    headers = {"Authorization": f"Bearer {token(other)}"}
    response = getattr(client, method)(path, headers=headers, json={})
    body = assert_problem(response, 403)
    assert scope in body["detail"]


def test_admin_implies_every_scope(client, admin, demo):
    assert client.get("/v1/purposes", headers=admin).status_code == 200
    assert client.get("/v1/ledger/verify", headers=admin).status_code == 200


def test_revoked_tokens_stop_working(client, ctx):
    from consent_service.auth.service import register_client, revoke

    info, secret = register_client(ctx, "crm", ["registry:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/purposes", headers=headers).status_code == 200
    revoke(ctx, info["id"])
    assert_problem(client.get("/v1/purposes", headers=headers), 401)


def test_a_revocation_by_another_process_takes_effect_when_the_cache_ages(client, ctx, monkeypatch):
    from consent_service.auth import service
    from consent_service.auth.service import register_client, revoke_client

    info, secret = register_client(ctx, "crm", ["registry:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/purposes", headers=headers).status_code == 200
    with ctx.uow() as uow:  # as another process would: the database only
        revoke_client(uow.session, info["id"], ctx.now())
        uow.commit()
    assert client.get("/v1/purposes", headers=headers).status_code == 200  # still cached
    monkeypatch.setattr(service, "TOKEN_CACHE_SECONDS", 0.0)
    assert_problem(client.get("/v1/purposes", headers=headers), 401)


def test_tokens_are_stored_hashed(ctx, token):
    from sqlalchemy import select

    from consent_service.auth.models import ApiClient

    secret = token("admin")
    with ctx.uow(write=False) as uow:
        hashes = uow.session.scalars(select(ApiClient.token_hash)).all()
    assert secret not in hashes and all(len(h) == 64 for h in hashes)
