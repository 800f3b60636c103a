"""The console's shell through the test client: sign-in, CSRF, session expiry, language,
security headers, the role guard and the requests inbox."""

from __future__ import annotations

import re

import pytest

from consent_service import create_app
from consent_service.web.security import CSP
from tests.console_helpers import DPO, PASSWORD, add_staff, overdue_paper_request, sign_in, token


@pytest.fixture
def client(clocked_ctx):
    add_staff(clocked_ctx)
    return create_app(context=clocked_ctx).test_client()


def text(response) -> str:
    return response.get_data(as_text=True)


def test_pages_carry_the_security_headers_and_the_session_cookie_its_flags(client):
    page = client.get("/console/login")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "<script" not in text(page)


def test_the_session_cookie_is_secure_behind_https(clocked_ctx):
    clocked_ctx.config = clocked_ctx.config.with_overrides(public_url="https://consent.example")
    page = create_app(context=clocked_ctx).test_client().get("/console/login")
    assert "Secure" in page.headers["Set-Cookie"]


def test_the_style_sheet_has_a_hashed_name_and_a_long_cache(client):
    page = text(client.get("/console/login"))
    href = re.search(r'href="(/console/static/console\.[0-9a-f]{12}\.css)"', page)
    assert href, page
    sheet = client.get(href.group(1))
    assert sheet.status_code == 200 and sheet.mimetype == "text/css"
    assert sheet.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/console/static/console.000000000000.css").status_code == 404
    assert client.get("/console/static/console.css").status_code == 404


def test_a_dpo_signs_in_and_lands_in_the_inbox_with_the_overdue_request(client, clocked_ctx):
    request_id = overdue_paper_request(clocked_ctx)
    assert client.get("/console/").headers["Location"].endswith("/console/requests")
    assert client.get("/console/requests").headers["Location"].endswith("/console/login")
    page = text(client.get("/console/login"))
    before = client.get_cookie("consent_console", path="/console").value
    signed_in = client.post(
        "/console/login", data={"csrf_token": token(page), "email": DPO, "password": PASSWORD}
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/console/requests")
    assert client.get_cookie("consent_console", path="/console").value != before  # a new session
    inbox = text(client.get("/console/requests", headers={"Accept-Language": "en"}))
    assert request_id in inbox and "Access" in inbox and "verified" in inbox
    # received on 27 December, five weeks ago: due a month later, four days ago
    assert "overdue by 4 days" in inbox and "27 January 2026" in inbox and "27 December 2025" in inbox
    assert DPO in inbox and "data protection officer" in inbox
    filtered = text(client.get("/console/requests?type=erasure"))
    assert request_id not in filtered and "No request matches these filters." in filtered
    assert request_id in text(client.get("/console/requests?overdue=y&type=access"))


def test_the_inbox_is_empty_with_a_hint_and_speaks_german_by_accept_language(client):
    sign_in(client)
    page = text(client.get("/console/requests", headers={"Accept-Language": "de-DE,de;q=0.9"}))
    assert '<html lang="de">' in page and "Keine offenen Anfragen." in page


def test_a_wrong_password_says_so_without_telling_which_part_was_wrong(client):
    for email in (DPO, "nobody@example.org"):
        answer = sign_in(client, email=email, password="not the password")
        assert answer.status_code == 401
        assert "Wrong e-mail address or password." in text(answer)
    assert client.get("/console/requests").status_code == 302


def test_a_locked_account_is_told_the_minutes_to_wait(client):
    for _ in range(5):
        sign_in(client, password="not the password")
    answer = sign_in(client)
    assert answer.status_code == 429
    assert re.search(r"Try again in 1[56] minutes\.", text(answer))  # a lock of 15 minutes


def test_sign_in_attempts_are_limited_per_client_address(clocked_ctx):
    add_staff(clocked_ctx)
    clocked_ctx.config = clocked_ctx.config.with_overrides(console_login_limit=2)
    client = create_app(context=clocked_ctx).test_client()
    assert sign_in(client, email="a@example.org", password="x").status_code == 401
    assert sign_in(client, email="b@example.org", password="x").status_code == 401
    assert sign_in(client).status_code == 429


def test_a_post_without_its_csrf_token_is_refused_with_a_page(client):
    answer = client.post("/console/login", data={"email": DPO, "password": PASSWORD})
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert "security token" in text(answer)
    assert client.get("/console/requests").status_code == 302  # not signed in
    sign_in(client)
    forged = client.post("/console/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert client.get("/console/requests").status_code == 200  # still signed in


def test_sign_out_ends_the_session(client):
    sign_in(client)
    page = text(client.get("/console/requests"))
    assert client.post("/console/logout", data={"csrf_token": token(page)}).status_code == 302
    assert client.get("/console/requests").headers["Location"].endswith("/console/login")


def test_an_idle_session_expires(client, clock):
    sign_in(client)
    clock.advance(minutes=29)
    assert client.get("/console/requests").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/console/requests").status_code == 200  # each request renews it
    clock.advance(minutes=31)
    gone = client.get("/console/requests")
    assert gone.status_code == 302 and "expired=1" in gone.headers["Location"]
    assert "Your session has ended." in text(client.get(gone.headers["Location"]))
    clock.advance(minutes=1)
    assert client.get("/console/requests").status_code == 302


def test_the_language_choice_is_remembered_and_redirects_only_inside_the_console(client):
    page = text(client.get("/console/login"))
    answer = client.post(
        "/console/language", data={"csrf_token": token(page), "language": "de", "next": "//evil.example"}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
    german = text(client.get("/console/login", headers={"Accept-Language": "en"}))
    assert '<html lang="de">' in german and "Anmelden" in german
    back = client.post(
        "/console/language", data={"csrf_token": token(german), "language": "en", "next": "/console/login"}
    )
    assert back.headers["Location"] == "/console/login"
    assert '<html lang="en">' in text(client.get("/console/login", headers={"Accept-Language": "de"}))


def test_a_one_time_password_must_be_changed_first(clocked_ctx):
    one_time = add_staff(clocked_ctx, email="agent@example.org", role="agent", password=None)
    client = create_app(context=clocked_ctx).test_client()
    answer = sign_in(client, email="agent@example.org", password=one_time)
    assert answer.headers["Location"].endswith("/console/password")
    assert client.get("/console/requests").headers["Location"].endswith("/console/password")
    page = text(client.get("/console/password"))
    weak = client.post(
        "/console/password",
        data={"csrf_token": token(page), "old": one_time, "new": "password", "repeat": "password"},
    )
    assert weak.status_code == 422 and 'class="error" id="new-error"' in text(weak)
    assert "Use at least 12 characters." in text(weak)  # the staff service's reason, in the page's words
    german = client.post(
        "/console/password",
        data={"csrf_token": token(page), "old": "not it", "new": PASSWORD, "repeat": PASSWORD},
        headers={"Accept-Language": "de"},
    )
    assert "Das ist nicht Ihr aktuelles Passwort." in text(german)
    changed = client.post(
        "/console/password",
        data={"csrf_token": token(page), "old": one_time, "new": PASSWORD, "repeat": PASSWORD},
    )
    assert changed.headers["Location"].endswith("/console/requests")
    assert client.get("/console/requests").status_code == 200


def test_a_disabled_account_is_signed_out_at_its_next_request(client, clocked_ctx):
    from consent_service.staff import service as staff

    add_staff(clocked_ctx, email="admin@example.org", role="admin")
    sign_in(client)
    staff.disable_user(clocked_ctx, DPO, actor="test")
    assert client.get("/console/requests").status_code == 302


def test_a_role_without_the_right_gets_403_and_a_page(clocked_ctx):
    from consent_service.web.console.guard import requires

    add_staff(clocked_ctx, email="auditor@example.org", role="auditor")
    app = create_app(context=clocked_ctx)
    app.add_url_rule("/console/test-staff", "test_staff", requires("staff:manage")(lambda: "managed"))
    client = app.test_client()
    assert client.get("/console/test-staff").headers["Location"].endswith("/console/login")
    sign_in(client, email="auditor@example.org")
    refused = client.get("/console/test-staff")
    assert refused.status_code == 403 and "Your role does not allow this." in text(refused)
    assert client.get("/console/requests").status_code == 200  # reading is every role's


def test_an_unknown_console_address_is_a_page_not_a_problem_document(client):
    missing = client.get("/console/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Page not found" in text(missing)
    assert missing.headers["Content-Security-Policy"] == CSP
