"""The portal's second line against abuse and loss: a new code for an expired or lost one (limited
per request, per address and per client IP, the old code dead, the lock-out kept), a proof of work accepted
once across processes, and limits per hour and per day beside those per minute."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from consent_service import create_app, jobs
from consent_service.dsar import outbox
from consent_service.dsar import portal as dsar_portal
from consent_service.dsar.portal_models import PortalChallenge
from consent_service.web import challenge
from consent_service.wiring import bootstrap
from tests.api.mail import code_in
from tests.api.test_portal import csrf, opened_with_code, requests_in, solution, submit


def new_code(client, request_id: str, lang: str = "de"):
    token = csrf(client, f"/privacy/requests/{request_id}")
    return client.post(f"/privacy/requests/{request_id}/code?lang={lang}", data={"csrf_token": token})


def enter(client, request_id: str, code: str):
    token = csrf(client, f"/privacy/requests/{request_id}")
    return client.post(f"/privacy/requests/{request_id}?lang=de", data={"csrf_token": token, "code": code})


def codes_mailed(ctx, inbox, email: str = "anna@example.org", expect: int = 0) -> list[str]:
    """The codes mailed to ``email`` so far (waiting until ``expect`` of them arrived)."""
    outbox.deliver(ctx)
    inbox.of_kind("verification_code", expect, timeout=5.0 if expect else 0.2)
    return [code_in(m) for m in inbox.of_kind("verification_code", 0) if m["To"] == email]


def test_a_new_code_replaces_an_expired_one_and_the_old_one_stops_working(dpo, clocked_ctx, clock, smtp):
    client, headers = dpo
    inbox = smtp[1]
    request_id, first = opened_with_code(client, clocked_ctx, inbox)
    clock.advance(minutes=clocked_ctx.config.verification_code_minutes + 1)
    expired = enter(client, request_id, first)
    assert expired.status_code == 409
    page = client.get(f"/privacy/requests/{request_id}?lang=de").get_data(as_text=True)
    assert "Neuen Code senden" in page and f"/privacy/requests/{request_id}/code" in page

    sent = new_code(client, request_id)
    assert sent.status_code == 303 and "resent=1" in sent.headers["Location"]
    notice = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "haben wir einen neuen an die E-Mail-Adresse der Anfrage gesendet" in notice
    mailed = codes_mailed(clocked_ctx, inbox, expect=2)
    assert len(mailed) == 2
    second = mailed[-1]
    if second != first:  # one in a million the same six digits: then the old one is the new one
        assert enter(client, request_id, first).status_code == 422
    right = enter(client, request_id, second)
    assert right.status_code == 303
    assert "Wir bearbeiten sie." in client.get(f"/privacy/requests/{request_id}?lang=de").get_data(
        as_text=True
    )
    trail = client.get(f"/v1/requests/{request_id}", headers=headers).get_json()
    assert trail["state"] == "verified"
    assert [e["actor"] for e in trail["audit_trail"] if e["action"] == "code_resent"] == ["portal"]


def test_new_codes_keep_the_count_of_wrong_ones_and_a_locked_request_gets_none(dpo, clocked_ctx, smtp):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(verification_max_attempts=2)
    request_id, code = opened_with_code(client, clocked_ctx, smtp[1])
    wrong = "000000" if code != "000000" else "111111"
    assert enter(client, request_id, wrong).status_code == 422
    assert new_code(client, request_id).status_code == 303
    *_, fresh = codes_mailed(clocked_ctx, smtp[1], expect=2)
    other = "000000" if fresh != "000000" else "111111"
    assert enter(client, request_id, other).status_code == 422  # the second wrong one: locked
    assert enter(client, request_id, fresh).status_code == 409
    before = len(codes_mailed(clocked_ctx, smtp[1]))
    locked = new_code(client, request_id)
    assert locked.status_code == 303  # answered as any other: the id alone tells nothing
    assert len(codes_mailed(clocked_ctx, smtp[1])) == before


def test_an_unknown_request_is_answered_as_a_known_one(dpo, clocked_ctx, smtp):
    client, _ = dpo
    unknown = new_code(client, "req_0000000000000000")
    assert unknown.status_code == 303 and "resent=1" in unknown.headers["Location"]
    assert codes_mailed(clocked_ctx, smtp[1]) == []
    no_token = client.post("/privacy/requests/req_0000000000000000/code?lang=de", data={})
    assert no_token.status_code == 400


def test_new_codes_are_limited_per_request_and_per_address(dpo, clocked_ctx, smtp):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(portal_resend_limit=1, portal_email_limit=50)
    request_id, _ = opened_with_code(client, clocked_ctx, smtp[1])
    assert new_code(client, request_id).status_code == 303
    again = new_code(client, request_id)
    html = again.get_data(as_text=True)
    assert again.status_code == 429 and "mehrere neue Codes angefordert" in html and "Minute(n)" in html
    assert len(codes_mailed(clocked_ctx, smtp[1], expect=2)) == 2

    # the address's limit counts new requests and new codes alike
    clocked_ctx.config = clocked_ctx.config.with_overrides(
        portal_resend_limit=10, portal_email_limit=0, portal_email_hourly_limit=2
    )
    other_id, _ = opened_with_code(client, clocked_ctx, smtp[1], email="ben@example.org")
    assert new_code(client, other_id).status_code == 303
    over = new_code(client, other_id, lang="en")
    assert over.status_code == 429 and "You have asked for several new codes" in over.get_data(as_text=True)
    assert len(codes_mailed(clocked_ctx, smtp[1], "ben@example.org", expect=4)) == 2


def test_new_codes_count_against_the_client_ips_code_limits(dpo, clocked_ctx, smtp):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(portal_resend_limit=10, portal_email_limit=50)
    first, _ = opened_with_code(client, clocked_ctx, smtp[1])
    second, _ = opened_with_code(client, clocked_ctx, smtp[1], email="ben@example.org")
    clocked_ctx.config = clocked_ctx.config.with_overrides(portal_code_limit=2)
    assert new_code(client, first).status_code == 303
    assert enter(client, first, "000000").status_code == 422  # a wrong code: the second of the IP
    over = new_code(client, second, lang="en")  # another request, the same client
    assert over.status_code == 429 and "You have asked for several new codes" in over.get_data(as_text=True)
    assert len(codes_mailed(clocked_ctx, smtp[1], "ben@example.org", expect=1)) == 1  # none sent


def test_a_solution_is_accepted_once_even_by_another_process(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(
        portal_plain_request_limit=1, portal_request_limit=10
    )
    # another process on the same database (its own limits in memory, the same used solutions)
    other = create_app(context=bootstrap(clocked_ctx.config)).test_client()
    solved = solution(clocked_ctx)
    assert submit(client, email="a@example.org", altcha=solved).status_code == 303
    for worker, email in ((client, "b@example.org"), (other, "c@example.org")):
        assert submit(worker, email=email).status_code == 303  # the one plain form of each
        replayed = submit(worker, email="x@example.org", altcha=solved)
        assert replayed.status_code == 429  # the solution again counts as no solution: over
    assert submit(other, email="d@example.org", altcha=solution(clocked_ctx)).status_code == 303
    assert requests_in(clocked_ctx) == 4


def test_the_housekeeping_forgets_used_solutions_once_they_expired(dpo, clocked_ctx):
    now = dt.datetime.now(dt.UTC)
    assert challenge.solved(clocked_ctx, solution(clocked_ctx))  # kept: it has 10 minutes to go
    assert dsar_portal.spend_challenge(clocked_ctx, "sig-old", until=now - dt.timedelta(seconds=1))
    assert not dsar_portal.spend_challenge(clocked_ctx, "sig-old", until=now)
    jobs.housekeeping(clocked_ctx)
    with clocked_ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(PortalChallenge)) == 1
    assert dsar_portal.spend_challenge(clocked_ctx, "sig-old", until=now)  # forgotten


def test_requests_are_limited_per_hour_and_per_day_too(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(
        portal_plain_request_limit=100,
        portal_plain_request_hourly_limit=100,
        portal_plain_request_daily_limit=1,
    )
    assert submit(client, email="a@example.org").status_code == 303
    daily = submit(client, email="b@example.org")
    html = daily.get_data(as_text=True)
    assert daily.status_code == 429 and "mehrere Anfragen gesendet" in html and "in 24 Stunde(n)" in html
    assert 'value="b@example.org"' in html  # the person's entries are kept

    clocked_ctx.config = clocked_ctx.config.with_overrides(
        portal_plain_request_daily_limit=100, portal_email_limit=100, portal_email_hourly_limit=1
    )
    assert submit(client, email="c@example.org").status_code == 303
    hourly = submit(client, email=" C@example.org")
    assert hourly.status_code == 429 and "Minute(n)" in hourly.get_data(as_text=True)
    assert requests_in(clocked_ctx) == 2


def test_codes_are_limited_per_hour_too(dpo, clocked_ctx):
    client, _ = dpo
    clocked_ctx.config = clocked_ctx.config.with_overrides(portal_code_limit=100, portal_code_hourly_limit=1)
    assert enter(client, "req_0000000000000000", "123456").status_code == 422
    second = enter(client, "req_0000000000000000", "123456")
    assert second.status_code == 429 and "viele Codes eingegeben" in second.get_data(as_text=True)
