"""The public privacy portal (``/privacy``): a request without an account, the code from a real
SMTP server, the status in words, the download; form errors next to their fields, rate limits
as a 429 page, wrong codes counted, nothing half written, unknown sites and ids harmless."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from altcha import ChallengeOptionsV1, create_challenge_v1
from sqlalchemy import func, select

from consent_service import create_app
from consent_service.dsar import outbox
from consent_service.dsar.request_models import DsarRequest
from consent_service.registry import sites as registry_sites
from consent_service.web import challenge
from tests.api.helpers import crm_store
from tests.api.mail import code_in, text_of
from tests.api.test_execution_api import run_queued

STATUS = re.compile(r"/privacy/requests/(req_[0-9a-f]{16})")


def csrf(client, url: str = "/privacy/requests/new") -> str:
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert found
    return found.group(1)


def submit(client, **fields):
    data = {"csrf_token": csrf(client), "type": "access", "email": "anna@example.org"} | fields
    return client.post("/privacy/requests/new?lang=de", data=data)


def requests_in(ctx) -> int:
    with ctx.uow(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(DsarRequest))


def solution(ctx) -> str:
    """What the page's script does: find the number, hand back the signed challenge with it."""
    made = create_challenge_v1(ChallengeOptionsV1(hmac_key=challenge._key(ctx), max_number=500))
    number = next(
        n for n in range(501) if hashlib.sha256(f"{made.salt}{n}".encode()).hexdigest() == made.challenge
    )
    payload = {"algorithm": made.algorithm, "challenge": made.challenge, "number": number,
               "salt": made.salt, "signature": made.signature}  # fmt: skip
    return base64.b64encode(json.dumps(payload).encode()).decode()


def demo_site_with(ctx, languages: list[str], links: dict[str, str]):
    """The demo site, its banner set to these languages and links."""
    with ctx.uow(write=False) as uow:
        site = registry_sites.list_sites(uow.session)[0]
    registry_sites.set_site_banner(ctx, site.id, {"languages": languages, "links": links})
    return site


def test_the_landing_page_names_the_site_and_its_policy_and_an_unknown_site_is_harmless(dpo, clocked_ctx):
    client, _ = dpo
    site = demo_site_with(clocked_ctx, ["de", "en"], {"privacy": "https://shop.example/datenschutz"})
    page = client.get(f"/privacy/?site={site.site_key}&lang=de")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'lang="de"' in html
    assert (
        "Demo shop" in html and "https://shop.example/datenschutz" in html and "Datenschutzerklärung" in html
    )
    assert page.headers["Cache-Control"] == "no-store" and "Content-Security-Policy" in page.headers
    assert f"/privacy/requests/new?lang=de&amp;site={site.site_key}" in html
    assert f"/privacy/preferences?lang=de&amp;site={site.site_key}" in html  # the preference centre
    assert "Ihre Einwilligungen verwalten" in html
    unknown = client.get("/privacy/?site=pk_nothing_like_it")
    assert unknown.status_code == 200 and "Demo shop" not in unknown.get_data(as_text=True)
    assert client.get("/privacy/requests/new?site=" + "x" * 5000).status_code == 200


def test_errors_stand_next_to_their_fields_with_a_summary_and_nothing_is_written(dpo, clocked_ctx):
    client, _ = dpo
    empty = submit(client, type="", email="")
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400
    assert 'href="#type"' in html and 'href="#email"' in html and 'id="email-error"' in html
    assert "Wählen Sie, was wir tun sollen." in html and 'aria-invalid="true"' in html
    objection = submit(client, type="objection")
    assert objection.status_code == 400 and "Wählen Sie mindestens eine Verwendung" in objection.get_data(
        as_text=True
    )
    half = submit(client, type="rectification", **{"changes-0-field": "Nachname"})
    assert half.status_code == 400 and 'href="#changes-0-field"' in half.get_data(as_text=True)
    assert submit(client, email="not an address").status_code == 400
    assert submit(client, type="objection", purposes="no_such_purpose").status_code == 400
    assert requests_in(clocked_ctx) == 0


def test_a_form_without_its_csrf_token_is_refused(dpo, clocked_ctx):
    client, _ = dpo
    response = client.post("/privacy/requests/new", data={"type": "access", "email": "anna@example.org"})
    assert response.status_code == 400 and requests_in(clocked_ctx) == 0


def test_an_access_request_from_submission_to_status_with_the_code_from_the_mail(dpo, clocked_ctx, smtp):
    client, _ = dpo
    _, inbox = smtp
    sent = submit(client, phone="+49 30 1234567", message="Bitte auch alte Bestellungen.")
    assert sent.status_code == 303, sent.get_data(as_text=True)
    request_id = STATUS.search(sent.headers["Location"]).group(1)
    assert "anna" not in sent.headers["Location"]
    outbox.deliver(clocked_ctx)
    [mail] = inbox.of_kind("verification_code", 1)
    assert mail["To"] == "anna@example.org"
    assert f"/privacy/requests/{request_id}" in text_of(mail) and "Geben Sie ihn auf der Seite" in text_of(
        mail
    )
    code = code_in(mail)

    # the id alone shows nothing but the code form; an unknown id looks the same
    page = client.get(f"/privacy/requests/{request_id}?lang=de")
    assert page.status_code == 200 and "Code aus der E-Mail" in page.get_data(as_text=True)
    assert "Wir antworten bis" not in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    token = csrf(client, f"/privacy/requests/{request_id}")
    wrong = client.post(
        f"/privacy/requests/{request_id}?lang=de",
        data={"csrf_token": token, "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 422 and "Dieser Code stimmt nicht" in wrong.get_data(as_text=True)
    unknown = client.post("/privacy/requests/req_0000000000000000", data={"csrf_token": token, "code": code})
    assert unknown.status_code == 422
    right = client.post(f"/privacy/requests/{request_id}?lang=de", data={"csrf_token": token, "code": code})
    assert right.status_code == 303
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and f"Path=/privacy/requests/{request_id}" in cookie
    status = client.get(f"/privacy/requests/{request_id}?lang=de")
    html = status.get_data(as_text=True)
    assert "Wir haben Ihre Anfrage am 31. Januar 2026 erhalten." in html
    assert "Wir antworten bis zum 2. März 2026." in html and "Wir bearbeiten sie." in html
    assert "anna@example.org" not in html and "subj_" not in html
    # the status token is scoped to its request: another request's page still asks for the code
    other = submit(client, email="ben@example.org")
    other_id = STATUS.search(other.headers["Location"]).group(1)
    assert "Code aus der E-Mail" in client.get(f"/privacy/requests/{other_id}?lang=de").get_data(as_text=True)
    # the person's message and the unverified phone number reached the request's file
    trail = client.get(f"/v1/requests/{request_id}", headers=dpo[1]).get_json()
    message = next(e for e in trail["audit_trail"] if e["action"] == "person_message")
    assert "Bitte auch alte Bestellungen." in str(message["details"])
    assert [i["type"] for i in trail["identities"]] == ["email", "phone"]


def test_wrong_codes_lock_the_request_as_the_api_does(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(verification_max_attempts=2)
    request_id = STATUS.search(submit(client).headers["Location"]).group(1)
    token = csrf(client, f"/privacy/requests/{request_id}")
    for _ in range(2):
        assert client.post(
            f"/privacy/requests/{request_id}", data={"csrf_token": token, "code": "999999"}
        ).status_code in (422,)
    locked = client.post(
        f"/privacy/requests/{request_id}?lang=de", data={"csrf_token": token, "code": "999999"}
    )
    assert locked.status_code == 409 and "nicht mehr verwendet werden" in locked.get_data(as_text=True)


def test_requests_are_limited_per_address_and_per_ip_with_a_429_page(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(portal_email_limit=1, portal_plain_request_limit=5)
    assert submit(client).status_code == 303
    again = submit(client, email=" Anna@Example.org ")
    assert again.status_code == 429 and "mehrere Anfragen" in again.get_data(as_text=True)
    assert requests_in(clocked_ctx) == 1


def test_a_solved_challenge_gets_the_ordinary_limit_and_a_plain_form_the_stricter_one(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(
        portal_plain_request_limit=1, portal_request_limit=5
    )
    assert submit(client, email="a@example.org").status_code == 303
    assert submit(client, email="b@example.org").status_code == 429
    assert submit(client, email="c@example.org", altcha=solution(clocked_ctx)).status_code == 303
    assert submit(client, email="d@example.org", altcha="bm90IGEgc29sdXRpb24=").status_code == 429
    assert not challenge.solved(clocked_ctx, "MQ==") and not challenge.solved(clocked_ctx, "%%%")


def test_codes_are_limited_per_ip(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(portal_code_limit=1)
    token = csrf(client, "/privacy/requests/req_0000000000000000")
    first = client.post(
        "/privacy/requests/req_0000000000000000", data={"csrf_token": token, "code": "123456"}
    )
    assert first.status_code == 422
    second = client.post(
        "/privacy/requests/req_0000000000000000", data={"csrf_token": token, "code": "123456"}
    )
    assert second.status_code == 429


def test_nothing_is_written_when_the_mail_cannot_be_queued(dpo, clocked_ctx, monkeypatch):
    client, _ = dpo

    def broken(*args, **kwargs):
        raise OSError("the outbox cannot be written")

    monkeypatch.setattr(outbox, "enqueue_email", broken)
    response = submit(client)
    assert response.status_code == 500
    assert requests_in(clocked_ctx) == 0


@pytest.mark.parametrize(
    "path", ["/privacy/requests/req_0000000000000000/download", "/privacy/requests/x/download"]
)
def test_a_download_without_the_status_token_goes_back_to_the_code_form(dpo, path):
    client, _ = dpo
    token = csrf(client, "/privacy/")
    response = client.post(path, data={"csrf_token": token, "format": "json"})
    assert response.status_code == 303 and "/v1/packages/" not in response.headers["Location"]


def opened_with_code(client, ctx, inbox, email: str = "anna@example.org") -> tuple[str, str]:
    request_id = STATUS.search(submit(client, email=email).headers["Location"]).group(1)
    outbox.deliver(ctx)
    mail = [m for m in inbox.of_kind("verification_code", 1) if m["To"] == email][-1]
    return request_id, code_in(mail)


def test_the_code_opens_the_status_again_on_another_device_and_a_forged_cookie_opens_nothing(
    dpo, clocked_ctx, smtp
):
    client, _ = dpo
    request_id, code = opened_with_code(client, clocked_ctx, smtp[1])
    token = csrf(client, f"/privacy/requests/{request_id}")
    assert (
        client.post(f"/privacy/requests/{request_id}", data={"csrf_token": token, "code": code}).status_code
        == 303
    )

    other = create_app(context=clocked_ctx).test_client()
    other.set_cookie(
        "privacy_request",
        "cmVxXzAwMDAwMDAwMDAwMDAwMDAuOTk5OTk5OTk5OQ.00",
        path=f"/privacy/requests/{request_id}",
    )
    assert "Code" in other.get(f"/privacy/requests/{request_id}?lang=en").get_data(as_text=True)
    assert "We will answer by" not in other.get(f"/privacy/requests/{request_id}?lang=en").get_data(
        as_text=True
    )
    token = csrf(other, f"/privacy/requests/{request_id}")
    wrong = other.post(
        f"/privacy/requests/{request_id}",
        data={"csrf_token": token, "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 422
    again = other.post(f"/privacy/requests/{request_id}", data={"csrf_token": token, "code": code})
    assert again.status_code == 303
    assert "We will answer by" in other.get(f"/privacy/requests/{request_id}?lang=en").get_data(as_text=True)
    trail = client.get(f"/v1/requests/{request_id}", headers=dpo[1]).get_json()["audit_trail"]
    assert [e["details"]["attempt"] for e in trail if e["action"] == "wrong_code"] == [1]


def test_the_package_is_downloaded_through_a_fresh_expiring_link(dpo, clocked_ctx, smtp, tmp_path):
    client, headers = dpo
    crm_store(client, headers, tmp_path)
    request_id, code = opened_with_code(client, clocked_ctx, smtp[1])
    token = csrf(client, f"/privacy/requests/{request_id}")
    client.post(f"/privacy/requests/{request_id}", data={"csrf_token": token, "code": code})
    assert run_queued(client, headers, request_id)["state"] == "completed"
    page = client.get(f"/privacy/requests/{request_id}?lang=en").get_data(as_text=True)
    assert "Your data is ready. You can download it until" in page and "Table crm.customers (CSV)" in page
    for fmt, collection, expected in (
        ("csv", "crm.customers", "text/csv"),
        ("html", "", "text/html"),
        ("json", "", "application/json"),
    ):
        sent = client.post(
            f"/privacy/requests/{request_id}/download",
            data={"csrf_token": token, "format": fmt, "collection": collection},
        )
        assert sent.status_code == 303 and "/v1/packages/" in sent.headers["Location"]
        fetched = client.get(sent.headers["Location"])
        assert fetched.status_code == 200 and fetched.mimetype == expected
        assert "anna@example.org" in fetched.get_data(as_text=True)
    trail = client.get(f"/v1/requests/{request_id}", headers=headers).get_json()["audit_trail"]
    assert sum(e["action"] == "package_link_created" and e["actor"] == "portal" for e in trail) == 3


def test_the_landing_page_finds_a_request_by_its_number(dpo):
    client, _ = dpo
    token = csrf(client, "/privacy/")
    found = client.post("/privacy/?lang=de", data={"csrf_token": token, "number": " req_0123456789abcdef "})
    assert found.status_code == 303 and found.headers["Location"].startswith(
        "/privacy/requests/req_0123456789abcdef?"
    )
    bad = client.post("/privacy/?lang=de", data={"csrf_token": token, "number": "anna@example.org"})
    assert bad.status_code == 400 and 'href="#number"' in bad.get_data(as_text=True)


def test_a_status_token_is_for_one_request_until_it_expires(clocked_ctx, clock):
    from consent_service.dsar import portal

    token, expires = portal._token(clocked_ctx, "req_0123456789abcdef")
    assert portal.check_token(clocked_ctx, "req_0123456789abcdef", token)
    assert not portal.check_token(clocked_ctx, "req_fedcba9876543210", token)
    assert not portal.check_token(
        clocked_ctx, "req_0123456789abcdef", token[:-1] + ("0" if token[-1] != "0" else "1")
    )
    assert not portal.check_token(clocked_ctx, "req_0123456789abcdef", "not-a-token")
    assert not portal.check_token(clocked_ctx, "req_0123456789abcdef", None)
    clock.advance(days=clocked_ctx.config.portal_status_days, seconds=1)
    assert clock() > expires and not portal.check_token(clocked_ctx, "req_0123456789abcdef", token)


def test_every_public_page_shows_the_same_site_header(dpo, clocked_ctx):
    client, _ = dpo
    links = {"privacy": "https://shop.example/privacy", "imprint": "https://shop.example/imprint"}
    site = demo_site_with(clocked_ctx, ["en", "de"], links)

    def header(path: str) -> tuple[str, list[str]]:
        html = client.get(f"{path}?site={site.site_key}&lang=en").get_data(as_text=True)
        bar = re.search(r'<div class="site-bar">.*?</div>', html, re.S)
        assert bar, html
        return bar.group(0), re.findall(r'<a href="([^"]+)" lang="(\w\w)"', html)

    portal_bar, portal_switch = header("/privacy/")
    prefs_bar, prefs_switch = header("/privacy/preferences")
    assert portal_bar == prefs_bar
    assert "Demo shop" in portal_bar and "https://shop.example/imprint" in portal_bar
    assert [lang for _, lang in portal_switch] == [lang for _, lang in prefs_switch] == ["en", "de"]
    assert portal_switch[1][0] == f"/privacy/?lang=de&amp;site={site.site_key}"
    # an unknown key: the controller's page on both, with the policy of the configuration
    for path in ("/privacy/", "/privacy/preferences", "/privacy/unsubscribe"):
        html = client.get(f"{path}?site=pk_unknown&lang=en").get_data(as_text=True)
        assert clocked_ctx.config.policy_url in html and "Demo shop" not in html
