"""Bad input gets a clear problem+json 4xx: never a 500, never a partial write."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from consent_service.ledger.models import LedgerEvent
from tests.api.helpers import assert_problem, consent_body


def test_malformed_json_is_400(client, admin, demo):
    body = assert_problem(
        client.post("/v1/consents", headers={**admin, "Content-Type": "application/json"}, data="{bad"), 400
    )
    assert "JSON" in body["detail"]


def test_schema_errors_are_422_with_field_errors(client, admin, demo):
    body = assert_problem(client.post("/v1/consents", headers=admin, json={"decisions": []}), 422)
    assert {"channel", "method", "decisions"} <= set(body["errors"])
    body = assert_problem(
        client.post("/v1/consents", headers=admin, json=consent_body(channel="carrier-pigeon")), 422
    )
    assert "channel" in body["errors"]
    both = consent_body(subject_id="sub_x")
    assert_problem(client.post("/v1/consents", headers=admin, json=both), 422)
    assert_problem(client.post("/v1/consents", headers=admin, json=[1, 2]), 422)
    assert_problem(
        client.post("/v1/consents", headers=admin, json=consent_body(decisions=[{"granted": True}])), 422
    )


def test_body_over_64_kib_is_413(client, admin, demo):
    big = consent_body(proof={"user_agent": "x" * 70_000})
    body = assert_problem(client.post("/v1/consents", headers=admin, json=big), 413)
    assert "65536" in body["detail"]


def test_unknown_urls_and_methods(client, admin):
    assert_problem(client.get("/v1/nothing-here"), 404)
    response = client.delete("/v1/decisions", headers=admin)
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_unexpected_errors_are_a_problem_500_without_internals(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    body = assert_problem(client.get("/boom"), 500)
    assert "secret" not in json.dumps(body)


def test_consent_for_an_erased_subject_is_refused(client, admin, demo, ctx):
    from sqlalchemy import update

    from consent_service.subjects.models import SubjectKey

    subject_id = client.post("/v1/consents", headers=admin, json=consent_body()).get_json()["subject_id"]
    with ctx.uow() as uow:
        uow.session.execute(update(SubjectKey).values(wrapped_key=None))
        uow.commit()
    assert_problem(client.post("/v1/consents", headers=admin, json=consent_body()), 409)
    history = client.get(f"/v1/subjects/{subject_id}/history", headers=admin).get_json()
    assert history["identities"][0]["value"] == "[erased]" and history["events"][0]["proof"] == "[erased]"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(
        ["/v1/consents", "/v1/decisions", "/v1/decisions/batch", "/v1/subjects/resolve", "/v1/subjects/link"]
    ),
    payload=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "subject": json_values,
                "subject_id": json_values,
                "decisions": json_values,
                "purpose": json_values,
                "subjects": json_values,
                "channel": st.sampled_from(["api", "banner", 3]),
                "method": st.sampled_from(["api", None]),
                "proof": json_values,
                "type": json_values,
                "value": json_values,
                "from": json_values,
                "to": json_values,
            },
        ),
    ),
)
def test_arbitrary_json_never_causes_a_500_or_a_partial_write(client, admin, demo, ctx, path, payload):
    with ctx.uow(write=False) as uow:
        before = uow.session.scalar(select(func.count()).select_from(LedgerEvent))
    response = client.post(path, headers=admin, json=payload)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        with ctx.uow(write=False) as uow:
            assert uow.session.scalar(select(func.count()).select_from(LedgerEvent)) == before


@pytest.mark.parametrize("raw", ["", "null", "[]", '"x"', '{"subject":', "\u00ff\u00fe"])
def test_odd_bodies_are_4xx(client, admin, demo, raw):
    response = client.post("/v1/consents", headers={**admin, "Content-Type": "application/json"}, data=raw)
    assert 400 <= response.status_code < 500 and response.mimetype == "application/problem+json"
