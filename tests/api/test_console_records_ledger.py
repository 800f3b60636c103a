"""The console's records of processing and ledger pages through the test client.

Records: the page names each purpose with its retention period, in the page's language; the
downloads are the API's bytes. Ledger: a DPO starts a verification of a few hundred events and it
ends ok with the right count; an event edited directly in the database is reported with its
sequence number; agents and auditors may look but not start one; every page renders for an
auditor. The API's verification endpoints share the same rule (one running at a time).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import update

from consent_service import create_app, jobs
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import verification
from consent_service.ledger.checkpoints import latest_checkpoint
from consent_service.ledger.models import LedgerEvent
from tests.console_helpers import add_staff, sign_in, token
from tests.integration.helpers import consent, disable_ledger_guards, email, raw

SUBJECTS = 100
DECISIONS = (("purpose", "analytics", True), ("purpose", "newsletter", True), ("cookie", "_ga", True))
EVENTS = SUBJECTS * len(DECISIONS)
AUDITOR, AGENT = "auditor@example.org", "agent@example.org"


@pytest.fixture
def app(clocked_ctx: Context) -> Any:
    seed(clocked_ctx)
    add_staff(clocked_ctx)
    add_staff(clocked_ctx, email=AUDITOR, role="auditor")
    add_staff(clocked_ctx, email=AGENT, role="agent")
    return create_app(context=clocked_ctx)


@pytest.fixture
def client(app: Any) -> Any:
    client = app.test_client()
    sign_in(client)
    return client


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def record_events(ctx: Context, subjects: int = SUBJECTS) -> None:
    for n in range(subjects):
        consent(ctx, identity=email(f"person{n}"), decisions=DECISIONS)


def start(client: Any) -> Any:
    page = text(client.get("/console/ledger"))
    return client.post("/console/ledger/verifications", data={"csrf_token": token(page)})


def api_headers(ctx: Context) -> dict[str, str]:
    from consent_service.auth.service import register_client

    return {"Authorization": f"Bearer {register_client(ctx, 'auditor', ['ledger:audit', 'dsar:manage'])[1]}"}


# Records of processing ------------------------------------------------------------------------


def test_the_records_page_names_each_purpose_with_its_retention_in_the_page_language(client):
    english = text(client.get("/console/records", headers={"Accept-Language": "en"}))
    section = english[english.index('id="purpose-newsletter"') :]
    section = section[: section.index("</section>")]
    assert "Newsletter" in section and "2 years" in section and "(P2Y)" in section
    assert "consent (Art. 6(1)(a))" in section
    assert "Website analytics" in english and "1 year, 2 months" in english
    german = text(client.get("/console/records", headers={"Accept-Language": "de"}))
    assert "Verzeichnis von Verarbeitungstätigkeiten" in german
    assert "Website-Analyse" in german and "1 Jahr, 2 Monate" in german and "2 Jahre" in german
    assert "Einwilligung (Art. 6 Abs. 1 lit. a)" in german


def test_the_downloads_are_the_bytes_of_the_api(client, clocked_ctx):
    headers = api_headers(clocked_ctx)
    api_json = client.get("/v1/ropa", headers=headers)
    api_csv = client.get("/v1/ropa?format=csv", headers=headers)
    assert api_json.status_code == 200 and api_csv.status_code == 200
    page_json = client.get("/console/records.json")
    page_csv = client.get("/console/records.csv")
    assert page_json.get_data() == api_json.get_data()
    assert page_csv.get_data() == api_csv.get_data()
    assert b"newsletter" in page_csv.get_data()
    assert page_json.mimetype == "application/json" and page_csv.mimetype == "text/csv"
    day = clocked_ctx.now().date().isoformat()
    assert (
        page_json.headers["Content-Disposition"] == f'attachment; filename="records-of-processing-{day}.json"'
    )
    assert (
        page_csv.headers["Content-Disposition"] == f'attachment; filename="records-of-processing-{day}.csv"'
    )


# The ledger ------------------------------------------------------------------------------------


def test_a_verification_of_a_few_hundred_events_ends_ok_with_the_count(client, clocked_ctx, monkeypatch):
    record_events(clocked_ctx)
    latest_checkpoint(clocked_ctx)
    monkeypatch.setattr(verification, "BATCH", 64)  # several batches, each recording its progress
    seen: list[tuple[int, int]] = []
    real = verification._progress
    monkeypatch.setattr(
        verification,
        "_progress",
        lambda ctx, vid, audit: (seen.append((audit.checked, audit.total)), real(ctx, vid, audit)),
    )
    started = start(client)
    assert started.status_code == 303
    location = started.headers["Location"]
    assert re.fullmatch(r"/console/ledger/verifications/[0-9a-f-]{36}", location), location
    assert seen == [(n, EVENTS) for n in range(64, EVENTS, 64)]
    page = text(client.get(location, headers={"Accept-Language": "en"}))
    assert "completed" in page and "intact" in page
    assert f'<progress id="progress-bar" max="{EVENTS}" value="{EVENTS}"' in page
    assert "data-live" not in page and not re.search(r"console\.[0-9a-f]{12}\.js", page)  # done: no wait
    assert "dpo@example.org" in page
    ledger = text(client.get("/console/ledger", headers={"Accept-Language": "en"}))
    assert f"<dd>{EVENTS}</dd>" in ledger and "intact" in ledger
    assert "valid" in ledger and f'<td data-label="Sequence number">{EVENTS}</td>' in ledger
    done = verification.get(clocked_ctx, location.rsplit("/", 1)[1])
    assert done["ok"] is True and done["checked"] == done["total"] == EVENTS and done["percent"] == 100


def test_an_event_edited_in_the_database_is_reported_with_its_sequence_number(client, clocked_ctx):
    record_events(clocked_ctx, subjects=40)
    with raw(clocked_ctx) as conn:
        disable_ledger_guards(conn)
        conn.execute(update(LedgerEvent.__table__).where(LedgerEvent.seq == 77).values(decision="denied"))
    location = start(client).headers["Location"]
    page = text(client.get(location, headers={"Accept-Language": "en"}))
    assert "broken" in page and "First defect at sequence number 77" in page
    assert "content does not match its hash (modified)" in page
    german = text(client.get("/console/ledger", headers={"Accept-Language": "de"}))
    assert "Erster Fehler bei Sequenznummer 77" in german


def test_a_running_verification_shows_live_progress_and_a_second_start_shows_it(client, clocked_ctx):
    record_events(clocked_ctx, subjects=5)
    queued: list[str] = []
    clocked_ctx.caches[verification.VERIFIER] = lambda ctx, vid: queued.append(vid)  # a queue that waits
    first = start(client).headers["Location"]
    page = text(client.get(first, headers={"Accept-Language": "en"}))
    assert '<div id="live" role="status" data-live="2">' in page
    assert re.search(r'<script src="/console/static/console\.[0-9a-f]{12}\.js" defer></script>', page)
    assert (
        "0 of 15 events checked (0 %)" in page and '<progress id="progress-bar" max="15" value="0">' in page
    )
    assert start(client).headers["Location"] == first  # the queued one, not a second
    assert len(queued) == 1
    ledger = text(client.get("/console/ledger", headers={"Accept-Language": "en"}))
    assert "A verification is queued: 0 of 15 events checked." in ledger
    verification.execute(clocked_ctx, queued[0])  # the worker takes it
    assert "intact" in text(client.get(first, headers={"Accept-Language": "en"}))


def test_the_embedded_queue_runs_it_in_the_background(app, client, clocked_ctx):
    record_events(clocked_ctx, subjects=30)
    jobs.install(clocked_ctx)
    queue = jobs.queue_for(clocked_ctx.config)
    try:
        location = start(client).headers["Location"]
        queue.broker.join(clocked_ctx.config.broker_queue)
        queue.worker.join()  # type: ignore[union-attr]
    finally:
        clocked_ctx.caches.pop(verification.VERIFIER, None)
    done = verification.get(clocked_ctx, location.rsplit("/", 1)[1])
    assert done["state"] == "completed" and done["ok"] is True and done["checked"] == 90


@pytest.mark.parametrize("email_", [AUDITOR, AGENT])
def test_auditors_and_agents_may_look_but_not_start_a_verification(app, clocked_ctx, email_):
    record_events(clocked_ctx, subjects=3)
    dpo = app.test_client()
    sign_in(dpo)
    location = start(dpo).headers["Location"]
    other = app.test_client()
    sign_in(other, email=email_)
    ledger = other.get("/console/ledger")
    assert ledger.status_code == 200 and "Verify the whole ledger" not in text(ledger)
    refused = other.post("/console/ledger/verifications", data={"csrf_token": token(text(ledger))})
    assert refused.status_code == 403
    assert verification.latest(clocked_ctx)["id"] == location.rsplit("/", 1)[1]  # nothing new
    for page in (
        "/console/records",
        "/console/records.json",
        "/console/records.csv",
        "/console/ledger",
        location,
    ):
        assert other.get(page).status_code == 200, page


def test_an_unknown_verification_is_a_page_not_found(client):
    missing = client.get("/console/ledger/verifications/not-a-verification")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def test_the_api_starts_and_shows_a_verification(client, clocked_ctx):
    record_events(clocked_ctx, subjects=4)
    headers = api_headers(clocked_ctx)
    started = client.post("/v1/ledger/verifications", headers=headers)
    assert started.status_code == 202, started.get_json()
    body = started.get_json()
    assert body["state"] == "completed" and body["ok"] is True and body["checked"] == 12
    shown = client.get(f"/v1/ledger/verifications/{body['id']}", headers=headers).get_json()
    assert shown["report"]["events_checked"] == 12 and shown["percent"] == 100
    assert client.get("/v1/ledger/verifications/nope", headers=headers).status_code == 404
