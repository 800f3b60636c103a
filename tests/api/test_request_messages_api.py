"""What the person is told, read from a real SMTP server (aiosmtpd): every transition of a
request sends its message in the request's language, and the request shows what went out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from consent_service.dsar import execution
from consent_service.dsar.request_models import OutboxMessage
from consent_service.erasure.shred import shred_subject
from consent_service.subjects import service as subjects
from tests.api.helpers import assert_problem, consent_body, crm_store
from tests.api.mail import code_in, text_of

AUTHORITY = {
    "supervisory_authority_name": "Berliner Beauftragte für Datenschutz und Informationsfreiheit",
    "supervisory_authority_url": "https://www.datenschutz-berlin.de",
}


@pytest.fixture
def berlin(dpo, clocked_ctx):
    clocked_ctx.config = clocked_ctx.config.with_overrides(timezone="Europe/Berlin", **AUTHORITY)
    return dpo


def post(client: Any, headers: dict[str, str], path: str, **body: Any) -> dict[str, Any]:
    response = client.post(path, headers=headers, json=body)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def test_a_paper_request_received_three_weeks_ago_extended_then_refused(berlin, smtp, clock):
    client, headers = berlin
    _, inbox = smtp
    three_weeks_ago = (clock.now - dt.timedelta(weeks=3)).isoformat()  # 10 January 2026
    request = post(
        client, headers, "/v1/requests",
        type="access", language="de-AT", received_at=three_weeks_ago,
        identities=[{"type": "email", "value": "anna@example.org"}],
        verification={"method": "dpo", "note": "letter signed, ID card copy enclosed"},
    )  # fmt: skip
    assert request["language"] == "de-AT" and request["state"] == "verified"
    assert request["due_at"].startswith("2026-02-10T22:59:59")  # end of 10 February in Berlin
    rid = request["id"]
    extended = post(client, headers, f"/v1/requests/{rid}/extend", months=1, reason="Daten in 14 Altsystemen")
    assert extended["due_at"].startswith("2026-03-10")
    refused = post(
        client, headers, f"/v1/requests/{rid}/reject",
        ground="excessive", reason="Dritter gleichlautender Antrag binnen vier Wochen.",
    )  # fmt: skip
    assert refused["state"] == "rejected" and refused["refusal_ground"] == "excessive"

    received, extension, refusal = (inbox.of_kind(k)[0] for k in ("received", "extended", "refused"))
    assert len(inbox.wait_for(3)) == 3 and not inbox.of_kind("verification_code", timeout=0)
    for message in (received, extension, refusal):
        assert message["To"] == "anna@example.org" and message["Content-Language"] == "de"
        text = text_of(message)
        assert f"Vorgangsnummer: {rid}" in text
        assert "Verantwortlicher: Example Controller GmbH" in text and "privacy@example.org" in text
    assert received["Subject"] == "Wir haben Ihre Datenschutzanfrage erhalten"
    body = text_of(received)
    assert "Am 10. Januar 2026 haben wir Ihren Antrag auf Auskunft" in body
    assert (
        "spätestens bis zum 10. Februar 2026" in body
        and "Datenschutzteam hat Ihre Identität bestätigt" in body
    )
    assert "ID card" not in body  # the DPO's note is not for the person
    body = text_of(extension)
    assert "spätestens bis zum 10. März 2026 (statt bis zum 10. Februar 2026)" in body
    assert "Der Grund:\nDaten in 14 Altsystemen" in body and "Art. 12 Abs. 3 DSGVO" in body
    body = text_of(refusal)
    assert refusal["Subject"] == "Wir können Ihrer Datenschutzanfrage nicht nachkommen"
    assert "Der Antrag ist exzessiv" in body and "Art. 12 Abs. 5 DSGVO" in body
    assert "Dritter gleichlautender Antrag binnen vier Wochen." in body
    assert (
        "bei Berliner Beauftragte für Datenschutz und Informationsfreiheit (https://www.datenschutz-berlin.de)"
        in body
    )
    assert "gerichtlichen Rechtsbehelf" in body and "Art. 12 Abs. 4" in body

    shown = client.get(f"/v1/requests/{rid}", headers=headers).get_json()
    assert [(m["kind"], m["to"], m["language"], m["state"]) for m in shown["messages"]] == [
        ("received", "a***@example.org", "de", "sent"),
        ("extended", "a***@example.org", "de", "sent"),
        ("refused", "a***@example.org", "de", "sent"),
    ]
    assert shown["refusal_ground"] == "excessive"
    assert any(e["details"].get("why") == "rejected by the DPO: excessive" for e in shown["audit_trail"])


def test_a_paper_request_without_an_e_mail_address_tells_the_dpo_to_write(dpo, smtp):
    client, headers = dpo
    _, inbox = smtp
    request = post(
        client, headers, "/v1/requests", type="access",
        identities=[{"type": "customer_id", "value": "4711"}],
        verification={"method": "dpo", "note": "signed letter"},
    )  # fmt: skip
    refused = post(client, headers, f"/v1/requests/{request['id']}/reject", ground="identity_not_verified")
    assert refused["refusal_ground"] == "identity_not_verified" and refused["language"] == "en"
    shown = client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()
    assert [(m["kind"], m["state"], m["note"]) for m in shown["messages"]] == [
        ("received", "not_sent", "no e-mail address to tell the person; tell them by post"),
        ("refused", "not_sent", "no e-mail address to tell the person; tell them by post"),
    ]
    assert [e["action"] for e in shown["audit_trail"]].count("person_not_told") == 2
    assert inbox.wait_for(1, timeout=0.3) == []


def test_an_email_request_is_told_received_then_gets_its_code_and_an_english_default(dpo, smtp):
    client, headers = dpo
    _, inbox = smtp
    request = post(
        client, headers, "/v1/requests", type="erasure", language="fr",
        identities=[{"type": "email", "value": "anna@example.org"}], verification={"method": "email"},
    )  # fmt: skip
    received = inbox.of_kind("received")[0]
    assert received["Content-Language"] == "en" and request["language"] == "fr"
    body = text_of(received)
    assert "we received your request for erasure of your personal data" in body
    assert "sending you a verification code" in body and "anna" not in body  # nothing but what was sent
    refused = post(client, headers, f"/v1/requests/{request['id']}/reject", ground="identity_not_verified")
    assert refused["state"] == "rejected"
    body = text_of(inbox.of_kind("refused")[0])  # never verified: to the address given
    assert "could not confirm that the request is yours" in body and "make the request again" in body
    assert "The reasons:" not in body  # none was given
    assert "the one of your habitual residence, place of work or place of the alleged infringement" in body


def test_refusals_need_a_known_ground_and_a_reason(dpo):
    client, headers = dpo
    request = post(
        client, headers, "/v1/requests", type="access",
        identities=[{"type": "email", "value": "anna@example.org"}], verification={"method": "email"},
    )  # fmt: skip
    path = f"/v1/requests/{request['id']}/reject"
    assert_problem(client.post(path, headers=headers, json={"reason": "no ground"}), 422)
    assert_problem(client.post(path, headers=headers, json={"ground": "bored", "reason": "x"}), 422)
    for ground in ("manifestly_unfounded", "excessive", "other"):
        assert_problem(client.post(path, headers=headers, json={"ground": ground}), 422)
    bad = client.post("/v1/requests", headers=headers, json={
        "type": "access", "language": "deutsch bitte", "verification": {"method": "email"},
        "identities": [{"type": "email", "value": "anna@example.org"}],
    })  # fmt: skip
    assert "language" in str(assert_problem(bad, 422)["errors"])
    long_tag = client.post("/v1/requests", headers=headers, json={
        "type": "access", "language": "de-1234abcd-1234abcd", "verification": {"method": "email"},
        "identities": [{"type": "email", "value": "anna@example.org"}],
    })  # fmt: skip
    assert "language" in str(assert_problem(long_tag, 422)["errors"])  # the column holds 16
    assert (
        client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()["state"] == "identity_pending"
    )


def test_repeated_requests_are_shown_to_the_dpo(dpo, clock):
    client, headers = dpo
    anna = [{"type": "email", "value": "anna@example.org"}]
    by_dpo = {"method": "dpo", "note": "known"}

    def open_one(kind: str = "access") -> dict[str, Any]:
        return post(client, headers, "/v1/requests", type=kind, identities=anna, verification=by_dpo)

    first = open_one()["id"]
    clock.advance(days=10)
    open_one("erasure")  # another type: no repetition
    opened = open_one()
    assert opened["repeats"] == {"count": 1, "window": "P3M", "request_ids": [first]}  # seen at once
    second = opened["id"]
    clock.advance(days=100)  # beyond P3M of the second
    third = open_one()["id"]
    repeats = {r["id"]: r["repeats"] for r in client.get("/v1/requests", headers=headers).get_json()}
    assert repeats[first] == {"count": 0, "window": "P3M", "request_ids": []}
    assert repeats[second] == {"count": 1, "window": "P3M", "request_ids": [first]}
    assert repeats[third]["count"] == 0
    shown = client.get(f"/v1/requests/{second}", headers=headers).get_json()
    assert shown["repeats"] == {"count": 1, "window": "P3M", "request_ids": [first]}


def run_by_dpo(client: Any, headers: dict[str, str], ctx: Any, kind: str, **extra: Any) -> dict[str, Any]:
    """Open a request for anna@example.org, verified by the DPO, and run it to completion."""
    request = post(
        client, headers, "/v1/requests", type=kind, **extra,
        identities=[{"type": "email", "value": "anna@example.org"}],
        verification={"method": "dpo", "note": "ID checked"},
    )  # fmt: skip
    assert execution.run_request(ctx, request["id"], actor="test")["request"]["state"] == "completed"
    return request


def test_the_erasure_confirmation_arrives_after_the_subject_is_shredded(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    crm_store(client, headers, tmp_path)
    subject = post(client, headers, "/v1/consents", **consent_body())["subject_id"]
    request = run_by_dpo(client, headers, clocked_ctx, "erasure", language="de")
    assert request["subject_id"] == subject
    with clocked_ctx.uow(write=False) as uow:
        assert subjects.data_key(uow.session, clocked_ctx.crypto, subject) is None  # shredded
        confirmation = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.sealed_with.is_not(None))
        ).one()
    assert confirmation.state == "sent" and confirmation.payload_ct == b""  # the address is gone
    (message,) = inbox.of_kind("completed_erasure")
    assert message["To"] == "anna@example.org" and message["Content-Language"] == "de"
    body = text_of(message)
    assert "in allen unseren Systemen gelöscht" in body and f"Vorgangsnummer: {request['id']}" in body
    shown = client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()
    assert [m["kind"] for m in shown["messages"]] == ["received", "completed_erasure"]


def test_an_erasure_kept_under_a_legal_hold_says_until_when(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    crm_store(client, headers, tmp_path)
    subject = post(client, headers, "/v1/consents", **consent_body())["subject_id"]
    hold = client.put(
        "/v1/holds/tax", headers=headers,
        json={"scope": {"subject": subject}, "reason": "§147 AO", "ends_at": "2031-12-31T23:59:59+00:00"},
    )  # fmt: skip
    assert hold.status_code == 201, hold.get_json()
    run_by_dpo(client, headers, clocked_ctx, "erasure")
    body = text_of(inbox.of_kind("completed_erasure")[0])
    assert "wherever no law obliges us to keep it" in body
    assert "under a legal obligation (Art. 17(3)(b) GDPR) until 31 December 2031" in body


def test_a_completed_access_request_sends_a_working_package_link(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    crm_store(client, headers, tmp_path)
    run_by_dpo(client, headers, clocked_ctx, "access", language="en-GB")
    body = text_of(inbox.of_kind("completed_access")[0])
    assert "Download it here until 3 February 2026" in body
    link = next(line for line in body.splitlines() if "/v1/packages/" in line)
    assert link.startswith("http://127.0.0.1:8000/v1/packages/")
    package = client.get(link.removeprefix("http://127.0.0.1:8000"))
    assert (
        package.status_code == 200 and package.get_json()["stores"]["crm"]["customers"][0]["name"] == "Anna"
    )


def test_restriction_objection_and_rectification_tell_the_person(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    crm_store(client, headers, tmp_path)
    restriction = post(
        client, headers, "/v1/requests", type="restriction", purposes=["newsletter"], language="de",
        identities=[{"type": "email", "value": "anna@example.org"}], verification={"method": "email"},
    )  # fmt: skip
    code = code_in(inbox.of_kind("verification_code")[0])
    assert (
        post(client, headers, f"/v1/requests/{restriction['id']}/verify", code=code)["state"] == "completed"
    )
    assert "Ab sofort speichern wir" in text_of(inbox.of_kind("restriction_applied")[0])
    post(client, headers, f"/v1/requests/{restriction['id']}/lift", reason="Richtigkeit bestätigt")
    body = text_of(inbox.of_kind("restriction_lifted")[0])
    assert "newsletter" in body and "Der Grund:\nRichtigkeit bestätigt" in body
    post(
        client, headers, "/v1/requests", type="objection", purposes=["newsletter"],
        identities=[{"type": "email", "value": "anna@example.org"}],
        verification={"method": "dpo", "note": "phone call"},
    )  # fmt: skip
    assert "for these purposes (Art. 21 GDPR): newsletter" in text_of(inbox.of_kind("objection_in_force")[0])
    run_by_dpo(client, headers, clocked_ctx, "rectification", changes={"name": "Anna Berg"})
    body = text_of(inbox.of_kind("completed_rectification")[0])
    assert "as you asked (name)" in body and "Anna Berg" not in body


def test_a_refusal_after_the_shredding_tells_the_dpo_the_address_is_gone(dpo, smtp, clocked_ctx):
    client, headers = dpo
    _, inbox = smtp
    request = post(
        client, headers, "/v1/requests", type="access",
        identities=[{"type": "email", "value": "anna@example.org"}], verification={"method": "email"},
    )  # fmt: skip
    inbox.of_kind("verification_code")
    shred_subject(clocked_ctx, request["subject_id"], actor_type="client", actor_id="dpo")
    post(client, headers, f"/v1/requests/{request['id']}/reject", ground="other", reason="data erased")
    shown = client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()
    assert shown["messages"][-1]["kind"] == "refused" and shown["messages"][-1]["state"] == "not_sent"
    assert "can no longer be read" in shown["messages"][-1]["note"]
    assert not inbox.of_kind("refused", timeout=0.3)


def test_the_package_speaks_the_language_its_message_is_written_in(dpo, smtp, clocked_ctx, tmp_path):
    client, headers = dpo
    _, inbox = smtp
    crm_store(client, headers, tmp_path)
    request_id = run_by_dpo(client, headers, clocked_ctx, "access", language="de-AT")["id"]
    assert inbox.of_kind("completed_access")[0]["Content-Language"] == "de"
    package = client.get(f"/v1/requests/{request_id}/package?format=html", headers=headers)
    assert package.status_code == 200, package.get_data(as_text=True)
    html = package.get_data(as_text=True)
    assert "<html lang=de>" in html and "Ihre personenbezogenen Daten" in html and "E-Mail-Adresse" in html
