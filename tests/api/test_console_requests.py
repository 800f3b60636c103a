"""The request pages of the console through the test client: search (POST, nothing personal in
a URL), a new request entered by hand, the request page, and each action by role — the DPO may
do all, an agent opens and verifies but downloads no package, an auditor gets 403 on every change.
Bad input shows the form again with the error next to the field, never a 500 or a half write."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text as sql

from consent_service import create_app
from consent_service.dsar import request_views
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.dsar.retries import QUEUE
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef
from tests.api.test_tasks_callbacks_api import MANUAL  # a manual store (a task to close)
from tests.console_helpers import add_staff, overdue_paper_request, sign_in, token

AGENT, AUDITOR = "agent@example.org", "auditor@example.org"
EN = {"Accept-Language": "en"}


@pytest.fixture
def app(clocked_ctx):
    add_staff(clocked_ctx)
    add_staff(clocked_ctx, AGENT, "agent")
    add_staff(clocked_ctx, AUDITOR, "auditor")
    app = create_app(context=clocked_ctx)
    clocked_ctx.caches.pop(QUEUE)  # no task queue: a run from the page runs at once, here
    return app


def client_of(app: Any, email: str | None = None) -> Any:
    client = app.test_client()
    if email is None:
        sign_in(client)
    else:
        sign_in(client, email)
    return client


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def post(client: Any, url: str, page: str, **data: Any) -> Any:
    """POST ``data`` with the CSRF token of ``page`` (a console page the client has open)."""
    return client.post(url, data={"csrf_token": token(text(client.get(page, headers=EN)))} | data, headers=EN)


def fresh_request(
    ctx: Any, kind: str = "access", email: str = "ben@example.org", verified: bool = False
) -> str:
    verification = {"method": "dpo", "note": "ID card seen"} if verified else {"method": "email"}
    return str(
        open_request(ctx, OpenRequest(kind, [IdentityRef("email", email)], verification), actor="test")["id"]
    )


def state_of(ctx: Any, request_id: str) -> str:
    return str(request_views.show(ctx, request_id)["state"])


def test_search_by_id_goes_to_the_page_and_by_identity_lists_the_requests(app, clocked_ctx):
    request_id = overdue_paper_request(clocked_ctx)
    other = fresh_request(clocked_ctx, "erasure", "anna@example.org")
    dpo = client_of(app)
    inbox = text(dpo.get("/console/requests", headers=EN))
    assert 'action="/console/requests/search"' in inbox and 'method="post"' in inbox
    assert f'href="/console/requests/{request_id}"' in inbox
    found = post(dpo, "/console/requests/search", "/console/requests", request_id=request_id)
    assert found.status_code == 302 and found.headers["Location"] == f"/console/requests/{request_id}"
    by_identity = post(
        dpo,
        "/console/requests/search",
        "/console/requests",
        identity_type="email",
        identity_value="anna@example.org",
    )
    page = text(by_identity)
    assert by_identity.status_code == 200 and request_id in page and other in page
    assert "2 requests found" in page and "anna@example.org" not in page.replace(
        'value="anna@example.org"', ""
    )
    unknown = post(dpo, "/console/requests/search", "/console/requests", request_id="req_0000000000000000")
    assert unknown.status_code == 200 and "No request matches this search." in text(unknown)
    empty = post(dpo, "/console/requests/search", "/console/requests")
    assert empty.status_code == 400 and "Enter a request id or an identity." in text(empty)
    assert 'id="request_id-error"' in text(empty) and "There is a problem" in text(empty)
    # the results have no address: a GET (after a language switch) leads back to the inbox
    assert dpo.get("/console/requests/search").headers["Location"] == "/console/requests"
    # the auditor may search too: it changes nothing
    auditor = client_of(app, AUDITOR)
    assert (
        post(auditor, "/console/requests/search", "/console/requests", request_id=request_id).status_code
        == 302
    )


def new_request(client: Any, **fields: Any) -> Any:
    data = {
        "type": "erasure",
        "received_on": "2026-01-20",
        "language": "de",
        "identities-0-type": "email",
        "identities-0-value": "carla@example.org",
        "identities-1-type": "phone",
        "identities-1-value": "",
        "identities-2-type": "email",
        "identities-2-value": "",
        "verify": "y",
        "note": "signed letter, ID card seen",
    } | fields
    return post(client, "/console/requests/new", "/console/requests/new", **data)


def test_a_dpo_enters_a_paper_request_verified_with_a_note(app, clocked_ctx):
    dpo = client_of(app)
    form = text(dpo.get("/console/requests/new", headers=EN))
    assert form.count('name="identities-') == 6 and 'type="date"' in form
    created = new_request(dpo, **{"identities-1-value": "+49 30 1234567"})
    assert created.status_code == 302, text(created)
    request_id = created.headers["Location"].rsplit("/", 1)[1]
    shown = request_views.show(clocked_ctx, request_id)
    assert shown["state"] == "verified" and shown["type"] == "erasure" and shown["language"] == "de"
    assert [i["type"] for i in shown["identities"]] == ["email", "phone"]  # the blank row is ignored
    assert shown["received_at"] == dt.datetime(2026, 1, 20, tzinfo=dt.UTC)  # that day's start (tests: UTC)
    page = text(dpo.get(created.headers["Location"], headers=EN))
    assert "The request was opened." in page
    assert "c***@example.org" in page and "carla@example.org" not in page and "+***67" in page
    assert "verified by the DPO" in page and "Erasure" in page and "German" in page
    assert "by dpo@example.org" in page  # the timeline names the staff member
    again = text(dpo.get(created.headers["Location"], headers=EN))
    assert "The request was opened." not in again  # the confirmation is shown once


def test_the_forms_offer_the_registered_identity_types_a_request_may_name(app, clocked_ctx):
    from consent_service.subjects.identity_types import put_type

    put_type(clocked_ctx, "hubspot_id", case="lower", trim=True, pattern=None, dsar_allowed=True)
    put_type(clocked_ctx, "ad_cookie", case="keep", trim=True, pattern=None, dsar_allowed=False)
    dpo = client_of(app)
    form = text(dpo.get("/console/requests/new", headers=EN))
    assert form.count('<option value="hubspot_id"') == 3 and 'value="ad_cookie"' not in form
    assert 'value="hubspot_id"' in text(dpo.get("/console/requests", headers=EN))  # the search form
    # the first identity names the request's subject: here the CRM's id, normalised by its rule
    created = new_request(
        dpo,
        **{
            "identities-0-type": "hubspot_id",
            "identities-0-value": " HS-77 ",
            "identities-1-type": "email",
            "identities-1-value": "carla@example.org",
        },
    )
    assert created.status_code == 302, text(created)
    shown = request_views.show(clocked_ctx, created.headers["Location"].rsplit("/", 1)[1])
    assert [i["type"] for i in shown["identities"]] == ["hubspot_id", "email"]
    refused = new_request(dpo, **{"identities-0-type": "ad_cookie"})  # not offered: not a choice
    assert refused.status_code == 400 and 'id="identities-0-type-error"' in text(refused)
    found = post(
        dpo,
        "/console/requests/search",
        "/console/requests",
        identity_type="hubspot_id",
        identity_value="Hs-77",
    )
    assert found.status_code == 200 and created.headers["Location"].rsplit("/", 1)[1] in text(found)


def test_a_received_date_in_the_future_or_bad_input_is_a_form_error_and_writes_nothing(app, clocked_ctx):
    dpo = client_of(app)
    before = len(request_views.list_requests(clocked_ctx))
    future = new_request(dpo, received_on=(clocked_ctx.now() + dt.timedelta(days=3)).date().isoformat())
    assert future.status_code == 422
    assert 'id="received_on-error"' in text(future) and "The day cannot be in the future." in text(future)
    for fields, status, where, message in (
        ({"identities-0-value": ""}, 422, "identities-0-value", "Give at least one identity of the person."),
        ({"note": ""}, 422, "note", "Say how you verified the identity."),
        ({"received_on": "yesterday"}, 400, "received_on", "Not a valid date value."),
        ({"type": "telepathy"}, 400, "type", "Not a valid choice."),
        ({"type": "objection"}, 422, "purposes", "Name the purposes objected to."),
        ({"type": "rectification", "changes": "no equals sign"}, 400, "changes", "Write each line as"),
        ({"verify": "", "identities-0-type": "phone"}, 422, "note", "Give an e-mail address for the code"),
    ):
        response = new_request(dpo, **fields)
        page = text(response)
        assert response.status_code == status, (fields, page)
        assert f'id="{where}-error"' in page and message in page, fields
    assert len(request_views.list_requests(clocked_ctx)) == before


def test_the_request_page_shows_header_identities_timeline_and_messages(app, clocked_ctx):
    request_id = overdue_paper_request(clocked_ctx)
    page = text(client_of(app).get(f"/console/requests/{request_id}", headers=EN))
    assert "<h1>Access <code>" in page and 'class="badge state-verified">verified<' in page
    assert "overdue by 4 days" in page and "27 January 2026" in page and "English" in page
    assert "a***@example.org" in page and "anna@example.org" not in page
    assert "Confirmation of receipt" in page and "a***@example.org" in page
    assert "Request received" in page and "verified" in page
    de = text(client_of(app).get(f"/console/requests/{request_id}", headers={"Accept-Language": "de"}))
    assert "<h1>Auskunft <code>" in de and "überfällig" in de
    assert client_of(app).get("/console/requests/req_nope").status_code == 404


def test_an_agent_verifies_but_cannot_run_download_extend_or_refuse(app, clocked_ctx):
    request_id = fresh_request(clocked_ctx)
    agent = client_of(app, AGENT)
    url = f"/console/requests/{request_id}"
    page = text(agent.get(url, headers=EN))
    assert "/verify" in page and "/refuse" not in page and "/run" not in page and "/extend" not in page
    empty = post(agent, f"{url}/verify", url, **{"verify-note": " "})
    assert empty.status_code == 400 and 'id="verify-note-error"' in text(empty)
    done = post(agent, f"{url}/verify", url, **{"verify-note": "called back on the number we hold"})
    assert done.status_code == 302 and done.headers["Location"] == url
    assert state_of(clocked_ctx, request_id) == "verified"
    assert "The identity was verified." in text(agent.get(url, headers=EN))
    assert "by agent@example.org" in text(agent.get(url, headers=EN))
    for action, data in (
        ("run", {}),
        ("extend", {"extend-months": "1", "extend-reason": "many systems"}),
        ("refuse", {"refuse-ground": "excessive", "refuse-reason": "x", "refuse-confirm": "y"}),
    ):
        assert post(agent, f"{url}/{action}", url, **data).status_code == 403, action
    assert agent.get(f"{url}/package/json").status_code == 403
    assert state_of(clocked_ctx, request_id) == "verified"


def code_hash(ctx: Any, request_id: str) -> str:
    with ctx.uow(write=False) as uow:
        return str(
            uow.session.execute(
                sql("SELECT code_hash FROM dsar_verifications WHERE request_id = :r"), {"r": request_id}
            ).scalar_one()
        )


def test_an_agent_sends_a_new_code_to_a_person_who_lost_theirs(app, clocked_ctx, clock):
    request_id = fresh_request(clocked_ctx)
    agent = client_of(app, AGENT)
    url = f"/console/requests/{request_id}"
    page = text(agent.get(url, headers=EN))
    assert f'action="{url}/code"' in page and "The code sent to the person works until" in page
    clock.advance(minutes=clocked_ctx.config.verification_code_minutes + 1)  # the code expired
    agent = client_of(app, AGENT)  # the console's idle sign-out came first
    assert "The code sent to the person expired on" in text(agent.get(url, headers=EN))
    before = code_hash(clocked_ctx, request_id)
    done = post(agent, f"{url}/code", url)
    assert done.status_code == 302 and done.headers["Location"] == url
    page = text(agent.get(url, headers=EN))
    assert "New codes were sent to the request&#39;s e-mail addresses" in page
    assert "The code sent to the person works until" in page
    assert code_hash(clocked_ctx, request_id) != before
    trail = request_views.show(clocked_ctx, request_id)["audit_trail"]
    assert [e["action"] for e in trail].count("code_resent") == 1
    # a request the DPO verified has no code to send again
    other = fresh_request(clocked_ctx, email="cleo@example.org", verified=True)
    assert f"/console/requests/{other}/code" not in text(agent.get(f"/console/requests/{other}", headers=EN))
    refused = post(agent, f"/console/requests/{other}/code", f"/console/requests/{other}")
    assert refused.status_code == 409 and "a DPO verified it" in text(refused)


def test_an_auditor_reads_and_gets_403_on_every_change(app, clocked_ctx):
    request_id = overdue_paper_request(clocked_ctx)
    save_store(clocked_ctx, "archive", MANUAL)
    auditor = client_of(app, AUDITOR)
    url = f"/console/requests/{request_id}"
    page = text(auditor.get(url, headers=EN))
    assert (
        auditor.get(url).status_code == 200
        and '<form method="post" action="/console/requests/req' not in page
    )
    assert "New request" not in text(auditor.get("/console/requests", headers=EN))
    for target in ("verify", "code", "extend", "refuse", "run", "tasks/task_x"):
        assert post(auditor, f"{url}/{target}", url, note="x").status_code == 403, target
    assert auditor.get("/console/requests/new").status_code == 403
    assert post(auditor, "/console/requests/new", url, type="access").status_code == 403
    assert auditor.get(f"{url}/package/json").status_code == 403
    assert state_of(clocked_ctx, request_id) == "verified"


def test_a_dpo_runs_an_access_request_and_downloads_the_package(app, clocked_ctx):
    request_id = overdue_paper_request(clocked_ctx)
    dpo = client_of(app)
    url = f"/console/requests/{request_id}"
    assert "/package/" not in text(dpo.get(url))
    ran = post(dpo, f"{url}/run", url)
    assert ran.status_code == 302 and state_of(clocked_ctx, request_id) == "completed"
    page = text(dpo.get(url, headers=EN))
    assert "The request was run and is completed." in page and "Package created" in page
    for fmt in ("json", "csv", "html"):
        assert f'href="{url}/package/{fmt}"' in page
    as_json = dpo.get(f"{url}/package/json")
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert "attachment" in as_json.headers["Content-Disposition"]
    assert json.loads(as_json.get_data())["request_id"] == request_id
    as_csv = dpo.get(f"{url}/package/csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "application/zip"
    zipfile.ZipFile(io.BytesIO(as_csv.get_data())).testzip()
    as_html = dpo.get(f"{url}/package/html")
    assert as_html.status_code == 200 and request_id in text(as_html)
    assert dpo.get(f"{url}/package/pdf").status_code == 404
    # the agent sees the package is there but gets no link and no file
    agent = client_of(app, AGENT)
    agent_page = text(agent.get(url, headers=EN))
    assert "/package/" not in agent_page and "Your role does not allow downloading it." in agent_page
    for fmt in ("json", "csv", "html"):
        assert agent.get(f"{url}/package/{fmt}").status_code == 403
    # a completed request can be run no more: the service's conflict, on the page
    again = post(dpo, f"{url}/run", url)
    assert again.status_code == 409 and "There is a problem" in text(again)


def test_extending_after_the_first_month_is_refused_with_the_reason_shown(app, clocked_ctx):
    late = overdue_paper_request(clocked_ctx)
    dpo = client_of(app)
    url = f"/console/requests/{late}"
    refused = post(dpo, f"{url}/extend", url, **{"extend-months": "1", "extend-reason": "many systems"})
    assert refused.status_code == 409
    assert "only within the first month; that month has passed" in text(refused)
    assert request_views.show(clocked_ctx, late)["extension_months"] == 0
    no_reason = post(dpo, f"{url}/extend", url, **{"extend-months": "1", "extend-reason": ""})
    assert no_reason.status_code == 400 and 'id="extend-reason-error"' in text(no_reason)
    bad_months = post(dpo, f"{url}/extend", url, **{"extend-months": "7", "extend-reason": "x"})
    assert bad_months.status_code == 400 and 'id="extend-months-error"' in text(bad_months)
    fresh = fresh_request(clocked_ctx, verified=True)
    url = f"/console/requests/{fresh}"
    done = post(dpo, f"{url}/extend", url, **{"extend-months": "2", "extend-reason": "many systems"})
    assert done.status_code == 302
    page = text(dpo.get(url, headers=EN))
    assert "The deadline was extended" in page and "extended by 2 months" in page
    assert "Extension of the deadline" in page  # the message to the person


def test_refusing_needs_the_confirmation_and_a_reason(app, clocked_ctx):
    request_id = fresh_request(clocked_ctx)
    dpo = client_of(app)
    url = f"/console/requests/{request_id}"
    unconfirmed = post(
        dpo, f"{url}/refuse", url, **{"refuse-ground": "excessive", "refuse-reason": "third this month"}
    )
    assert unconfirmed.status_code == 400 and 'id="refuse-confirm-error"' in text(unconfirmed)
    no_reason = post(dpo, f"{url}/refuse", url, **{"refuse-ground": "excessive", "refuse-confirm": "y"})
    assert no_reason.status_code == 422 and 'id="refuse-reason-error"' in text(no_reason)
    assert state_of(clocked_ctx, request_id) == "identity_pending"
    done = post(
        dpo,
        f"{url}/refuse",
        url,
        **{"refuse-ground": "excessive", "refuse-reason": "third this month", "refuse-confirm": "y"},
    )
    assert done.status_code == 302 and state_of(clocked_ctx, request_id) == "rejected"
    page = text(dpo.get(url, headers=EN))
    assert "The request was refused" in page and ">refused<" in page and "Refusal" in page
    assert "/refuse" not in page


def shop_store(ctx: Any, folder: Any, email: str) -> None:
    """A SQLite store whose customers are deleted and whose invoices are kept under a hold."""
    url = f"sqlite:///{folder / 'shop.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sql("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)"))
        conn.execute(sql("CREATE TABLE invoices (id INTEGER PRIMARY KEY, email TEXT, total TEXT)"))
        conn.execute(sql("INSERT INTO customers VALUES (1, :e)"), {"e": email})
        conn.execute(sql("INSERT INTO invoices VALUES (7, :e, '12.50')"), {"e": email})
    engine.dispose()
    email_field = {"email": {"category": "user.contact.email"}}
    save_store(
        ctx,
        "shop",
        {
            "type": "sql",
            "connection": {"url": url},
            "collections": {
                "customers": {"primary_key": "id", "identities": {"email": "email"}, "erase": "delete",
                              "fields": email_field},
                "invoices": {"primary_key": "id", "identities": {"email": "email"}, "fields": email_field,
                             "hold": {"reason": "invoices are kept for ten years (tax law)",
                                      "basis": "legal_obligation"}},
            },
        },
    )  # fmt: skip


def test_a_manual_task_is_completed_and_the_erasure_report_shows_the_holds(app, clocked_ctx, tmp_path):
    save_store(clocked_ctx, "archive", MANUAL)
    shop_store(clocked_ctx, tmp_path, "ben@example.org")
    request_id = fresh_request(clocked_ctx, "erasure", verified=True)
    dpo = client_of(app)
    url = f"/console/requests/{request_id}"
    post(dpo, f"{url}/run", url)
    assert state_of(clocked_ctx, request_id) == "in_progress"
    page = text(dpo.get(url, headers=EN))
    assert (
        "Shred the paper forms" in page
        and "shows the result when the run is done" in page
        and "data-live" in page
        and "waiting for a manual task" in page
    )
    task_id = page.split(f'action="{url}/tasks/', 1)[1].split('"', 1)[0]
    empty = post(dpo, f"{url}/tasks/{task_id}", url, **{f"{task_id}-note": ""})
    assert empty.status_code == 400 and f'id="{task_id}-note-error"' in text(empty)
    assert post(dpo, f"{url}/tasks/task_nope", url, **{"task_nope-note": "x"}).status_code == 404
    done = post(dpo, f"{url}/tasks/{task_id}", url, **{f"{task_id}-note": "forms shredded"})
    assert done.status_code == 302 and state_of(clocked_ctx, request_id) == "completed"
    page = text(dpo.get(url, headers=EN))
    assert "The manual task was marked as done." in page and "Erasure report of shop" in page
    report = page.split("Erasure report of shop", 1)[1].split("</table>", 1)[0]
    assert "customers" in report and "deleted" in report
    assert "invoices" in report and "kept under a hold" in report and "ten years (tax law)" in report
    assert (
        post(client_of(app, AGENT), f"{url}/tasks/{task_id}", url, **{f"{task_id}-note": "x"}).status_code
        == 403
    )


def test_a_queued_run_returns_at_once_and_the_page_says_to_refresh(app, clocked_ctx):
    queued: list[str] = []
    clocked_ctx.caches[QUEUE] = lambda ctx, request_id: queued.append(request_id)
    request_id = overdue_paper_request(clocked_ctx)
    dpo = client_of(app)
    url = f"/console/requests/{request_id}"
    ran = post(dpo, f"{url}/run", url)
    assert ran.status_code == 302 and queued == [request_id]
    assert state_of(clocked_ctx, request_id) == "verified"  # the worker has not run it yet
    assert "This page shows the result when it is done." in text(dpo.get(url, headers=EN))


def test_a_request_from_the_portal_shows_the_persons_message_and_the_sessions_stay_apart(app, clocked_ctx):
    request_id = str(
        open_request(
            clocked_ctx,
            OpenRequest(
                "access",
                [IdentityRef("email", "ben@example.org")],
                {"method": "email"},
                portal=True,
                message="Please include my old orders.",
            ),  # fmt: skip
            actor="portal",
        )["id"]
    )
    dpo = client_of(app)
    page = text(dpo.get(f"/console/requests/{request_id}", headers=EN))
    assert "Message from the person" in page and "Please include my old orders." in page
    public = dpo.get("/privacy/requests/new", headers=EN)
    cookies = public.headers.getlist("Set-Cookie")
    assert any(c.startswith("consent_privacy=") and "Path=/privacy" in c for c in cookies)
    assert not any(c.startswith("consent_console=") for c in cookies)
