"""``/v1/retention/preview`` and ``/v1/retention/runs`` over HTTP, and legal holds against
erasure requests and shredding, with a real SQL connector on an SQLite store file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from consent_service.erasure.holds import SEALED_IN_REPORT
from tests.api.helpers import assert_problem, crm_store
from tests.api.test_execution_api import open_verified, run_queued

RULE = {
    "description": "customers are deleted a year after their last login",
    "applies_to": {"store": "crm", "collection": "customers"},
    "period": "P1Y",
    "trigger": {"type": "last_activity", "field": "last_login"},
    "action": "delete",
}


def crm_with_logins(client: Any, headers: dict[str, str], tmp_path: Path) -> str:
    url = crm_store(client, headers, tmp_path, ((1, "anna@example.org", "Anna"), (2, "b@x.org", "B")))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE customers ADD COLUMN last_login TIMESTAMP"))
        conn.execute(text("UPDATE customers SET last_login = '2020-05-01 10:00:00'"))
    engine.dispose()
    return url


def customers(url: str) -> list[int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM customers ORDER BY id"))]
    engine.dispose()
    return ids


def test_preview_then_run_then_read_the_run(
    client: Any, admin: dict[str, str], demo: Any, tmp_path: Path
) -> None:
    url = crm_with_logins(client, admin, tmp_path)
    assert client.put("/v1/retention/rules/inactive", headers=admin, json=RULE).status_code == 201

    preview = client.get("/v1/retention/preview?store=crm", headers=admin)
    assert preview.status_code == 200
    entry = preview.get_json()["rules"][0]
    assert (entry["rule"], entry["candidates"], entry["deleted"]) == ("inactive", 2, 0)
    assert customers(url) == [1, 2]

    started = client.post("/v1/retention/runs", headers=admin, json={"store": "crm"})
    assert started.status_code == 202, started.get_json()
    run = started.get_json()
    assert run["state"] == "completed"  # no task queue in tests: it ran at once
    assert run["report"]["rules"][0]["deleted"] == 2
    assert customers(url) == []

    shown = client.get(f"/v1/retention/runs/{run['id']}", headers=admin).get_json()
    assert shown["log"]["log"] == "retention" and shown["log"]["seq"] == run["audit_seq"]
    listed = client.get("/v1/retention/runs", headers=admin).get_json()
    assert [r["id"] for r in listed] == [run["id"]]
    assert listed[0]["report"] == {"totals": run["report"]["totals"]}


def test_bad_input_and_scopes(client: Any, admin: dict[str, str], token: Any) -> None:
    assert_problem(client.post("/v1/retention/runs", headers=admin, json={"dry_run": "maybe"}), 422)
    assert_problem(client.post("/v1/retention/runs", headers=admin, json={"when": "now"}), 422)
    assert_problem(client.post("/v1/retention/runs", headers=admin, json={"store": "nope"}), 404)
    assert_problem(client.get("/v1/retention/preview?store=nope", headers=admin), 404)
    assert_problem(client.get("/v1/retention/runs/unknown", headers=admin), 404)
    assert_problem(client.get("/v1/retention/runs?limit=0", headers=admin), 422)
    assert_problem(client.get("/v1/retention/runs"), 401)
    other = {"Authorization": f"Bearer {token('consent:read')}"}
    assert_problem(client.post("/v1/retention/runs", headers=other, json={}), 403)
    assert client.get("/v1/retention/runs", headers=admin).get_json() == []  # nothing half written


def test_a_held_subject_survives_erasure_and_cannot_be_shredded(
    client: Any, admin: dict[str, str], demo: Any, tmp_path: Path
) -> None:
    url = crm_store(client, admin, tmp_path, ((1, "anna@example.org", "Anna"), (2, "b@x.org", "B")))
    consent = {
        "subject": {"type": "email", "value": "anna@example.org"},
        "decisions": [{"purpose": "newsletter", "granted": True}],
        "channel": "web_form",
        "method": "custom",
    }
    subject = client.post("/v1/consents", headers=admin, json=consent).get_json()["subject_id"]
    hold = {"scope": {"subject": subject}, "reason": "court order 4 O 12/26"}
    assert client.put("/v1/holds/anna", headers=admin, json=hold).status_code == 201

    shred = assert_problem(client.post(f"/v1/subjects/{subject}/shred", headers=admin), 409)
    assert "'anna'" in shred["detail"] and "court order" not in str(shred)  # the reason is sealed

    erasure = open_verified(client, admin, "erasure")
    done = run_queued(client, admin, erasure)
    assert done["state"] == "completed"
    assert customers(url) == [1, 2]  # kept
    reports = client.get(f"/v1/requests/{erasure}/report", headers=admin).get_json()
    crm = next(r for r in reports if r["store"] == "crm")["report"]
    held = crm["collections"][0]
    assert held["action"] == "hold" and held["legal_holds"][0]["reason"] == SEALED_IN_REPORT
    decision = client.post(
        "/v1/decisions",
        headers=admin,
        json={"subject": {"type": "email", "value": "anna@example.org"}, "purpose": "newsletter"},
    ).get_json()
    assert decision["reason"] != "erased"  # the key was not destroyed

    # released: a new erasure request now erases and shreds
    release = client.post("/v1/holds/anna/release", headers=admin, json={"reason": "case closed"})
    assert release.status_code == 200
    again = open_verified(client, admin, "erasure")
    assert run_queued(client, admin, again)["state"] == "completed"
    assert customers(url) == [2]
