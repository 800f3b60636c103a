"""Double opt-in end to end: a grant for an e-mail address on a purpose that asks for
confirmation is pending (the gate says ``confirmation_pending``), the confirmation e-mail reaches
a real SMTP server, a test client opens its link (GET shows a button, never confirms) and POSTs,
and the gate allows; expiry on a moved clock, reuse refused, resend rate limited, purge."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from consent_service.demo import DEMO_PURPOSES
from consent_service.dsar import outbox
from consent_service.optin import service as optin
from tests.api.helpers import consent_body
from tests.api.mail import text_of

NEWSLETTER_DOI = {**DEMO_PURPOSES["newsletter"], "confirmation": "double_opt_in"}


@pytest.fixture
def doi(dpo, auth):
    client, headers = dpo
    response = client.put("/v1/purposes/newsletter", headers=auth, json=NEWSLETTER_DOI)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["confirmation"] == "double_opt_in"
    return client, headers


def gate(client, headers, value: str = "anna@example.org") -> dict[str, Any]:
    body = {"subject": {"type": "email", "value": value}, "purpose": "newsletter"}
    response = client.post("/v1/decisions", headers=headers, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def sign_up(client, headers, value: str = "anna@example.org", language: str = "de") -> dict[str, Any]:
    body = consent_body(value, decisions=[{"purpose": "newsletter", "granted": True}], language=language)
    response = client.post("/v1/consents", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def mails(ctx, inbox, count: int) -> list[Any]:
    outbox.deliver(ctx)
    return inbox.of_kind("optin_confirmation", count)


def link_of(message) -> str:
    found = re.search(r"http://\S+/privacy/confirm\?token=(\S+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def test_a_grant_waits_for_the_click_and_the_click_makes_it_effective(doi, clocked_ctx, smtp, clock):
    client, headers = doi
    _, inbox = smtp
    recorded = sign_up(client, headers)
    pending = recorded["events"][0]
    assert pending["decision"] == "pending"
    answer = gate(client, headers)
    assert (answer["allowed"], answer["reason"]) == (False, "confirmation_pending")

    [message] = mails(clocked_ctx, inbox, 1)
    assert message["To"] == "anna@example.org"
    assert "Bitte bestätigen Sie: Newsletter" in message["Subject"]
    assert "Sendet Ihnen unseren Newsletter per E-Mail." in text_of(message)
    token = link_of(message)

    # a scanner prefetching the link confirms nothing
    page = client.get(f"/privacy/confirm?token={token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="de"' in html and "Bestätigen" in html and "Sendet Ihnen unseren Newsletter" in html
    assert "Content-Security-Policy" in page.headers
    assert gate(client, headers)["reason"] == "confirmation_pending"

    clock.advance(hours=3)
    # another device: a fresh client without any cookie of the first
    phone = client.application.test_client()
    done = phone.post(
        "/privacy/confirm",
        data={"token": token},
        headers={"User-Agent": "Phone/1.0"},
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    assert done.status_code == 303, done.get_data(as_text=True)
    assert "Ihre Einwilligung ist bestätigt" in phone.get(done.headers["Location"]).get_data(as_text=True)

    answer = gate(client, headers)
    assert (answer["allowed"], answer["reason"]) == (True, "consent_granted")
    from consent_service.ledger.models import LedgerEvent

    with clocked_ctx.uow(write=False) as uow:
        confirmed = uow.session.scalars(select(LedgerEvent).where(LedgerEvent.id == answer["event_id"])).one()
        assert confirmed is not None and confirmed.decision == "granted"
        assert confirmed.related_event_id == pending["id"]

    # the link works once
    again = phone.post("/privacy/confirm", data={"token": token})
    assert again.status_code == 410
    used = again.get_data(as_text=True)
    assert "<h1>Ihre Einwilligung ist bereits bestätigt</h1>" in used and "Bestätigen Sie" not in used
    assert "Dieser Link wurde bereits verwendet." in used and 'name="token"' not in used  # no button
    with pytest.raises(Exception, match="used"):
        optin.confirm(clocked_ctx, token, ip=None, user_agent=None)


def test_an_english_grant_gets_the_english_mail_and_page(doi, clocked_ctx, smtp):
    client, headers = doi
    sign_up(client, headers, "ben@example.org", language="en-GB")
    [message] = mails(clocked_ctx, smtp[1], 1)
    assert message["Subject"] == "Please confirm: Newsletter"
    page = client.get(f"/privacy/confirm?token={link_of(message)}").get_data(as_text=True)
    assert 'lang="en"' in page and "Confirm your consent" in page


def test_an_expired_link_explains_itself_and_a_new_mail_is_rate_limited(doi, clocked_ctx, smtp, clock):
    client, headers = doi
    _, inbox = smtp
    sign_up(client, headers)
    token = link_of(mails(clocked_ctx, inbox, 1)[0])
    clock.advance(days=7, seconds=1)
    page = client.get(f"/privacy/confirm?token={token}").get_data(as_text=True)
    assert "<h1>Dieser Link ist abgelaufen</h1>" in page and "Bestätigen Sie" not in page
    refused = client.post("/privacy/confirm", data={"token": token})
    assert refused.status_code == 410
    assert gate(client, headers)["reason"] == "confirmation_pending"

    resent = client.post("/privacy/confirm/resend", data={"token": token})
    assert resent.status_code == 200, resent.get_data(as_text=True)
    [_, second] = mails(clocked_ctx, inbox, 2)
    new_token = link_of(second)
    assert new_token != token

    # at once again: refused, and no third e-mail
    again = client.post("/privacy/confirm/resend", data={"token": new_token})
    assert again.status_code == 429
    outbox.deliver(clocked_ctx)
    assert len(inbox.of_kind("optin_confirmation", 3, timeout=0.5)) == 2
    clock.advance(minutes=11)
    assert client.post("/privacy/confirm/resend", data={"token": new_token}).status_code == 200

    [*_, third] = mails(clocked_ctx, inbox, 3)
    # only the newest link confirms; the replaced ones are refused
    assert client.post("/privacy/confirm", data={"token": new_token}).status_code == 410
    assert client.post("/privacy/confirm", data={"token": link_of(third)}).status_code == 303
    assert gate(client, headers)["allowed"] is True


def test_resending_is_limited_per_address_whatever_the_purpose(doi, clocked_ctx, smtp, clock, auth):
    client, headers = doi
    _, inbox = smtp
    ads = {**DEMO_PURPOSES["ads"], "confirmation": "double_opt_in"}
    assert client.put("/v1/purposes/ads", headers=auth, json=ads).status_code == 200
    both = [{"purpose": "newsletter", "granted": True}, {"purpose": "ads", "granted": True}]
    body = consent_body("anna@example.org", decisions=both)
    assert client.post("/v1/consents", headers=headers, json=body).status_code == 201
    first, second = (link_of(m) for m in mails(clocked_ctx, inbox, 2))
    clock.advance(minutes=11)
    assert client.post("/privacy/confirm/resend", data={"token": first}).status_code == 200
    # the other purpose's link, to the same address at once: refused, no e-mail
    assert client.post("/privacy/confirm/resend", data={"token": second}).status_code == 429
    outbox.deliver(clocked_ctx)
    assert len(inbox.of_kind("optin_confirmation", 4, timeout=0.5)) == 3
    # another address is not held back by anna's e-mails
    sign_up(client, headers, "bert@example.org")
    clock.advance(minutes=11)
    [*_, bert] = mails(clocked_ctx, inbox, 4)
    assert client.post("/privacy/confirm/resend", data={"token": link_of(bert)}).status_code == 200
    assert client.post("/privacy/confirm/resend", data={"token": second}).status_code == 200


def test_unconfirmed_links_are_purged_after_their_retention(doi, clocked_ctx, smtp, clock):
    client, headers = doi
    sign_up(client, headers, "old@example.org")
    sign_up(client, headers, "kept@example.org")
    kept = link_of([m for m in mails(clocked_ctx, smtp[1], 2) if m["To"] == "kept@example.org"][0])
    optin.confirm(clocked_ctx, kept, ip=None, user_agent=None)
    clock.advance(days=29)
    assert optin.purge(clocked_ctx) == 0
    clock.advance(days=2)
    assert optin.purge(clocked_ctx) == 1
    assert gate(client, headers, "old@example.org")["reason"] == "confirmation_pending"
    assert gate(client, headers, "kept@example.org")["allowed"] is True


def test_other_subjects_and_purposes_are_granted_at_once(doi, clocked_ctx, smtp):
    client, headers = doi
    body = consent_body("dev_1", kind="device_id", decisions=[{"purpose": "newsletter", "granted": True}])
    response = client.post("/v1/consents", headers=headers, json=body)
    assert response.get_json()["events"][0]["decision"] == "granted"
    assert mails(clocked_ctx, smtp[1], 1) == [] or not smtp[1].messages


def test_an_unknown_or_missing_token_is_a_404_page(tclient):
    assert tclient.get("/privacy/confirm?token=nope").status_code == 404
    assert tclient.get("/privacy/confirm").status_code == 404
    assert tclient.post("/privacy/confirm", data={"token": "nope"}).status_code == 404


def test_a_bad_confirmation_setting_is_a_422(tclient, auth):
    bad = {**NEWSLETTER_DOI, "confirmation": "triple"}
    response = tclient.put("/v1/purposes/newsletter", headers=auth, json=bad)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_the_flow_on_postgresql(pg_url, tmp_path, smtp):
    from consent_service import create_app
    from consent_service.auth.service import register_client
    from consent_service.demo import seed
    from tests.conftest import make_context
    from tests.fakes import FixedClock

    clock = FixedClock()
    ctx = make_context(pg_url, tmp_path, clock=clock)
    try:
        controller, inbox = smtp
        ctx.config = ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port)
        seed(ctx)
        client = create_app(context=ctx).test_client()
        headers = {"Authorization": f"Bearer {register_client(ctx, 'crm', ['admin'])[1]}"}
        assert client.put("/v1/purposes/newsletter", headers=headers, json=NEWSLETTER_DOI).status_code == 200
        sign_up(client, headers)
        assert gate(client, headers)["reason"] == "confirmation_pending"
        token = link_of(mails(ctx, inbox, 1)[0])
        assert client.post("/privacy/confirm", data={"token": token}).status_code == 303
        assert client.post("/privacy/confirm", data={"token": token}).status_code == 410
        assert gate(client, headers)["allowed"] is True
        clock.advance(days=31)
        assert optin.purge(ctx) == 0  # a confirmed link is proof, not an unconfirmed request
    finally:
        ctx.db.dispose()


def test_the_cli_and_the_housekeeping_round_purge_unconfirmed_links(
    doi, clocked_ctx, smtp, clock, monkeypatch
):
    from click.testing import CliRunner

    from consent_service import jobs
    from consent_service.cli import main

    client, headers = doi
    sign_up(client, headers, "a@example.org")
    sign_up(client, headers, "b@example.org")
    clock.advance(days=31)
    monkeypatch.setattr("consent_service.cli.optin._context", lambda: clocked_ctx)
    result = CliRunner().invoke(main, ["optin", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 unconfirmed" in result.output
    sign_up(client, headers, "c@example.org")
    clock.advance(days=31)
    jobs.housekeeping(clocked_ctx)
    assert optin.purge(clocked_ctx) == 0


def test_the_proof_shows_both_steps_and_their_link(doi, clocked_ctx, smtp, auth):
    from tests.console_helpers import add_staff, sign_in

    client, headers = doi
    _, inbox = smtp
    recorded = sign_up(client, headers)
    [message] = mails(clocked_ctx, inbox, 1)
    phone = client.application.test_client()
    assert phone.post("/privacy/confirm", data={"token": link_of(message)}).status_code == 303

    subject_id = recorded["subject_id"]
    events = client.get(f"/v1/subjects/{subject_id}/history", headers=auth).get_json()["events"]
    pending, confirmed = (e for e in events if e["purpose"] == "newsletter")
    assert (pending["decision"], confirmed["decision"]) == ("pending", "granted")
    assert (pending["related_event_id"], confirmed["related_event_id"]) == (None, pending["id"])
    feed = client.get(f"/v1/events?subject_id={subject_id}", headers=auth).get_json()["events"]
    assert [e["related_event_id"] for e in feed if e["purpose"] == "newsletter"] == [None, pending["id"]]

    add_staff(clocked_ctx)
    console = client.application.test_client()
    sign_in(console)
    page = console.get(
        f"/console/subjects/{subject_id}/proof?purpose=newsletter", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert "pending confirmation" in page
    assert "confirms the pending grant of event 1 (double opt-in)" in page and pending["id"] in page
