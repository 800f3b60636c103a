"""Segments and suppression lists (issue 17, section 3): a segment lists exactly whom the gate
allows now, pages with a stable keyset cursor, and a suppression list names the refusing, the
withdrawn, the objecting, the restricted and the erased, each once, the erased only as hashes. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from consent_service import create_app
from consent_service.auth.service import register_client
from consent_service.context import Context
from consent_service.demo import seed
from tests.api.helpers import assert_problem, consent_body
from tests.conftest import make_context, param_database


@pytest.fixture(params=["sqlite", "postgres"])
def clocked_ctx(request, tmp_path, clock) -> Iterator[Context]:
    context = make_context(param_database(request, tmp_path), tmp_path, clock=clock)
    yield context
    context.db.dispose()


@pytest.fixture
def client(clocked_ctx):
    seed(clocked_ctx)
    return create_app(context=clocked_ctx).test_client()


def _bearer(ctx: Context, name: str, scopes: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {register_client(ctx, name, scopes)[1]}"}


@pytest.fixture
def crm(clocked_ctx) -> dict[str, str]:
    return _bearer(clocked_ctx, "crm", ["consent:write", "consent:read", "vault:decrypt"])


@pytest.fixture
def dpo(clocked_ctx) -> dict[str, str]:
    return _bearer(clocked_ctx, "dpo", ["dsar:manage", "registry:write", "registry:read", "admin"])


def record(client, crm, value: str, granted: bool = True) -> str:
    body = consent_body(value, decisions=[{"purpose": "newsletter", "granted": granted}])
    response = client.post("/v1/consents", headers=crm, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["subject_id"])


def segment(client, crm, purpose: str = "newsletter", **query: Any) -> dict[str, Any]:
    response = client.get(f"/v1/segments/{purpose}", headers=crm, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def export(client, crm, **query: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    for _ in range(1000):
        page = segment(client, crm, **query, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def members(client, crm) -> set[str]:
    return {item["identity"] for item in export(client, crm, identity="email", limit=2)}


def open_verified(client, dpo, kind: str, value: str, **body: Any) -> str:
    response = client.post(
        "/v1/requests",
        headers=dpo,
        json={
            "type": kind,
            "identities": [{"type": "email", "value": value}],
            "verification": {"method": "dpo", "note": "ID card checked at the desk"},
        }
        | body,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def suppressed(client, crm, fmt: str = "json") -> tuple[list[str], str]:
    response = client.get("/v1/suppressions/newsletter", headers=crm, query_string={"format": fmt})
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    if fmt == "csv":
        lines = text.splitlines()
        assert lines[0] == "email_sha256"
        return lines[1:], text
    return json.loads(text)["items"], text


def sha(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


PEOPLE = ("anna@example.org", "ben@example.org", "cem@example.org", "dora@example.org", "emil@example.org")


def test_a_segment_follows_withdrawals_objections_restrictions_and_erasure(client, crm, dpo, clock):
    ids = {value: record(client, crm, value) for value in PEOPLE}
    record(client, crm, "fritz@example.org", granted=False)
    assert members(client, crm) == set(PEOPLE)
    first = segment(client, crm, limit=100)["items"]
    assert {i["subject_id"] for i in first} == set(ids.values()) and all(i["decided_at"] for i in first)
    assert "identity" not in first[0]

    record(client, crm, "anna@example.org", granted=False)  # a withdrawal
    open_verified(client, dpo, "objection", "ben@example.org", purposes=["newsletter"])
    open_verified(client, dpo, "restriction", "cem@example.org", purposes=["newsletter"])
    shred = client.post(f"/v1/subjects/{ids['dora@example.org']}/shred", headers=dpo)
    assert shred.status_code == 200, shred.get_data(as_text=True)
    assert members(client, crm) == {"emil@example.org"}

    # every listed subject is allowed by the gate, every other one refused
    batch = client.post(
        "/v1/decisions/batch", headers=dpo, json={"purpose": "newsletter", "subjects": list(ids.values())}
    ).get_json()["results"]
    allowed = {sid for sid, answer in zip(ids.values(), batch, strict=True) if answer["allowed"]}
    assert allowed == {i["subject_id"] for i in export(client, crm)} == {ids["emil@example.org"]}

    clock.advance(days=800)  # past the consent's validity: expired consent leaves the segment
    assert export(client, crm) == []


def test_suppressions_hold_the_refusing_and_the_erased_only_as_hashes(client, crm, dpo):
    ids = {value: record(client, crm, value) for value in PEOPLE}
    record(client, crm, "anna@example.org", granted=False)
    open_verified(client, dpo, "objection", "ben@example.org", purposes=["newsletter"])
    open_verified(client, dpo, "restriction", "cem@example.org", purposes=["newsletter"])
    assert client.post(f"/v1/subjects/{ids['dora@example.org']}/shred", headers=dpo).status_code == 200

    record(client, crm, "fritz@example.org", granted=False)  # refused when asked: never mail either

    expected = {sha(v) for v in (*PEOPLE[:4], "fritz@example.org")}
    for fmt in ("json", "csv"):
        hashes, raw = suppressed(client, crm, fmt)
        assert sorted(hashes) == sorted(expected), fmt  # each once
        assert "dora" not in raw and "@" not in raw
    # erased, back as a new subject who withdraws again, erased again: still listed once
    again = record(client, crm, "dora@example.org")
    record(client, crm, "dora@example.org", granted=False)
    assert sorted(suppressed(client, crm)[0]) == sorted(expected)
    assert client.post(f"/v1/subjects/{again}/shred", headers=dpo).status_code == 200
    assert sorted(suppressed(client, crm)[0]) == sorted(expected)
    # the erased person's address is gone from everywhere the API reads it
    assert sha("dora@example.org") in suppressed(client, crm)[0]
    history = client.get(f"/v1/subjects/{ids['dora@example.org']}/history", headers=dpo)
    assert "dora@example.org" not in history.get_data(as_text=True)


def test_paging_is_stable_while_consents_arrive(client, crm):
    before = {record(client, crm, f"p{n}@example.org") for n in range(12)}
    seen: list[str] = []
    cursor = None
    first_feed = None
    for page_number in range(100):
        page = segment(client, crm, limit=5, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 5
        first_feed = page["feed_after"] if first_feed is None else first_feed
        assert page["feed_after"] == first_feed  # the export's start, carried by the cursor
        seen += [i["subject_id"] for i in page["items"]]
        record(client, crm, f"new{page_number}@example.org")  # arrives during the export
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))  # no subject twice
    assert seen == sorted(seen)  # database order after the cursor, never back
    assert before <= set(seen)  # everyone there when the export began is in it
    everyone = {i["subject_id"] for i in export(client, crm)}
    assert set(seen) <= everyone and len(everyone) == len(before) + page_number + 1


def test_bad_cursors_unknown_purposes_and_scopes(client, crm, clocked_ctx):
    record(client, crm, "anna@example.org")
    for junk in ("nope", "!!!", base64.urlsafe_b64encode(b'{"after": 3, "feed": 0}').decode(), "e30"):
        body = assert_problem(
            client.get("/v1/segments/newsletter", headers=crm, query_string={"cursor": junk}), 422
        )
        assert body["status"] == 422
    assert_problem(client.get("/v1/segments/ghost", headers=crm), 404)
    assert_problem(client.get("/v1/suppressions/ghost", headers=crm), 404)
    assert_problem(client.get("/v1/suppressions/newsletter?format=xml", headers=crm), 422)
    reader = _bearer(clocked_ctx, "reader", ["consent:read"])
    assert segment(client, reader)["items"][0]["subject_id"]
    assert_problem(client.get("/v1/segments/newsletter?identity=email", headers=reader), 403)
    assert_problem(
        client.get("/v1/segments/newsletter", headers=_bearer(clocked_ctx, "x", ["vault:decrypt"])), 403
    )
    assert segment(client, crm, identity="email")["items"][0]["identity"] == "anna@example.org"
