"""A CRM's own identity type across the API, on SQLite and PostgreSQL: registered once, then
accepted wherever a subject is named (consent, the gate and the batch gate, the segment export,
a data subject request), normalised by its rule before its blind index is computed; unknown
types and values that break the pattern are 422s naming what is known."""

from __future__ import annotations

from typing import Any

import pytest

from consent_service import create_app
from consent_service.demo import seed
from tests.api.helpers import assert_problem

SALESFORCE = {"case": "upper", "trim": True, "pattern": r"003[A-Z0-9]{12}", "dsar_allowed": True}
CONTACT = "003ABCDEF123456"


@pytest.fixture
def api(any_ctx: Any) -> tuple[Any, dict[str, str]]:
    from consent_service.auth.service import register_client

    seed(any_ctx)
    client = create_app(context=any_ctx).test_client()
    headers = {"Authorization": f"Bearer {register_client(any_ctx, 'crm', ['admin'])[1]}"}
    created = client.put("/v1/identity-types/salesforce_contact", headers=headers, json=SALESFORCE)
    assert created.status_code == 201, created.get_json()
    return client, headers


def consent(client: Any, headers: dict[str, str], value: str, granted: bool = True) -> Any:
    body = {
        "subject": {"type": "salesforce_contact", "value": value},
        "decisions": [{"purpose": "newsletter", "granted": granted}],
        "channel": "crm",
        "method": "api",
    }
    return client.post("/v1/consents", headers=headers, json=body)


def test_a_registered_type_names_a_subject_everywhere(api: Any) -> None:
    client, headers = api
    recorded = consent(client, headers, f"  {CONTACT.lower()} ")
    assert recorded.status_code == 201, recorded.get_json()
    subject_id = recorded.get_json()["subject_id"]

    # the same contact however the CRM spells it: trimmed and upper-cased before indexing
    for spelling in (CONTACT, CONTACT.lower(), f" {CONTACT}"):
        answer = client.post(
            "/v1/decisions",
            headers=headers,
            json={"subject": {"type": "salesforce_contact", "value": spelling}, "purpose": "newsletter"},
        )
        assert answer.status_code == 200 and answer.get_json()["allowed"] is True, answer.get_json()
    again = consent(client, headers, CONTACT)
    assert again.get_json()["subject_id"] == subject_id and again.get_json()["subject_created"] is False

    batch = client.post(
        "/v1/decisions/batch",
        headers=headers,
        json={
            "purpose": "newsletter",
            "subjects": [
                {"type": "salesforce_contact", "value": CONTACT.lower()},
                {"type": "salesforce_contact", "value": "003ZZZZZZZZZZZZ"},
            ],
        },
    )
    assert [r["allowed"] for r in batch.get_json()["results"]] == [True, False], batch.get_json()

    segment = client.get("/v1/segments/newsletter?identity=salesforce_contact", headers=headers).get_json()
    assert {"subject_id": subject_id, "identity": CONTACT} in [
        {k: item[k] for k in ("subject_id", "identity")} for item in segment["items"]
    ]

    resolved = client.post(
        "/v1/subjects/resolve", headers=headers, json={"type": "salesforce_contact", "value": CONTACT}
    )
    assert resolved.get_json()["subject_id"] == subject_id

    request = client.post(
        "/v1/requests",
        headers=headers,
        json={
            "type": "access",
            "identities": [{"type": "salesforce_contact", "value": CONTACT.lower()}],
            "verification": {"method": "dpo", "note": "contact confirmed by the account manager"},
        },
    )
    assert request.status_code == 201, request.get_json()
    assert request.get_json()["subject_id"] == subject_id

    consent(client, headers, CONTACT, granted=False)
    answer = client.post(
        "/v1/decisions",
        headers=headers,
        json={"subject": {"type": "salesforce_contact", "value": CONTACT}, "purpose": "newsletter"},
    ).get_json()
    assert (answer["allowed"], answer["reason"]) == (False, "consent_withdrawn")


def test_unknown_types_and_bad_values_are_422s_that_say_why(api: Any) -> None:
    client, headers = api
    unknown = client.post(
        "/v1/decisions",
        headers=headers,
        json={"subject": {"type": "hubspot_id", "value": "42"}, "purpose": "newsletter"},
    )
    body = assert_problem(unknown, 422)
    assert (
        "hubspot_id" in body["detail"]
        and "salesforce_contact" in body["detail"]
        and "email" in body["detail"]
    )
    assert_problem(consent(client, headers, "not-a-contact"), 422)
    assert_problem(
        client.post(
            "/v1/decisions/batch",
            headers=headers,
            json={"purpose": "newsletter", "subjects": [{"type": "hubspot_id", "value": "42"}]},
        ),
        422,
    )
    assert_problem(client.get("/v1/segments/newsletter?identity=hubspot_id", headers=headers), 422)
    nothing = client.get("/v1/events?limit=1000", headers=headers).get_json()["events"]
    assert all("hubspot" not in str(event) for event in nothing)


def test_dsar_use_and_normalisation_changes_follow_the_registration(api: Any) -> None:
    client, headers = api
    assert consent(client, headers, CONTACT).status_code == 201
    # normalisation is frozen while identities of the type exist; dsar_allowed may change
    changed = client.put(
        "/v1/identity-types/salesforce_contact", headers=headers, json=SALESFORCE | {"case": "keep"}
    )
    assert "blind indexes" in assert_problem(changed, 409)["detail"]
    closed = client.put(
        "/v1/identity-types/salesforce_contact", headers=headers, json=SALESFORCE | {"dsar_allowed": False}
    )
    assert closed.status_code == 200, closed.get_json()
    refused = client.post(
        "/v1/requests",
        headers=headers,
        json={
            "type": "access",
            "identities": [{"type": "salesforce_contact", "value": CONTACT}],
            "verification": {"method": "dpo", "note": "checked"},
        },
    )
    assert "data subject request" in assert_problem(refused, 422)["detail"]
    assert_problem(client.delete("/v1/identity-types/salesforce_contact", headers=headers), 409)


def test_a_store_is_searched_by_a_registered_type(api: Any, any_ctx: Any, tmp_path: Any) -> None:
    from sqlalchemy import create_engine, text

    from consent_service.dsar import execution

    client, headers = api
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE contacts (id INTEGER PRIMARY KEY, sf_id TEXT, name TEXT)"))
        conn.execute(
            text("INSERT INTO contacts VALUES (1, :sf, 'Carla'), (2, '003OTHER0000000', 'Dora')"),
            {"sf": CONTACT},
        )
    engine.dispose()
    store = {
        "type": "sql",
        "connection": {"url": url},
        "collections": {
            "contacts": {
                "primary_key": "id",
                "identities": {"salesforce_contact": "sf_id"},
                "fields": {"sf_id": {"category": "user.unique_id"}, "name": {"category": "user.name"}},
            }
        },
    }
    unknown = json_copy(store)
    unknown["collections"]["contacts"]["identities"] = {"zendesk_id": "sf_id"}
    refused = assert_problem(client.put("/v1/stores/crm", headers=headers, json=unknown), 422)
    assert refused["errors"] == {
        "collections.contacts.identities.zendesk_id": [
            "identity types are email, phone, customer_id, device_id, salesforce_contact"
        ]
    }
    assert client.put("/v1/stores/crm", headers=headers, json=store).status_code == 201

    consent(client, headers, CONTACT)
    request = client.post(
        "/v1/requests",
        headers=headers,
        json={
            "type": "access",
            "identities": [{"type": "salesforce_contact", "value": f" {CONTACT.lower()}"}],
            "verification": {"method": "dpo", "note": "contact confirmed by the account manager"},
        },
    ).get_json()
    assert execution.run_request(any_ctx, request["id"], actor="test")["request"]["state"] == "completed"
    package = client.get(f"/v1/requests/{request['id']}/package", headers=headers).get_json()
    # the store is asked with the value as the type's rule normalised it: the CRM's own spelling
    assert package["stores"]["crm"]["contacts"] == [{"id": 1, "sf_id": CONTACT, "name": "Carla"}]


def json_copy(doc: Any) -> Any:
    import json

    return json.loads(json.dumps(doc))
