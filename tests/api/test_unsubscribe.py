"""One-click unsubscribe: the segment export hands out each recipient's link and headers, a GET
of the link records nothing, the page's button and an RFC 8058 one-click POST (no cookie, no
CSRF token) each record one withdrawal, and a second click records nothing more."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from sqlalchemy import select

from consent_service.ledger.models import LedgerEvent
from consent_service.preferences import tokens
from consent_service.preferences import unsubscribe as unsub
from tests.api.helpers import consent_body

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def consent_events(ctx) -> list[LedgerEvent]:
    with ctx.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(LedgerEvent).where(LedgerEvent.kind == "consent")))
        for row in rows:
            uow.session.expunge(row)
        return rows


def subscribe(client, auth, address: str = "anna@example.org") -> str:
    body = consent_body(address, decisions=[{"purpose": "newsletter", "granted": True}])
    response = client.post("/v1/consents", headers=auth, json=body)
    assert response.status_code == 201
    return str(response.get_json()["subject_id"])


def gate(client, auth, address: str = "anna@example.org") -> dict:
    body = {"subject": {"type": "email", "value": address}, "purpose": "newsletter"}
    return client.post("/v1/decisions", headers=auth, json=body).get_json()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_segment_export_hands_out_links_and_headers(tclient, auth, clocked_ctx):
    subject = subscribe(tclient, auth)
    plain = tclient.get("/v1/segments/newsletter", headers=auth).get_json()
    assert "unsubscribe" not in plain["items"][0]
    page = tclient.get("/v1/segments/newsletter?unsubscribe_links=true", headers=auth).get_json()
    (item,) = [i for i in page["items"] if i["subject_id"] == subject]
    url = item["unsubscribe"]["url"]
    assert url.startswith(clocked_ctx.config.public_url.rstrip("/") + "/privacy/unsubscribe?token=")
    assert item["unsubscribe"]["headers"] == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert "anna" not in url and "example.org/" not in url.split("?", 1)[1]


def test_a_get_changes_nothing_and_the_button_withdraws_once(tclient, auth, clocked_ctx):
    subject = subscribe(tclient, auth)
    link = path_of(unsub.link(clocked_ctx, subject, "newsletter")["url"])
    before = len(consent_events(clocked_ctx))
    for _ in range(3):  # a mail scanner, a preview, the person
        page = tclient.get(link + "&lang=en")
        assert page.status_code == 200
        assert "Unsubscribe" in page.get_data(as_text=True)
    assert len(consent_events(clocked_ctx)) == before
    assert gate(tclient, auth)["allowed"] is True

    done = tclient.post(link + "&lang=en", data={"token": link.split("token=")[1]})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    events = consent_events(clocked_ctx)
    assert len(events) == before + 1
    last = max(events, key=lambda e: e.seq)
    assert (last.decision, last.channel, last.method, last.target_key) == (
        "withdrawn",
        "email",
        "custom",
        "newsletter",
    )
    assert gate(tclient, auth) | {"event_id": None, "valid_until": None} == {
        "allowed": False,
        "reason": "consent_withdrawn",
        "legal_basis": "consent",
        "event_id": None,
        "valid_until": None,
    }

    again = tclient.post(link + "&lang=en")
    assert again.status_code == 200 and "unsubscribed already" in again.get_data(as_text=True)
    assert "<h1>You are unsubscribed already</h1>" in tclient.get(link + "&lang=en").get_data(as_text=True)
    assert len(consent_events(clocked_ctx)) == before + 1


def test_rfc_8058_one_click_post_records_one_withdrawal(tclient, auth, clocked_ctx):
    subject = subscribe(tclient, auth)
    link = path_of(unsub.link(clocked_ctx, subject, "newsletter")["url"])
    before = len(consent_events(clocked_ctx))
    tclient._cookies.clear()  # a mail provider's server has no cookie of the person
    first = tclient.post(link, data=ONE_CLICK)
    assert first.status_code == 200
    assert "Set-Cookie" not in first.headers
    second = tclient.post(link, data=ONE_CLICK)
    assert second.status_code == 200
    assert len(consent_events(clocked_ctx)) == before + 1
    assert gate(tclient, auth)["reason"] == "consent_withdrawn"
    # a later grant (say, a new sign-up) is withdrawn by the same link again
    subscribe(tclient, auth)
    assert tclient.post(link, data=ONE_CLICK).status_code == 200
    assert len(consent_events(clocked_ctx)) == before + 3


def test_two_clicks_at_once_record_one_withdrawal(tclient, auth, clocked_ctx):
    subject = subscribe(tclient, auth)
    token = tokens.make(clocked_ctx, "unsubscribe", [subject, "newsletter"])
    before = len(consent_events(clocked_ctx))
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        results.append(unsub.unsubscribe(clocked_ctx, token, way="one_click"))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert len(consent_events(clocked_ctx)) == before + 1


def test_forged_or_foreign_tokens_record_nothing(tclient, auth, clocked_ctx):
    subject = subscribe(tclient, auth)
    token = tokens.make(clocked_ctx, "unsubscribe", [subject, "newsletter"])
    before = len(consent_events(clocked_ctx))
    bad_tokens = (
        token[:-2] + ("xx" if token[-2:] != "xx" else "yy"),
        tokens.make(clocked_ctx, "signin", [subject, "en", None, "n"]),
        tokens.make(clocked_ctx, "unsubscribe", ["sub_nobody", "newsletter"]),
        tokens.make(clocked_ctx, "unsubscribe", [subject, "no_such_purpose"]),
        "",
    )
    for bad in bad_tokens:
        assert tclient.get(f"/privacy/unsubscribe?token={bad}").status_code == 404
        assert tclient.post(f"/privacy/unsubscribe?token={bad}").status_code == 404
        assert tclient.post(f"/privacy/unsubscribe?token={bad}", data=ONE_CLICK).status_code == 404
    assert len(consent_events(clocked_ctx)) == before
