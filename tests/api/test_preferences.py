"""The preference centre end to end on the test client with a real SMTP server: the sign-in
e-mail (same answer for known and unknown addresses), the link (GET opens nothing, POST opens a
session), forged, expired and cross-kind tokens, CSRF, a change recorded as ``web_form`` /
``custom`` that the gate answers, its signed receipt, sites, and the rate limits."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from consent_service.crypto.signing import verify_signed
from consent_service.demo import DEMO_PURPOSES
from consent_service.dsar import outbox
from consent_service.ledger.models import LedgerEvent
from consent_service.ledger.queries import history
from consent_service.preferences import service as prefs
from consent_service.preferences import tokens
from consent_service.web.preferences import COOKIE
from tests.api.helpers import ask_for_link, consent_body
from tests.api.mail import text_of

ANNA = "anna@example.org"


def events(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(LedgerEvent)))


def latest(ctx) -> LedgerEvent:
    with ctx.uow(write=False) as uow:
        event = uow.session.scalars(select(LedgerEvent).order_by(LedgerEvent.seq.desc()).limit(1)).one()
        uow.session.expunge(event)
        return event


def gate(client, headers, purpose: str = "newsletter", value: str = ANNA) -> dict[str, Any]:
    body = {"subject": {"type": "email", "value": value}, "purpose": purpose}
    response = client.post("/v1/decisions", headers=headers, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def signin_mails(ctx, inbox, count: int) -> list[Any]:
    outbox.deliver(ctx)
    return inbox.of_kind("preferences_signin", count, timeout=2 if count == 0 else 5)


def token_of(message) -> str:
    found = re.search(r"http://\S+/privacy/preferences/signin\?token=(\S+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def sign_in(client, ctx, inbox, address: str = ANNA, count: int = 1, **query: str) -> str:
    """Ask for a link, open it (POST), and return the session's CSRF token from the choices page."""
    response = ask_for_link(client, address, "?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert response.status_code == 200
    token = token_of(signin_mails(ctx, inbox, count)[-1])
    response = client.post("/privacy/preferences/signin", data={"token": token})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/privacy/preferences/choices")
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return csrf_of(page.get_data(as_text=True))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_the_answer_is_the_same_for_known_and_unknown_addresses(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    known = ask_for_link(client, "  Anna@Example.org ", "?lang=en")
    unknown = ask_for_link(client, "nobody@example.org", "?lang=en")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert "Please check your inbox" in known.get_data(as_text=True)
    sent = signin_mails(clocked_ctx, inbox, 1)
    assert [m["To"] for m in sent] == [ANNA]  # only the known address, normalised
    assert "/privacy/preferences/signin?token=" in text_of(sent[0])
    assert ANNA not in token_of(sent[0])


def test_a_bad_address_is_a_form_error(prefs_world):
    client, _ = prefs_world
    response = ask_for_link(client, "not an address", "?lang=en")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "for example name@example.org" in html


def test_the_link_opens_a_session_only_by_post_and_a_change_is_recorded(prefs_world, clocked_ctx, smtp):
    client, headers = prefs_world
    _, inbox = smtp
    ask_for_link(client, ANNA)
    token = token_of(signin_mails(clocked_ctx, inbox, 1)[0])
    before = events(clocked_ctx)
    page = client.get(f"/privacy/preferences/signin?token={token}&lang=en")
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers  # a scanner's fetch opens nothing
    assert "Show my choices" in page.get_data(as_text=True)
    assert client.get("/privacy/preferences/choices").status_code == 303  # no session yet

    opened = client.post("/privacy/preferences/signin", data={"token": token})
    cookie = opened.headers["Set-Cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/privacy/preferences" in cookie
    html = client.get("/privacy/preferences/choices?lang=en").get_data(as_text=True)
    assert "Newsletter" in html and DEMO_PURPOSES["newsletter"]["descriptions"]["en"] in html
    assert "Allowed" in html
    assert "checked" not in html  # nothing pre-selected
    assert events(clocked_ctx) == before
    assert gate(client, headers)["allowed"] is True

    changed = client.post(
        "/privacy/preferences/choices?lang=en",
        data={"csrf_token": csrf_of(html), "purpose": "newsletter", "decision": "refuse"},
    )
    assert changed.status_code == 303
    assert events(clocked_ctx) == before + 1
    event = latest(clocked_ctx)
    assert (event.channel, event.method, event.decision) == ("web_form", "custom", "withdrawn")
    assert event.actor_type == "subject" and event.collection_point == "preference_centre"
    assert gate(client, headers) == {**gate(client, headers), "allowed": False, "reason": "consent_withdrawn"}

    after = client.get(changed.headers["Location"]).get_data(as_text=True)
    assert "Saved: Newsletter." in after and "Not allowed" in after
    pages = (
        client.get("/privacy/preferences").get_data(as_text=True),
        page.get_data(as_text=True),
        html,
        after,
    )
    assert all("<script" not in p for p in pages)  # everything works without JavaScript
    receipt_url = re.search(r'href="(/privacy/preferences/receipts/[^"]+)"', after).group(1)
    download = client.get(receipt_url)
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert "attachment" in download.headers["Content-Disposition"]
    receipt = download.get_json()
    assert verify_signed(receipt, clocked_ctx.signer.public_key())
    assert receipt["payload"]["collectionMethod"] == "web_form/custom"
    assert receipt["payload"]["services"][0]["purposes"][0]["eventId"] == event.id
    assert receipt["payload"]["services"][0]["purposes"][0]["decision"] == "withdrawn"


def test_the_proof_says_the_address_was_verified(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    csrf = sign_in(client, clocked_ctx, inbox)
    client.post(
        "/privacy/preferences/choices", data={"csrf_token": csrf, "purpose": "ads", "decision": "allow"}
    )
    event = latest(clocked_ctx)
    proof = next(e for e in history(clocked_ctx, event.subject_id)["events"] if e["id"] == event.id)["proof"]
    assert proof["address_verified"] == "signin_link" and proof["signin_link_sent_at"]


def test_forged_expired_and_other_kinds_of_tokens_open_nothing(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    ask_for_link(client, ANNA)
    token = token_of(signin_mails(clocked_ctx, inbox, 1)[0])
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for bad in (forged, "", "x" * 500, tokens.make(clocked_ctx, "unsubscribe", ["sub_x", "newsletter"])):
        response = client.post("/privacy/preferences/signin?lang=en", data={"token": bad})
        assert response.status_code == 404, bad
        assert "Set-Cookie" not in response.headers
        assert "This link is not valid" in response.get_data(as_text=True)
    # a sign-in token is not a session
    client.set_cookie(COOKIE, token, path="/privacy/preferences")
    assert client.get("/privacy/preferences/choices").status_code == 303
    clock.advance(seconds=tokens.SIGNIN_VALIDITY + 1)
    response = client.post("/privacy/preferences/signin?lang=en", data={"token": token})
    assert response.status_code == 410 and "This link has expired" in response.get_data(as_text=True)


def test_a_session_ends_after_half_an_hour(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    sign_in(client, clocked_ctx, inbox)
    clock.advance(seconds=tokens.SESSION_VALIDITY + 1)
    response = client.get("/privacy/preferences/choices")
    assert response.status_code == 303 and "ended=1" in response.headers["Location"]


def test_a_change_needs_the_sessions_csrf_token(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    csrf = sign_in(client, clocked_ctx, inbox)
    before = events(clocked_ctx)
    # a genuine token of another browser's public session (the portal's form has one) is no use here
    stranger = client.application.test_client()
    found = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', stranger.get("/privacy/").get_data(as_text=True)
    )
    assert found
    for bad in ("", "nonsense", found.group(1)):
        response = client.post(
            "/privacy/preferences/choices",
            data={"csrf_token": bad, "purpose": "newsletter", "decision": "refuse"},
        )
        assert response.status_code == 400
    assert events(clocked_ctx) == before
    for data, status in (
        ({"purpose": "newsletter", "decision": "maybe"}, 422),
        ({"purpose": "essential", "decision": "refuse"}, 422),  # legitimate interests: not asked here
        ({"purpose": "nope", "decision": "allow"}, 422),
    ):
        assert (
            client.post("/privacy/preferences/choices", data={"csrf_token": csrf, **data}).status_code
            == status
        )
    assert events(clocked_ctx) == before
    client.delete_cookie(COOKIE, path="/privacy/preferences")
    response = client.post(
        "/privacy/preferences/choices",
        data={"csrf_token": csrf, "purpose": "newsletter", "decision": "refuse"},
    )
    assert response.status_code == 303 and events(clocked_ctx) == before


def test_a_double_opt_in_grant_here_is_effective_at_once(prefs_world, clocked_ctx, smtp, auth):
    client, headers = prefs_world
    _, inbox = smtp
    doi = {**DEMO_PURPOSES["newsletter"], "confirmation": "double_opt_in"}
    assert client.put("/v1/purposes/newsletter", headers=auth, json=doi).status_code == 200
    csrf = sign_in(client, clocked_ctx, inbox)
    client.post(
        "/privacy/preferences/choices",
        data={"csrf_token": csrf, "purpose": "newsletter", "decision": "refuse"},
    )
    assert gate(client, headers)["allowed"] is False
    client.post(
        "/privacy/preferences/choices",
        data={"csrf_token": csrf, "purpose": "newsletter", "decision": "allow"},
    )
    assert latest(clocked_ctx).decision == "granted"
    assert gate(client, headers)["reason"] == "consent_granted"
    outbox.deliver(clocked_ctx)
    assert inbox.of_kind("optin_confirmation", 1, timeout=1) == []


def test_a_receipt_is_only_for_its_own_subject(prefs_world, clocked_ctx, smtp):
    client, headers = prefs_world
    _, inbox = smtp
    body = consent_body("bob@example.org", decisions=[{"purpose": "ads", "granted": True}])
    bobs = client.post("/v1/consents", headers=headers, json=body).get_json()["receipt"]
    sign_in(client, clocked_ctx, inbox)
    response = client.get(f"/privacy/preferences/receipts/{bobs['payload']['consentReceiptID']}")
    assert response.status_code == 404
    client.delete_cookie(COOKIE, path="/privacy/preferences")
    assert client.get("/privacy/preferences/receipts/rcpt_x").status_code == 303


def test_a_site_shows_its_name_policy_and_only_its_purposes(prefs_world, clocked_ctx, smtp, auth):
    client, _ = prefs_world
    _, inbox = smtp
    site = client.post(
        "/v1/sites",
        headers=auth,
        json={
            "name": "Blog of Examples",
            "origins": ["https://blog.example"],
            "purposes": ["newsletter"],
            "cookies": [],
            "banner": {
                "languages": ["de"],
                "links": {"privacy": "https://blog.example/datenschutz", "imprint": None},
            },
        },
    )
    assert site.status_code == 201, site.get_json()
    key = site.get_json()["site_key"]
    start = client.get(f"/privacy/preferences?site={key}").get_data(as_text=True)
    assert "Blog of Examples" in start and "https://blog.example/datenschutz" in start
    assert '<html lang="de">' in start  # the site speaks German: its language comes first
    english = client.get(f"/privacy/preferences?site={key}&lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english  # and English stays on offer
    csrf = sign_in(client, clocked_ctx, inbox, site=key)
    html = client.get(f"/privacy/preferences/choices?site={key}").get_data(as_text=True)
    assert "Newsletter" in html and "Personalisierte Werbung" not in html
    response = client.post(
        f"/privacy/preferences/choices?site={key}",
        data={"csrf_token": csrf, "purpose": "ads", "decision": "allow"},
    )
    assert response.status_code == 422
    client.post(
        f"/privacy/preferences/choices?site={key}",
        data={"csrf_token": csrf, "purpose": "newsletter", "decision": "refuse"},
    )
    assert latest(clocked_ctx).collection_point == f"preference_centre:{key}"
    # an unknown key shows the page for the controller, as every public page does
    unknown = client.get("/privacy/preferences?site=pk_nosuchsite&lang=en")
    assert unknown.status_code == 200
    html = unknown.get_data(as_text=True)
    assert "Blog of Examples" not in html and clocked_ctx.config.controller_name in html
    assert clocked_ctx.config.policy_url in html and '<html lang="en">' in html


def test_sign_in_links_are_limited_per_address_and_per_ip(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    for _ in range(prefs.SIGNIN_PER_ADDRESS):
        assert ask_for_link(client, "nobody@example.org").status_code == 200
    limited = ask_for_link(client, "NOBODY@example.org", "?lang=en")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Please wait a moment" in limited.get_data(as_text=True)
    used = prefs.SIGNIN_PER_ADDRESS + 1
    for number in range(prefs.SIGNIN_PER_IP - used):
        response = ask_for_link(client, f"someone{number}@example.org")
        assert response.status_code == 200
    assert ask_for_link(client, "fresh@example.org").status_code == 429
    other_ip = ask_for_link(
        client,
        "fresh@example.org",
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert other_ip.status_code == 200


def test_changes_are_limited_per_subject(prefs_world, clocked_ctx, smtp, monkeypatch):
    client, _ = prefs_world
    _, inbox = smtp
    monkeypatch.setattr(prefs, "CHANGES_PER_SUBJECT", 2)
    csrf = sign_in(client, clocked_ctx, inbox)
    before = events(clocked_ctx)
    data = {"csrf_token": csrf, "purpose": "ads"}
    assert client.post("/privacy/preferences/choices", data={**data, "decision": "allow"}).status_code == 303
    assert client.post("/privacy/preferences/choices", data={**data, "decision": "refuse"}).status_code == 303
    limited = client.post("/privacy/preferences/choices?lang=en", data={**data, "decision": "allow"})
    assert limited.status_code == 429 and "Please wait a moment" in limited.get_data(as_text=True)
    assert events(clocked_ctx) == before + 2


def test_an_erased_person_gets_no_link_and_an_open_session_saves_nothing(
    prefs_world, clocked_ctx, smtp, auth
):
    client, headers = prefs_world
    _, inbox = smtp
    csrf = sign_in(client, clocked_ctx, inbox)
    subject = latest(clocked_ctx).subject_id
    assert client.post(f"/v1/subjects/{subject}/shred", headers=auth).status_code == 200
    before = events(clocked_ctx)
    response = client.post(
        "/privacy/preferences/choices?lang=en",
        data={"csrf_token": csrf, "purpose": "ads", "decision": "allow"},
    )
    assert response.status_code == 410 and "Your data was deleted" in response.get_data(as_text=True)
    assert events(clocked_ctx) == before
    assert ask_for_link(client, ANNA).status_code == 200
    assert len(signin_mails(clocked_ctx, inbox, 2)) == 1  # no second e-mail


def test_one_address_gets_few_links_an_hour(prefs_world, monkeypatch):
    client, _ = prefs_world
    monkeypatch.setattr(prefs, "SIGNIN_PER_ADDRESS", 100)
    monkeypatch.setattr(prefs, "SIGNIN_PER_ADDRESS_HOURLY", 2)
    for _ in range(2):
        assert ask_for_link(client, "busy@example.org").status_code == 200
    limited = ask_for_link(client, "busy@example.org")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 60
