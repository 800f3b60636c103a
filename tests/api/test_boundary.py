"""Input that is not sane text or JSON is refused at the boundary with a 4xx, and writes nothing.

Each case here answered 500 (or stored a mangled value) before ``consent_service.api.boundary``.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy import func, select

from consent_service.durations import DurationError, add_duration, parse_duration
from consent_service.ledger.models import LedgerEvent
from tests.api.helpers import assert_problem, consent_body

SURROGATE = "\\ud800"  # as it stands in a JSON text: a lone surrogate once parsed
NUL = "\\u0000"


def raw(client, path, headers, text, method="post"):
    return getattr(client, method)(path, headers={**headers, "Content-Type": "application/json"}, data=text)


def events(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(LedgerEvent)) or 0


def site_headers(demo):
    return {"X-Site-Key": demo["site"]["site_key"], "Origin": "https://shop.example"}


def public_body(value="dev-1", **changes):
    body = {
        "subject": {"type": "device_id", "value": value},
        "decisions": [{"purpose": "analytics", "granted": True}],
        "method": "custom",
        "language": "de",
        "url": "https://shop.example/",
    }
    body.update(changes)
    return body


@pytest.mark.parametrize("bad", [SURROGATE, NUL])
def test_a_lone_surrogate_or_nul_in_an_identity_or_proof_is_422(client, admin, demo, ctx, bad):
    before = events(ctx)
    identity = json.dumps(consent_body()).replace("anna@example.org", f"anna{bad}@example.org")
    assert assert_problem(raw(client, "/v1/consents", admin, identity), 422)["errors"]["subject"]["value"]
    proof = json.dumps(consent_body()).replace("Mozilla/5.0 (X11)", bad)
    assert assert_problem(raw(client, "/v1/consents", admin, proof), 422)["errors"]["proof"]["user_agent"]
    gate = json.dumps({"subject": {"type": "email", "value": "x"}, "purpose": "newsletter"}).replace(
        '"x"', f'"{bad}"'
    )
    assert_problem(raw(client, "/v1/decisions", admin, gate), 422)
    vault = json.dumps({"subject": {"type": "email", "value": "x"}, "field": "phone", "value": "1"})
    assert_problem(raw(client, "/v1/vault/encrypt", admin, vault.replace('"x"', f'"{bad}"')), 422)
    public = json.dumps(public_body()).replace("dev-1", f"dev{bad}")
    assert_problem(raw(client, "/v1/public/consents", site_headers(demo), public), 422)
    key = json.dumps(consent_body()).replace('"user_agent"', f'"user{bad}agent"')
    assert_problem(raw(client, "/v1/consents", admin, key), 422)
    assert events(ctx) == before


def test_deep_nesting_is_400_not_a_recursion_error(client, admin, demo, ctx):
    deep = "[" * 30_000 + "]" * 30_000
    assert "nested" in assert_problem(raw(client, "/v1/consents", admin, deep), 400)["detail"]
    assert_problem(raw(client, "/v1/public/consents", site_headers(demo), deep), 400)
    nested: object = "x"
    for _ in range(40):  # few brackets, but deeper than the limit
        nested = [nested]
    over = json.dumps(consent_body(proof={"url": nested}))
    assert_problem(raw(client, "/v1/consents", admin, over), 400)
    assert events(ctx) == 0


def test_oversized_numbers_are_422(client, admin, demo):
    request = client.post(
        "/v1/requests",
        headers=admin,
        json={
            "type": "access",
            "identities": [{"type": "email", "value": "anna@example.org"}],
            "verification": {"method": "dpo", "note": "known customer"},
        },
    ).get_json()
    for number in ("9" * 5000, "9" * 50, "1e999", "NaN", "-Infinity"):
        body = '{"months": ' + number + ', "reason": "x"}'
        assert_problem(raw(client, f"/v1/requests/{request['id']}/extend", admin, body), 422)
    assert client.get(f"/v1/requests/{request['id']}", headers=admin).get_json()["extension_months"] == 0


def test_out_of_range_queries_are_422(client, admin):
    body = assert_problem(client.get("/v1/events?after=99999999999999999999", headers=admin), 422)
    assert "after" in body["errors"]
    assert_problem(client.get("/v1/vault/access-log?after=99999999999999999999", headers=admin), 422)
    body = assert_problem(client.get("/v1/requests?due_within=P99999999999Y", headers=admin), 422)
    assert "due_within" in body["errors"]
    assert client.get("/v1/requests?due_within=P7D", headers=admin).status_code == 200


def test_durations_are_bounded_before_any_arithmetic():
    for text in ("P99999999999Y", "P1000Y", "PT9999999999S", "P" + "9" * 5000 + "D", "P\u0663D"):
        with pytest.raises(DurationError):
            parse_duration(text)
    assert parse_duration("P999Y").years == 999
    longest = "P999Y9999M9999W99999DT999999H9999999M999999999S"
    assert add_duration(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), longest).year < 9999  # no overflow


@pytest.mark.parametrize("path", ["/v1/cookies/%ED%A0%80", "/v1/cookies/a%00b", "/v1/cookies/%FF"])
def test_undecodable_or_nul_paths_are_422_and_store_nothing(client, admin, demo, path):
    cookie = {"domain": "shop.example", "provider": "Shop", "duration": "P1D", "purpose": "analytics"}
    assert_problem(client.put(path, headers=admin, json=cookie), 422)
    names = [c["name"] for c in client.get("/v1/cookies", headers=admin).get_json()]
    assert not [n for n in names if "\ufffd" in n or "\x00" in n]


def test_nul_in_a_query_string_is_422(client, admin):
    assert_problem(client.get("/v1/requests?state=a%00b", headers=admin), 422)
    assert_problem(client.get("/v1/requests?state=%ED%A0%80", headers=admin), 422)


@pytest.mark.parametrize("granted", ['"yes"', "1", '"off"', "0", '"true"', "null"])
def test_decisions_accept_only_json_booleans(client, admin, demo, ctx, granted):
    body = json.dumps(consent_body()).replace('"granted": true', f'"granted": {granted}')
    assert "decisions" in assert_problem(raw(client, "/v1/consents", admin, body), 422)["errors"]
    public = json.dumps(public_body()).replace('"granted": true', f'"granted": {granted}')
    assert_problem(raw(client, "/v1/public/consents", site_headers(demo), public), 422)
    assert events(ctx) == 0


def test_a_chunked_body_over_the_limit_is_413(client, admin, demo, ctx):
    big = json.dumps(consent_body(proof={"user_agent": "x" * 70_000})).encode()
    response = client.post(
        "/v1/consents",
        headers={**admin, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        input_stream=io.BytesIO(big),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert "65536" in assert_problem(response, 413)["detail"]
    small = json.dumps(consent_body()).encode()
    response = client.post(
        "/v1/consents",
        headers={**admin, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        input_stream=io.BytesIO(small),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert events(ctx) == 2


@pytest.mark.parametrize("kind", [{}, [], 1, None])
def test_an_identity_type_that_is_not_a_string_is_422_on_the_gate(client, admin, demo, kind):
    body = {"subject": {"type": kind, "value": "anna@example.org"}, "purpose": "newsletter"}
    assert_problem(client.post("/v1/decisions", headers=admin, json=body), 422)


def test_a_bad_key_holding_bad_text_is_one_422(client, admin, demo):
    body = '{"subject": {"type": "email", "value": "a@b.org"}, "purpose": "newsletter", "x\\u0000": {"y": "\\ud800"}}'
    problem = assert_problem(raw(client, "/v1/decisions", admin, body), 422)
    assert problem["errors"] == {
        "x\\x00": {
            "_schema": ["key must not contain a NUL character"],
            "y": ["must not contain a lone surrogate (not valid Unicode text)"],
        }
    }
