"""A DPO's notes and reasons are sealed under the subject's key: readable through the API while
the key exists, gone from the database and the API once the subject is shredded, and the
request's audit chain still verifies."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from consent_service.auditlog import service as auditlog
from consent_service.auditlog.notes import NOTE_ERASED
from consent_service.db import Base

CANARY = f"Zelda-{secrets.token_hex(4)}"
VERIFY_NOTE = f"ID card of {CANARY} checked at the desk"
EXTEND_REASON = f"{CANARY} sent 40 boxes of letters"
REJECT_REASON = f"{CANARY} asked twelve times this month"
LIFT_REASON = f"{CANARY}'s address was verified"


def raw_database(ctx: Any) -> str:
    """Every row of every table, as text: what someone with a copy of the database reads."""
    out = []
    with ctx.uow(write=False) as uow:
        for table in Base.metadata.sorted_tables:
            for row in uow.session.execute(select(table)):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def post(client, headers, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, headers=headers, json=body)
    assert response.status_code < 300, response.get_json()
    return response.get_json()


def test_notes_are_readable_until_the_subject_is_shredded(client, admin, demo, ctx) -> None:
    identity = [{"type": "email", "value": f"{CANARY.lower()}@example.org"}]
    access = post(
        client,
        admin,
        "/v1/requests",
        {"type": "access", "identities": identity, "verification": {"method": "dpo", "note": VERIFY_NOTE}},
    )
    post(client, admin, f"/v1/requests/{access['id']}/extend", {"months": 1, "reason": EXTEND_REASON})
    post(client, admin, f"/v1/requests/{access['id']}/reject", {"ground": "other", "reason": REJECT_REASON})
    restriction = post(
        client,
        admin,
        "/v1/requests",
        {
            "type": "restriction",
            "identities": identity,
            "verification": {"method": "dpo", "note": VERIFY_NOTE},
        },
    )
    post(client, admin, f"/v1/requests/{restriction['id']}/lift", {"reason": LIFT_REASON})

    assert CANARY not in raw_database(ctx)  # sealed from the start
    shown = client.get(f"/v1/requests/{access['id']}", headers=admin).get_json()
    texts = [e["details"].get("note") or e["details"].get("reason") for e in shown["audit_trail"]]
    assert VERIFY_NOTE in texts and EXTEND_REASON in texts and REJECT_REASON in texts
    lifted = client.get(f"/v1/requests/{restriction['id']}", headers=admin).get_json()
    lift_entry = next(e for e in lifted["audit_trail"] if e["action"] == "restriction_lifted")
    assert lift_entry["details"]["reason"] == LIFT_REASON
    verified = next(e for e in shown["audit_trail"] if e["details"].get("to") == "verified")
    assert {"why": "verified by the DPO"}.items() <= verified["details"].items()

    assert client.post(f"/v1/subjects/{access['subject_id']}/shred", headers=admin).status_code == 200

    assert CANARY not in raw_database(ctx)
    for request in (access, restriction):
        shown = client.get(f"/v1/requests/{request['id']}", headers=admin).get_json()
        assert CANARY not in str(shown)
        erased = [e for e in shown["audit_trail"] if NOTE_ERASED in e["details"].values()]
        assert erased, shown["audit_trail"]
        assert shown["audit_trail_ok"] is True
        with ctx.uow(write=False) as uow:
            report = auditlog.verify(uow.session, f"dsar:{request['id']}")
        assert report.ok and report.events_checked == len(shown["audit_trail"])
    assert client.get("/v1/ledger/verify", headers=admin).get_json()["ok"] is True


def test_a_subject_holds_reasons_are_sealed_and_erased_with_the_subject(client, admin, demo, ctx) -> None:
    from tests.api.helpers import consent_body

    subject_id = post(client, admin, "/v1/consents", consent_body(f"{CANARY.lower()}@example.org"))[
        "subject_id"
    ]
    placed = client.put(
        "/v1/holds/case-1",
        headers=admin,
        json={"scope": {"subject": subject_id}, "reason": f"{CANARY} sued us"},
    )
    assert placed.status_code == 201 and placed.get_json()["reason"] == f"{CANARY} sued us"
    released = post(client, admin, "/v1/holds/case-1/release", {"reason": f"{CANARY} settled"})
    assert released["release_reason"] == f"{CANARY} settled"
    assert client.get("/v1/holds/case-1", headers=admin).get_json()["reason"] == f"{CANARY} sued us"
    assert CANARY not in raw_database(ctx)

    assert client.post(f"/v1/subjects/{subject_id}/shred", headers=admin).status_code == 200

    assert CANARY not in raw_database(ctx)
    shown = client.get("/v1/holds/case-1", headers=admin).get_json()
    assert shown["reason"] == NOTE_ERASED and shown["release_reason"] == NOTE_ERASED
    with ctx.uow(write=False) as uow:
        assert auditlog.verify(uow.session, "holds").ok
