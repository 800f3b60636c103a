"""A request acts only on verified identities: each e-mail address gets its own code, an identity
linked to the verified subject counts, anything else needs the DPO; and the package, the report
and the webhooks hold nothing found only through an identity left unverified (issue 10, part 1).

Real SMTP (aiosmtpd) for the codes and a real SQLite store for the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from consent_service.dsar import execution
from consent_service.dsar.request_models import OutboxMessage
from tests.api.helpers import CRM_STORE, assert_problem, consent_body, crm_store
from tests.api.mail import code_in

ATTACKER, VICTIM = "mallory@example.net", "vera@example.org"
ROWS = ((1, ATTACKER, "Mallory"), (2, VICTIM, "Vera Victim"))


def store_with_customer_ids(client: Any, headers: dict[str, str], tmp_path: Path) -> str:
    """The crm store of two customers, whose ``id`` is also the ``customer_id`` identity."""
    url = crm_store(client, headers, tmp_path, ROWS)
    spec = json.loads(json.dumps(CRM_STORE))
    spec["collections"]["customers"]["identities"] = {"email": "email", "customer_id": "id"}
    replaced = client.put("/v1/stores/crm", headers=headers, json=spec | {"connection": {"url": url}})
    assert replaced.status_code == 200, replaced.get_json()
    return url


def codes_by_address(inbox: Any, count: int) -> dict[str, str]:
    messages = inbox.of_kind("verification_code", count)
    assert len(messages) == count
    return {message["To"]: code_in(message) for message in messages}


def open_request(client: Any, headers: dict[str, str], kind: str, identities: list[dict[str, str]]) -> str:
    body = {"type": kind, "identities": identities, "verification": {"method": "email"}}
    created = client.post("/v1/requests", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def verify(client: Any, headers: dict[str, str], request_id: str, **body: Any) -> Any:
    return client.post(f"/v1/requests/{request_id}/verify", headers=headers, json=body)


def emails(*addresses: str) -> list[dict[str, str]]:
    return [{"type": "email", "value": a} for a in addresses]


def test_the_attackers_code_never_opens_the_victims_data(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    store_with_customer_ids(client, headers, tmp_path)
    access = open_request(client, headers, "access", emails(ATTACKER, VICTIM))
    codes = codes_by_address(inbox, 2)
    assert set(codes) == {ATTACKER, VICTIM}  # the victim's address got its own code

    assert verify(client, headers, access, code=codes[ATTACKER]).get_json()["state"] == "verified"
    result = execution.run_request(clocked_ctx, access, actor="test")
    assert result["request"]["state"] == "completed"

    package = client.get(f"/v1/requests/{access}/package", headers=headers)
    assert package.get_json()["stores"]["crm"]["customers"] == [
        {"id": 1, "email": ATTACKER, "name": "Mallory"}
    ]
    for fmt in ("json", "html"):
        content = client.get(f"/v1/requests/{access}/package?format={fmt}", headers=headers).text
        assert VICTIM not in content and "Vera" not in content
    report = client.get(f"/v1/requests/{access}/report", headers=headers).get_json()
    assert VICTIM not in json.dumps(report)
    shown = client.get(f"/v1/requests/{access}", headers=headers).get_json()
    done = next(e for e in shown["audit_trail"] if e["action"] == "store_completed")
    assert done["details"]["rows"] == 1
    assert [i["verification"] for i in shown["identities"]] == ["code", "pending"]
    left_out = next(e for e in shown["audit_trail"] if e["action"] == "identities_left_out")
    assert left_out["details"]["identities"] == [
        {"position": 1, "type": "email", "value": "v***@example.org"}
    ]
    assert VICTIM not in json.dumps(shown["audit_trail"])


def test_an_erasure_by_the_attacker_leaves_the_victim_untouched_and_untold(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    url = store_with_customer_ids(client, headers, tmp_path)
    recipient = {
        "name": "Mail partner GmbH",
        "endpoint": "http://127.0.0.1:9/hook",
        "secret": "a-shared-secret-of-16+",
        "events": ["erasure"],
    }
    assert client.put("/v1/recipients/mailer", headers=headers, json=recipient).status_code in (200, 201)
    victim = client.post(
        "/v1/consents",
        headers=headers,
        json=consent_body(VICTIM, "email", decisions=[{"purpose": "newsletter", "granted": True}]),
    ).get_json()["subject_id"]
    erasure = open_request(
        client, headers, "erasure", emails(ATTACKER) + [{"type": "customer_id", "value": "2"}]
    )
    codes = codes_by_address(inbox, 1)
    assert set(codes) == {ATTACKER}  # no code for a customer id: it needs the DPO
    assert verify(client, headers, erasure, code=codes[ATTACKER]).get_json()["state"] == "verified"
    assert execution.run_request(clocked_ctx, erasure, actor="test")["request"]["state"] == "completed"

    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM customers")).scalars().all() == [2]
    engine.dispose()
    report = client.get(f"/v1/requests/{erasure}/report", headers=headers).get_json()
    assert [r["report"]["collections"][0]["deleted"] for r in report] == [1]
    with clocked_ctx.uow(write=False) as uow:
        hooks = [
            json.loads(m.payload_ct)
            for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhook"))
        ]
    assert len(hooks) == 1
    body = json.dumps(hooks[0])
    assert victim not in body and VICTIM not in body and '"2"' not in body
    requester = client.get(f"/v1/requests/{erasure}", headers=headers).get_json()["subject_id"]
    assert requester != victim and requester in body


def test_the_victims_code_is_needed_for_the_victims_address(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    store_with_customer_ids(client, headers, tmp_path)
    access = open_request(client, headers, "access", emails(ATTACKER, VICTIM))
    codes = codes_by_address(inbox, 2)
    # the attacker's code does not count for the victim's address, and once used it is spent
    assert verify(client, headers, access, code=codes[ATTACKER]).status_code == 200
    shown = client.get(f"/v1/requests/{access}", headers=headers).get_json()
    assert [i["verification"] for i in shown["identities"]] == ["code", "pending"]

    # a legitimate owner of both addresses enters both codes before the request is verified
    both = open_request(client, headers, "access", emails(VICTIM, ATTACKER))
    newest = codes_by_address(inbox, 4)  # later messages win: the codes of the second request
    # the attacker's address is not the request's subject (the first one is): no verification yet
    assert verify(client, headers, both, code=newest[ATTACKER]).get_json()["state"] == "identity_pending"
    assert verify(client, headers, both, code=newest[VICTIM]).get_json()["state"] == "verified"
    result = execution.run_request(clocked_ctx, both, actor="test")
    rows = client.get(f"/v1/requests/{both}/package", headers=headers).get_json()["stores"]["crm"][
        "customers"
    ]
    assert result["request"]["state"] == "completed" and sorted(r["id"] for r in rows) == [1, 2]


def test_a_customer_id_needs_the_dpo_with_a_note(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    store_with_customer_ids(client, headers, tmp_path)
    identities = emails(ATTACKER) + [{"type": "customer_id", "value": "2"}]
    access = open_request(client, headers, "access", identities)
    codes = codes_by_address(inbox, 1)
    assert_problem(verify(client, headers, access, code=codes[ATTACKER], identities=[1]), 422)
    assert_problem(verify(client, headers, access, note="checked the contract", identities=[5]), 422)
    verified = verify(client, headers, access, note="checked the contract", identities=[1])
    assert verified.status_code == 200 and verified.get_json()["state"] == "verified"
    execution.run_request(clocked_ctx, access, actor="test")
    shown = client.get(f"/v1/requests/{access}", headers=headers).get_json()
    assert [i["verification"] for i in shown["identities"]] == ["pending", "dpo"]
    rows = client.get(f"/v1/requests/{access}/package", headers=headers).get_json()["stores"]["crm"][
        "customers"
    ]
    assert [r["id"] for r in rows] == [2]
    dpo_entry = next(e for e in shown["audit_trail"] if e["details"].get("to") == "verified")
    assert dpo_entry["details"]["note"] == "checked the contract"


def test_an_identity_linked_to_the_verified_subject_counts(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    store_with_customer_ids(client, headers, tmp_path)
    granted = [{"purpose": "newsletter", "granted": True}]
    person = client.post(
        "/v1/consents", headers=headers, json=consent_body(ATTACKER, "email", decisions=granted)
    )
    customer = client.post(
        "/v1/consents", headers=headers, json=consent_body("1", "customer_id", decisions=granted)
    )
    linked = client.post(
        "/v1/subjects/link",
        headers=headers,
        json={
            "from": {"subject_id": customer.get_json()["subject_id"]},
            "to": {"subject_id": person.get_json()["subject_id"]},
        },
    )
    assert linked.status_code == 200, linked.get_json()
    identities = emails(ATTACKER) + [
        {"type": "customer_id", "value": "1"},
        {"type": "customer_id", "value": "2"},
    ]
    access = open_request(client, headers, "access", identities)
    code = codes_by_address(inbox, 1)[ATTACKER]
    assert verify(client, headers, access, code=code).get_json()["state"] == "verified"
    execution.run_request(clocked_ctx, access, actor="test")
    shown = client.get(f"/v1/requests/{access}", headers=headers).get_json()
    assert [i["verification"] for i in shown["identities"]] == ["code", "linked", "pending"]
    rows = client.get(f"/v1/requests/{access}/package", headers=headers).get_json()["stores"]["crm"][
        "customers"
    ]
    assert [r["id"] for r in rows] == [1]


def test_new_codes_replace_expired_ones_for_every_address(dpo, smtp, clocked_ctx, clock):
    client, headers = dpo
    _, inbox = smtp
    request_id = open_request(client, headers, "access", emails("a@example.org", "b@example.org"))
    old = codes_by_address(inbox, 2)
    clock.advance(minutes=clocked_ctx.config.verification_code_minutes + 1)
    assert_problem(verify(client, headers, request_id, code=old["a@example.org"]), 409)

    renewed = client.post(f"/v1/requests/{request_id}/code", headers=headers)
    assert renewed.status_code == 200 and renewed.get_json()["state"] == "identity_pending"
    new = codes_by_address(inbox, 4)  # keyed by address: the later mail wins
    assert set(new) == {"a@example.org", "b@example.org"}
    if new["a@example.org"] != old["a@example.org"]:  # one in a million the same six digits
        assert_problem(verify(client, headers, request_id, code=old["a@example.org"]), 422)
    verified = verify(client, headers, request_id, code=new["a@example.org"])
    assert verified.status_code == 200 and verified.get_json()["state"] == "verified"
    trail = client.get(f"/v1/requests/{request_id}", headers=headers).get_json()["audit_trail"]
    assert [e["details"] for e in trail if e["action"] == "code_resent"] == [{"addresses": 2}]


def test_no_new_code_for_a_request_the_dpo_verified_or_an_unknown_one(dpo, smtp, clocked_ctx):
    client, headers = dpo
    body = {
        "type": "access",
        "identities": emails("a@example.org"),
        "verification": {"method": "dpo", "note": "ID seen"},
    }
    created = client.post("/v1/requests", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    assert_problem(client.post(f"/v1/requests/{created.get_json()['id']}/code", headers=headers), 409)
    assert_problem(client.post("/v1/requests/req_0000000000000000/code", headers=headers), 404)
