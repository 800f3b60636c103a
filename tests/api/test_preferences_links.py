"""The preference centre's sign-in links work once (across processes: the database says so) and
its forms without a CSRF token change nothing: a link used or expired explains itself and offers
a new one, a mail scanner's GETs do not use it up, only the nonce's hash is stored, expired rows
are purged by the housekeeping round; asking for a link and signing out need the CSRF token."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from consent_service import create_app, jobs, onetime
from consent_service.preferences import service as prefs
from consent_service.preferences import tokens
from consent_service.preferences.models import SigninLink
from consent_service.registry.public_site import public_site
from consent_service.web.preferences import COOKIE
from consent_service.wiring import bootstrap
from tests.api.helpers import ask_for_link
from tests.api.test_preferences import ANNA, csrf_of, sign_in, signin_mails, token_of


def rows(ctx) -> list[SigninLink]:
    with ctx.uow(write=False) as uow:
        found = list(uow.session.scalars(select(SigninLink)))
        for row in found:
            uow.session.expunge(row)
        return found


def a_link(client, ctx, inbox, count: int = 1) -> str:
    assert ask_for_link(client, ANNA).status_code == 200
    return token_of(signin_mails(ctx, inbox, count)[-1])


def test_a_link_signs_in_once_and_a_scanners_gets_do_not_use_it_up(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    token = a_link(client, clocked_ctx, inbox)
    for _ in range(3):  # a mail scanner, then the person, then a preview
        assert client.get(f"/privacy/preferences/signin?token={token}").status_code == 200
    opened = client.post("/privacy/preferences/signin", data={"token": token})
    assert opened.status_code == 303 and f"{COOKIE}=" in opened.headers["Set-Cookie"]

    finder = client.application.test_client()  # the link forwarded, or found in the mailbox later
    again = finder.post("/privacy/preferences/signin?lang=en", data={"token": token})
    assert again.status_code == 410
    assert "Set-Cookie" not in again.headers
    html = again.get_data(as_text=True)
    assert "This link was used already" in html and "each link works only once" in html
    assert 'href="/privacy/preferences?lang=en">Send me a new link' in html
    page = finder.get(f"/privacy/preferences/signin?token={token}&lang=de")
    assert page.status_code == 410 and "Dieser Link wurde bereits verwendet" in page.get_data(as_text=True)
    assert finder.get("/privacy/preferences/choices").status_code == 303  # no session
    assert client.get("/privacy/preferences/choices").status_code == 200  # the first one stays


def test_a_used_or_expired_link_speaks_the_language_of_its_e_mail(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    assert ask_for_link(client, ANNA, "?lang=de").status_code == 200
    token = token_of(signin_mails(clocked_ctx, inbox, 1)[0])
    client.post("/privacy/preferences/signin", data={"token": token})
    used = client.get(f"/privacy/preferences/signin?token={token}", headers={"Accept-Language": "en"})
    assert used.status_code == 410 and "Dieser Link wurde bereits verwendet" in used.get_data(as_text=True)
    clock.advance(seconds=tokens.SIGNIN_VALIDITY + 1)
    late = client.get(f"/privacy/preferences/signin?token={token}", headers={"Accept-Language": "en"})
    assert late.status_code == 410 and "Dieser Link ist abgelaufen" in late.get_data(as_text=True)


def test_an_expired_link_offers_a_new_one(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    token = a_link(client, clocked_ctx, inbox)
    clock.advance(seconds=tokens.SIGNIN_VALIDITY + 1)
    page = client.get(f"/privacy/preferences/signin?token={token}&lang=en")
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "This link has expired" in html and "Send me a new link" in html


def test_a_new_link_ends_the_earlier_ones(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    first = a_link(client, clocked_ctx, inbox)
    clock.advance(seconds=90)  # past the per-minute limit of the address
    second = a_link(client, clocked_ctx, inbox, count=2)
    page = client.get(f"/privacy/preferences/signin?token={first}&lang=en")
    assert page.status_code == 410 and "This link has expired" in page.get_data(as_text=True)
    assert client.post("/privacy/preferences/signin", data={"token": first}).status_code == 410
    assert client.post("/privacy/preferences/signin", data={"token": second}).status_code == 303


def test_only_the_nonces_hash_is_stored_with_the_links_expiry(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    token = a_link(client, clocked_ctx, inbox)
    subject, _, _, nonce = tokens.read(clocked_ctx, "signin", token, tokens.SIGNIN_VALIDITY)
    (row,) = rows(clocked_ctx)
    assert row.token_hash == onetime.secret_hash(nonce) and row.subject_id == subject
    assert nonce not in repr(vars(row)) and token not in repr(vars(row))
    assert (row.expires_at - row.created_at).total_seconds() == tokens.SIGNIN_VALIDITY
    assert row.used_at is None
    client.post("/privacy/preferences/signin", data={"token": token})
    assert rows(clocked_ctx)[0].used_at == clocked_ctx.now()


def test_another_process_cannot_use_the_link_again(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    token = a_link(client, clocked_ctx, inbox)
    other = create_app(context=bootstrap(clocked_ctx.config, clock=clock)).test_client()
    try:
        assert other.post("/privacy/preferences/signin", data={"token": token}).status_code == 303
        assert client.post("/privacy/preferences/signin", data={"token": token}).status_code == 410
    finally:
        other.application.extensions["consent"].db.dispose()


def test_a_link_sent_before_links_had_a_nonce_opens_nothing(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    subject = tokens.read(clocked_ctx, "signin", a_link(client, clocked_ctx, inbox), None)[0]
    old = tokens.make(clocked_ctx, "signin", [subject, "en", None])
    response = client.post("/privacy/preferences/signin?lang=en", data={"token": old})
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


def test_the_housekeeping_round_purges_expired_links(prefs_world, clocked_ctx, smtp, clock):
    client, _ = prefs_world
    _, inbox = smtp
    used = a_link(client, clocked_ctx, inbox)
    client.post("/privacy/preferences/signin", data={"token": used})
    a_link(client, clocked_ctx, inbox, 2)
    clock.advance(seconds=tokens.SIGNIN_VALIDITY)
    fresh = a_link(client, clocked_ctx, inbox, 3)
    jobs.housekeeping(clocked_ctx)
    (left,) = rows(clocked_ctx)
    nonce = tokens.read(clocked_ctx, "signin", fresh, None)[3]
    assert left.token_hash == onetime.secret_hash(nonce)
    assert client.post("/privacy/preferences/signin", data={"token": fresh}).status_code == 303


def test_asking_for_a_link_without_the_csrf_token_sends_nothing(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    stranger = client.application.test_client()  # a token of another browser's session
    foreign = csrf_of(stranger.get("/privacy/preferences").get_data(as_text=True))
    client.get("/privacy/preferences")
    for data in (
        {"email": ANNA},
        {"email": ANNA, "csrf_token": "forged"},
        {"email": ANNA, "csrf_token": foreign},
    ):
        response = client.post("/privacy/preferences?lang=en", data=data)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "Nothing was sent: the form was too old." in html and f'value="{ANNA}"' in html
        assert 'name="csrf_token" value="' in html  # the form again, ready to send
    de = client.post("/privacy/preferences?lang=de", data={"email": ANNA})
    assert "Es wurde nichts gesendet" in de.get_data(as_text=True)
    assert signin_mails(clocked_ctx, inbox, 0) == [] and rows(clocked_ctx) == []


def test_signing_out_needs_the_csrf_token(prefs_world, clocked_ctx, smtp):
    client, _ = prefs_world
    _, inbox = smtp
    csrf = sign_in(client, clocked_ctx, inbox)
    refused = client.post("/privacy/preferences/signout?lang=en", data={"lang": "en"})
    assert refused.status_code == 400
    assert "Set-Cookie" not in refused.headers  # the session cookie is not removed
    assert "You are still signed in: the form was too old." in refused.get_data(as_text=True)
    assert client.get("/privacy/preferences/choices").status_code == 200
    out = client.post("/privacy/preferences/signout", data={"csrf_token": csrf, "lang": "en"})
    assert out.status_code == 303 and f"{COOKIE}=;" in out.headers["Set-Cookie"]
    assert client.get("/privacy/preferences/choices").status_code == 303


def _signin_token(ctx, monkeypatch) -> str:
    """Ask for a link through the service, and the token its e-mail would carry."""
    sent: list[str] = []
    monkeypatch.setattr(prefs.mail, "enqueue", lambda *a, **kw: sent.append(kw["link"].split("token=")[1]))
    site = public_site(ctx, None)
    prefs.request_signin(ctx, ANNA, ip="192.0.2.1", language="en", site=site)
    return sent[0]


def test_two_sign_ins_at_once_get_one_session(any_ctx, monkeypatch):
    from consent_service.demo import seed
    from consent_service.ledger import service as ledger
    from consent_service.subjects.service import IdentityRef

    second = bootstrap(any_ctx.config)  # another process: its own engine and connections
    try:
        seed(any_ctx)
        ledger.record_consent(
            any_ctx,
            ledger.RecordConsent(
                decisions=[ledger.DecisionInput("purpose", "newsletter", True)],
                channel="web_form",
                method="custom",
                actor_type="subject",
                actor_id="test",
                subject=IdentityRef("email", ANNA),
            ),
        )
        token = _signin_token(any_ctx, monkeypatch)
        results: list[Any] = []
        barrier = threading.Barrier(4)

        def press(ctx) -> None:
            barrier.wait()
            try:
                prefs.open_session(ctx, token)
                results.append("session")
            except prefs.Gone as exc:
                results.append(exc.extra["reason"])

        threads = [threading.Thread(target=press, args=(c,)) for c in (any_ctx, second, any_ctx, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == ["session", "used", "used", "used"]
        with any_ctx.uow(write=False) as uow:
            assert uow.session.scalar(select(func.count()).select_from(SigninLink)) == 1
    finally:
        second.db.dispose()
