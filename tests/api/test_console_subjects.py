"""The console's subjects through the test client: lookup by e-mail, customer id and subject id,
no match, the notice text the person saw even after the purpose got a new version, receipts,
the proof of consent as page and as PDF, the audit log of every look, and the auditor's reading."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader

from consent_service import create_app
from consent_service.auditlog import service as auditlog
from consent_service.ledger import verification
from consent_service.staff.subject_access import LOG
from consent_service.subjects.service import IdentityRef
from tests.console_helpers import DPO, add_staff, sign_in, token
from tests.console_subjects_data import (
    ANNA,
    NEW_TEXT,
    NEW_TEXT_DE,
    OLD_TEXT,
    change_newsletter_text,
    consent,
    register_purposes,
)


@pytest.fixture
def world(clocked_ctx, clock) -> dict[str, Any]:
    """Anna consented to the newsletter (version 1) by web form; the text then changed (version 2)."""
    register_purposes(clocked_ctx)
    anna = consent(clocked_ctx, ANNA)
    clock.advance(days=3)
    change_newsletter_text(clocked_ctx)
    crm = consent(
        clocked_ctx, IdentityRef("customer_id", "C-1001"), channel="crm", method="api", language="de"
    )
    add_staff(clocked_ctx)
    add_staff(clocked_ctx, "auditor@example.org", "auditor")
    return {"anna": anna, "crm": crm}


@pytest.fixture
def client(clocked_ctx, world):
    return create_app(context=clocked_ctx).test_client()


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def search(client: Any, kind: str, value: str, language: str = "en") -> Any:
    page = client.get("/console/subjects", headers={"Accept-Language": language})
    return client.post(
        "/console/subjects",
        data={"csrf_token": token(text(page)), "kind": kind, "value": value},
        headers={"Accept-Language": language},
    )


def log_entries(ctx: Any) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return auditlog.entries(uow.session, LOG)


def staff_id(ctx: Any, email: str) -> str:
    from consent_service.staff import service as staff

    return next(u["id"] for u in staff.list_users(ctx) if u["email"] == email)


def test_a_lookup_by_email_finds_the_subject_and_shows_the_notice_the_person_saw(client, world, clocked_ctx):
    sign_in(client)
    assert client.get("/console/subjects").status_code == 200
    found = search(client, "email", "  anna@example.org ")
    subject_id = world["anna"].subject_id
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/console/subjects/{subject_id}")
    assert "anna@example.org" not in found.headers["Location"]
    page = text(client.get(found.headers["Location"], headers={"Accept-Language": "en"}))
    # the description of version 1, which Anna saw, not the current version 2
    assert OLD_TEXT in page and NEW_TEXT not in page
    assert "Version 1, language EN" in page
    assert "a***@example.org" in page and "anna@example.org" not in page
    assert (
        "web form" in page and "newsletter-signup" in page and "203.0.113.0" in page and "Firefox/140" in page
    )
    # the gate: the consent was given to version 1, the purpose is now at version 2
    row = re.search(r"<tr>\s*<td><code>newsletter</code>.*?</tr>", page, re.S)
    assert (
        row
        and "consent given to an earlier version of the purpose" in row.group(0)
        and ">no<" in row.group(0)
    )
    assert "no consent recorded" in page  # analytics
    # the receipt handed out at recording time, re-issued from the ledger: the same signature
    assert world["anna"].receipt["signature"]["value"] in page and "signature verifies" in page
    assert f"/console/subjects/{subject_id}/proof?purpose=newsletter" in page


def test_the_receipt_re_issued_from_the_ledger_is_the_one_the_person_received(world, clocked_ctx):
    from consent_service.ledger.proof import subject_record

    record = subject_record(clocked_ctx, world["anna"].subject_id)
    assert [r["document"] for r in record["receipts"]] == [world["anna"].receipt]
    assert record["receipts"][0]["verified"] is True


def test_a_lookup_by_customer_id_and_by_subject_id_and_one_without_a_match(client, world, clocked_ctx):
    sign_in(client)
    crm_id = world["crm"].subject_id
    assert search(client, "customer_id", "C-1001").headers["Location"].endswith(f"/console/subjects/{crm_id}")
    by_id = search(client, "subject_id", world["anna"].subject_id)
    assert by_id.headers["Location"].endswith(f"/console/subjects/{world['anna'].subject_id}")
    german = text(client.get(f"/console/subjects/{crm_id}", headers={"Accept-Language": "de"}))
    assert NEW_TEXT_DE in german and "Einwilligung erteilt" in german  # version 2, in German
    missing = search(client, "email", "nobody@example.org")
    assert missing.status_code == 200
    assert "No subject was found for the E-mail address given." in text(missing)
    assert "nobody@example.org" in text(missing)  # kept in the form, never in an address
    empty = search(client, "email", "")
    assert (
        empty.status_code == 422 and 'id="value-error"' in text(empty) and "There is a problem" in text(empty)
    )
    assert client.get("/console/subjects/sub_doesnotexist").status_code == 404


def test_every_lookup_and_view_is_in_the_audit_log_with_the_staff_user(client, world, clocked_ctx):
    sign_in(client)
    subject_id = world["anna"].subject_id
    search(client, "email", "anna@example.org")
    search(client, "email", "nobody@example.org")
    client.get(f"/console/subjects/{subject_id}")
    client.get(f"/console/subjects/{subject_id}/proof?purpose=newsletter")
    entries = log_entries(clocked_ctx)
    dpo = staff_id(clocked_ctx, DPO)
    assert [(e["actor"], e["action"], e["subject_id"]) for e in entries] == [
        (dpo, "looked_up", subject_id),
        (dpo, "looked_up", None),
        (dpo, "viewed", subject_id),
        (dpo, "proof_viewed", subject_id),
    ]
    assert entries[0]["details"] == {"by": "email", "found": True}
    assert entries[3]["details"] == {"purpose": "newsletter", "form": "html"}
    assert "anna@example.org" not in str(entries) and "nobody" not in str(entries)
    with clocked_ctx.uow(write=False) as uow:
        assert auditlog.verify(uow.session, LOG).ok


def test_the_proof_of_consent_page_and_pdf_carry_the_notice_and_the_verification(
    client, world, clocked_ctx, clock
):
    clock.advance(days=1)
    consent(clocked_ctx, ANNA, granted=False, method="reject_all")
    verification.run_now(clocked_ctx, started_by="auditor-check")  # the whole ledger, once
    sign_in(client)
    subject_id = world["anna"].subject_id
    page = client.get(
        f"/console/subjects/{subject_id}/proof?purpose=newsletter", headers={"Accept-Language": "en"}
    )
    html = text(page)
    assert page.status_code == 200
    assert "Proof of consent: Newsletter" in html and OLD_TEXT in html and NEW_TEXT in html
    assert "2 events for this purpose and its cookies, oldest first." in html
    assert html.index(OLD_TEXT) < html.index(NEW_TEXT)  # oldest first: version 1, then the withdrawal
    assert "withdrawn" in html and "rejected all" in html
    assert "These events verify." in html and "Events checked</th><td>2<" in html
    assert "intact" in html and "by auditor-check, up to event #" in html
    assert world["anna"].receipt["signature"]["value"] in html
    assert f"by {DPO} (data protection officer)" in html
    assert "Download as PDF" in html

    pdf = client.get(
        f"/console/subjects/{subject_id}/proof.pdf?purpose=newsletter", headers={"Accept-Language": "en"}
    )
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["Content-Disposition"]
    extracted = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).split())
    assert OLD_TEXT in extracted and NEW_TEXT in extracted
    assert "These events verify." in extracted and "intact" in extracted
    assert "signature verifies" in extracted and subject_id in extracted

    german = client.get(
        f"/console/subjects/{subject_id}/proof.pdf?purpose=newsletter", headers={"Accept-Language": "de"}
    )
    words = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(german.data)).pages).split())
    assert (
        "Nachweis der Einwilligung" in words
        and "Diese Ereignisse sind unverändert." in words
        and "intakt" in words
    )
    assert OLD_TEXT in words  # the notice as shown: in English, the language Anna saw it in
    forms = [e["details"].get("form") for e in log_entries(clocked_ctx) if e["action"] == "proof_viewed"]
    assert forms == ["html", "pdf", "pdf"]


def test_an_unknown_purpose_or_subject_has_no_proof(client, world):
    sign_in(client)
    subject_id = world["anna"].subject_id
    assert client.get(f"/console/subjects/{subject_id}/proof?purpose=nothing").status_code == 404
    assert client.get(f"/console/subjects/{subject_id}/proof").status_code == 404
    assert client.get("/console/subjects/sub_nobody/proof.pdf?purpose=newsletter").status_code == 404


def test_the_auditor_reads_it_all(client, world, clocked_ctx):
    sign_in(client, "auditor@example.org")
    subject_id = world["anna"].subject_id
    assert search(client, "email", "anna@example.org").status_code == 302
    assert OLD_TEXT in text(client.get(f"/console/subjects/{subject_id}"))
    assert client.get(f"/console/subjects/{subject_id}/proof?purpose=newsletter").status_code == 200
    assert client.get(f"/console/subjects/{subject_id}/proof.pdf?purpose=newsletter").status_code == 200
    auditor = staff_id(clocked_ctx, "auditor@example.org")
    assert {e["actor"] for e in log_entries(clocked_ctx)} == {auditor}


def test_signed_out_there_is_nothing_to_see(client, world):
    subject_id = world["anna"].subject_id
    for path in (
        "/console/subjects",
        f"/console/subjects/{subject_id}",
        f"/console/subjects/{subject_id}/proof.pdf?purpose=newsletter",
    ):
        assert client.get(path).headers["Location"].endswith("/console/login")
    assert (
        client.post("/console/subjects", data={"kind": "email", "value": "anna@example.org"}).status_code
        == 400
    )


def test_a_long_history_is_capped_with_a_note(client, world, clocked_ctx, monkeypatch):
    from consent_service.web.console import subjects

    monkeypatch.setattr(subjects, "HISTORY_SHOWN", 1)
    consent(clocked_ctx, ANNA, granted=False, method="reject_all")
    sign_in(client)
    page = text(
        client.get(f"/console/subjects/{world['anna'].subject_id}", headers={"Accept-Language": "en"})
    )
    assert "The latest 1 of 2 events are shown, newest first." in page
    assert "rejected all" in page and OLD_TEXT not in page.split('id="history"')[1].split('id="receipts"')[0]


def test_an_erased_person_shows_as_erased_and_the_gate_says_so(client, world, clocked_ctx):
    from consent_service.erasure.shred import shred_subject

    subject_id = world["anna"].subject_id
    shred_subject(clocked_ctx, subject_id, actor_type="staff", actor_id="test")
    sign_in(client)
    page = text(client.get(f"/console/subjects/{subject_id}", headers={"Accept-Language": "en"}))
    assert 'E-mail address: <span class="masked">erased</span>' in page
    assert "the person's data was erased" in page and "unreadable: the person's data was erased" in page
    assert OLD_TEXT in page  # the notice is the registry's, not the person's data


def test_the_record_reads_the_same_on_postgresql_and_sqlite(any_ctx):
    from consent_service.ledger.proof import proof_of_consent

    register_purposes(any_ctx)
    recorded = consent(any_ctx, ANNA)
    change_newsletter_text(any_ctx)
    document = proof_of_consent(any_ctx, recorded.subject_id, "newsletter")
    assert [e["notice"]["description"] for e in document["events"]] == [OLD_TEXT]
    assert document["purpose"]["description"] == NEW_TEXT and document["purpose"]["version"] == 2
    assert [r["document"] for r in document["receipts"]] == [recorded.receipt]
    assert document["verification"] == {"ok": True, "events_checked": 1, "problems": []}
    assert document["ledger"] == "events" and document["last_full_verification"] is None


def test_a_modified_event_does_not_verify_on_the_proof(clocked_ctx):
    from sqlalchemy import update

    from consent_service.ledger.models import LedgerEvent
    from consent_service.ledger.proof import proof_of_consent
    from tests.integration.helpers import disable_ledger_guards, raw

    register_purposes(clocked_ctx)
    recorded = consent(clocked_ctx, ANNA)
    seq = proof_of_consent(clocked_ctx, recorded.subject_id, "newsletter")["events"][0]["seq"]
    with raw(clocked_ctx) as conn:
        disable_ledger_guards(conn)
        conn.execute(update(LedgerEvent.__table__).where(LedgerEvent.seq == seq).values(decision="denied"))
    checked = proof_of_consent(clocked_ctx, recorded.subject_id, "newsletter")["verification"]
    assert checked["ok"] is False and checked["problems"] == [
        f"seq {seq}: content does not match its hash (modified)"
    ]


def test_a_cookie_decision_carries_the_gate_reason_of_its_purpose_in_the_api_and_the_page(
    client, world, clocked_ctx
):
    from consent_service.auth.service import register_client
    from consent_service.demo import DEMO_COOKIES
    from consent_service.ledger.service import DecisionInput
    from consent_service.registry import service as registry

    registry.save_cookie(clocked_ctx, "_ga", DEMO_COOKIES["_ga"])
    consent(
        clocked_ctx,
        ANNA,
        decisions=[DecisionInput("cookie", "_ga", True)],
        channel="banner",
        method="accept_all",
    )
    subject_id = world["anna"].subject_id
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'crm', ['consent:read'])[1]}"}
    items = client.get(f"/v1/subjects/{subject_id}/consents", headers=headers).get_json()["consents"]
    assert [(i["target_key"], i["reason"]) for i in items] == [
        ("_ga", "consent_granted"),
        ("newsletter", "consent_outdated"),
    ]
    sign_in(client)
    page = text(client.get(f"/console/subjects/{subject_id}", headers={"Accept-Language": "en"}))
    assert "<code>_ga</code> (purpose <code>analytics</code>): given – consent given" in page
    assert "cookie banner" in page and "accepted all" in page
