"""The console's retention pages through the test client: rules, legal holds (with their audit
entries naming the staff account), the preview, and runs started from the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from consent_service import create_app, locks
from consent_service.auditlog import service as auditlog
from consent_service.retention import runs
from consent_service.retention import service as retention
from consent_service.staff import service as staff
from consent_service.stores import registry
from tests.api.helpers import CRM_STORE
from tests.console_helpers import DPO, add_staff, sign_in, token

EN = {"Accept-Language": "en"}
RULE = {
    "key": "inactive",
    "description": "customers a year after their last login",
    "store": "crm",
    "collection": "customers",
    "period": "P1Y",
    "trigger_type": "last_activity",
    "trigger_field": "last_login",
    "action": "delete",
}


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def crm_with_logins(ctx: Any, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT, last_login TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO customers VALUES (1, 'a@x.org', 'A', '2020-05-01 10:00:00'), (2, 'b@x.org', 'B', '2020-05-01 10:00:00')"
            )
        )
    engine.dispose()
    registry.save_store(ctx, "crm", CRM_STORE | {"connection": {"url": url}})
    return url


def customers(url: str) -> list[int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM customers ORDER BY id"))]
    engine.dispose()
    return ids


def staff_id(ctx: Any, email: str = DPO) -> str:
    return next(u["id"] for u in staff.list_users(ctx) if u["email"] == email)


@pytest.fixture
def client(clocked_ctx: Any) -> Any:
    add_staff(clocked_ctx)
    web = create_app(context=clocked_ctx).test_client()
    sign_in(web)
    return web


def csrf(client: Any, url: str = "/console/retention") -> str:
    return token(page(client.get(url)))


def test_the_page_says_what_to_do_when_there_is_nothing_yet(client: Any):
    html = page(client.get("/console/retention", headers=EN))
    assert "No retention rule yet" in html and "No legal hold" in html and "No run yet" in html
    assert 'aria-current="page">Retention<' in html


def test_a_rule_is_created_edited_and_retired_after_confirmation(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    crm_with_logins(clocked_ctx, tmp_path)
    answer = client.post("/console/retention/rules/new", data=RULE | {"csrf_token": csrf(client)})
    assert answer.status_code == 302, page(answer)
    rule = retention.read_rule(clocked_ctx, "inactive")
    assert rule["applies_to"] == {"store": "crm", "collection": "customers"}
    assert rule["versions"][0]["created_by"] == staff_id(clocked_ctx)
    listed = page(client.get("/console/retention", headers=EN))
    assert (
        "<code>inactive</code>" in listed and "the last activity" in listed and "delete the record" in listed
    )

    form = page(client.get("/console/retention/rules/inactive"))
    assert 'value="P1Y"' in form and 'value="last_login"' in form
    changed = client.post(
        "/console/retention/rules/inactive", data=RULE | {"period": "P2Y", "csrf_token": token(form)}
    )
    assert changed.status_code == 302
    assert retention.read_rule(clocked_ctx, "inactive")["version"] == 2

    confirm = page(client.get("/console/retention/rules/inactive/retire", headers=EN))
    assert "no run applies this rule" in confirm
    unconfirmed = client.post("/console/retention/rules/inactive/retire", data={"csrf_token": token(confirm)})
    assert unconfirmed.status_code == 422 and retention.read_rule(clocked_ctx, "inactive")["active"] is True
    retired = client.post(
        "/console/retention/rules/inactive/retire", data={"csrf_token": token(confirm), "confirm": "y"}
    )
    assert retired.status_code == 302 and retention.read_rule(clocked_ctx, "inactive")["active"] is False


def test_a_bad_rule_is_shown_again_with_each_problem_at_its_field(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    crm_with_logins(clocked_ctx, tmp_path)
    bad = RULE | {"collection": "orders", "period": "one year", "csrf_token": csrf(client)}
    answer = client.post("/console/retention/rules/new", data=bad, headers=EN)
    assert answer.status_code == 422
    html = page(answer)
    assert 'id="period-error"' in html and "ISO 8601" in html
    answer = client.post("/console/retention/rules/new", data=bad | {"period": "P1Y"}, headers=EN)
    html = page(answer)
    assert answer.status_code == 422 and 'id="collection-error"' in html and "has no collection" in html
    assert 'href="#collection"' in html  # the summary at the top links to the field
    nothing = client.post(
        "/console/retention/rules/new",
        data={
            "csrf_token": csrf(client),
            "key": "x",
            "period": "P1Y",
            "trigger_type": "since_field",
            "trigger_field": "at",
            "action": "delete",
        },
    )
    assert nothing.status_code == 422 and 'id="purpose-error"' in page(nothing)
    assert retention.read_rules(clocked_ctx, include_retired=True) == []


def test_a_hold_is_placed_and_released_and_both_land_in_the_audit_log_with_the_staff_user(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    crm_with_logins(clocked_ctx, tmp_path)
    form = csrf(client, "/console/retention/holds/new")
    placed = client.post(
        "/console/retention/holds/new",
        data={
            "csrf_token": form,
            "key": "case-17",
            "store": "crm",
            "reason": "court case 17",
            "ends_on": "2031-01-31",
        },
    )
    assert placed.status_code == 302, page(placed)
    hold = retention.read_hold(clocked_ctx, "case-17")
    assert hold["scope"] == {"store": "crm"} and hold["active"] and hold["ends_at"].year == 2031
    listed = page(client.get("/console/retention", headers=EN))
    assert "court case 17" in listed and "in force" in listed and "31 January 2031" in listed

    again = client.post(
        "/console/retention/holds/new",
        data={"csrf_token": form, "key": "case-17", "store": "crm", "reason": "other"},
    )
    assert (
        again.status_code == 422 and retention.read_hold(clocked_ctx, "case-17")["reason"] == "court case 17"
    )

    confirm = page(client.get("/console/retention/holds/case-17/release", headers=EN))
    assert "court case 17" in confirm and "falls under retention and erasure again" in confirm
    unconfirmed = client.post(
        "/console/retention/holds/case-17/release", data={"csrf_token": token(confirm), "reason": "settled"}
    )
    assert (
        unconfirmed.status_code == 422 and retention.read_hold(clocked_ctx, "case-17")["released_at"] is None
    )
    released = client.post(
        "/console/retention/holds/case-17/release",
        data={"csrf_token": token(confirm), "reason": "settled", "confirm": "y"},
    )
    assert (
        released.status_code == 302
        and retention.read_hold(clocked_ctx, "case-17")["release_reason"] == "settled"
    )

    with clocked_ctx.uow(write=False) as uow:
        logged = auditlog.entries(uow.session, "holds")
    assert [(e["action"], e["actor"]) for e in logged] == [
        ("placed", staff_id(clocked_ctx)),
        ("released", staff_id(clocked_ctx)),
    ]
    assert ">released<" in page(client.get("/console/retention", headers=EN))


def test_bad_holds_are_shown_again_with_their_problems(client: Any, clocked_ctx: Any, tmp_path: Path):
    crm_with_logins(clocked_ctx, tmp_path)
    form = csrf(client, "/console/retention/holds/new")
    cases = [
        ({"key": "h1", "reason": "x"}, "subject-error"),  # neither a subject nor a store
        ({"key": "h1", "subject": "no-such-subject", "reason": "x"}, "subject-error"),
        ({"key": "h1", "store": "crm", "collection": "orders", "reason": "x"}, "collection-error"),
        ({"key": "h1", "store": "crm", "reason": "x", "purpose": "nope"}, "purpose-error"),
        ({"key": "h1", "store": "crm", "reason": ""}, "reason-error"),
        ({"key": "H 1", "store": "crm", "reason": "x"}, "key-error"),
        ({"key": "h1", "store": "crm", "reason": "x", "ends_on": "someday"}, "ends_on-error"),
        ({"key": "h1", "store": "elsewhere", "reason": "x"}, "store-error"),
    ]
    for data, error in cases:
        answer = client.post("/console/retention/holds/new", data=data | {"csrf_token": form})
        assert answer.status_code == 422 and f'id="{error}"' in page(answer), (data, page(answer))
    assert retention.read_holds(clocked_ctx) == []


def test_the_preview_counts_what_a_run_would_do(client: Any, clocked_ctx: Any, tmp_path: Path):
    url = crm_with_logins(clocked_ctx, tmp_path)
    client.post("/console/retention/rules/new", data=RULE | {"csrf_token": csrf(client)})
    html = page(client.get("/console/retention/preview", headers=EN))
    row = re.search(r"<code>inactive</code>.*?</tr>", html, re.S)
    assert row and "<code>crm.customers</code>" in row.group(0)
    assert re.findall(r'class="num">(\d+)<', row.group(0))[:2] == ["2", "0"]  # 2 due, none deleted
    assert customers(url) == [1, 2] and runs.list_runs(clocked_ctx) == []


def test_a_dry_run_started_from_the_page_finishes_and_its_report_shows(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    url = crm_with_logins(clocked_ctx, tmp_path)
    client.post("/console/retention/rules/new", data=RULE | {"csrf_token": csrf(client)})
    answer = client.post("/console/retention/runs", data={"csrf_token": csrf(client), "store": "crm"})
    assert answer.status_code == 302
    run_id = answer.headers["Location"].rsplit("/", 1)[1]
    run = runs.get_run(clocked_ctx, run_id)
    assert run["state"] == "completed" and run["dry_run"] and run["started_by"] == staff_id(clocked_ctx)
    html = page(client.get(answer.headers["Location"], headers=EN))
    assert "data-live" not in html and ">completed<" in html and DPO in html
    assert (
        "A dry run: it counts what is due and changes nothing." in html
        and f"retention #{run['audit_seq']}" in html
    )
    assert customers(url) == [1, 2]
    assert f'href="/console/retention/runs/{run_id}"' in page(client.get("/console/retention"))


def test_a_real_run_needs_its_confirmation_then_deletes_what_is_due(
    client: Any, clocked_ctx: Any, tmp_path: Path
):
    url = crm_with_logins(clocked_ctx, tmp_path)
    client.post("/console/retention/rules/new", data=RULE | {"csrf_token": csrf(client)})
    confirm = page(client.get("/console/retention/runs/real", headers=EN))
    assert "cannot be brought back" in confirm
    unconfirmed = client.post(
        "/console/retention/runs/real", data={"csrf_token": token(confirm), "store": "crm"}
    )
    assert unconfirmed.status_code == 422 and runs.list_runs(clocked_ctx) == [] and customers(url) == [1, 2]
    started = client.post(
        "/console/retention/runs/real", data={"csrf_token": token(confirm), "store": "crm", "confirm": "y"}
    )
    assert started.status_code == 302 and customers(url) == []
    html = page(client.get(started.headers["Location"], headers=EN))
    assert re.search(r"<dt>deleted</dt><dd>2</dd>", html)


def test_a_run_in_progress_is_a_live_region_until_it_is_done(client: Any, clocked_ctx: Any, tmp_path: Path):
    crm_with_logins(clocked_ctx, tmp_path)
    run = runs.create_run(clocked_ctx, dry_run=True, store="crm", started_by=staff_id(clocked_ctx))
    html = page(client.get(f"/console/retention/runs/{run['id']}", headers=EN))
    assert '<div id="live" role="status" data-live="2">' in html and ">queued<" in html
    assert "http-equiv" not in html and "Show the current counts" in html  # no timed reload
    runs.execute_run(clocked_ctx, run["id"])
    html = page(client.get(f"/console/retention/runs/{run['id']}", headers=EN))
    assert "data-live" not in html and ">completed<" in html


def test_a_second_run_while_one_goes_is_refused_with_a_page(client: Any, clocked_ctx: Any, tmp_path: Path):
    crm_with_logins(clocked_ctx, tmp_path)
    form = csrf(client)
    with locks.exclusive(clocked_ctx.db, runs.RUN_LOCK) as mine:
        assert mine
        answer = client.post("/console/retention/runs", data={"csrf_token": form}, headers=EN)
    assert answer.status_code == 409 and "A retention run is in progress" in page(answer)
    assert (
        client.post("/console/retention/runs", data={"csrf_token": form, "store": "nope"}).status_code == 422
    )
    assert client.get("/console/retention/runs/unknown").status_code == 404
    assert client.get("/console/retention/rules/unknown").status_code == 404
    assert client.get("/console/retention/holds/unknown/release").status_code == 404
    assert runs.list_runs(clocked_ctx) == []


@pytest.mark.parametrize("role", ["auditor", "agent"])
def test_readers_see_retention_but_every_change_is_403(clocked_ctx: Any, tmp_path: Path, role: str):
    crm_with_logins(clocked_ctx, tmp_path)
    retention.save_rule(
        clocked_ctx,
        "inactive",
        {
            "applies_to": {"store": "crm"},
            "period": "P1Y",
            "trigger": {"type": "since_field", "field": "last_login"},
            "action": "delete",
        },
        actor="test",
    )
    retention.save_hold(clocked_ctx, "case", {"scope": {"store": "crm"}, "reason": "case"}, actor="test")
    add_staff(clocked_ctx, email=f"{role}@example.org", role=role)
    web = create_app(context=clocked_ctx).test_client()
    sign_in(web, email=f"{role}@example.org")
    html = page(web.get("/console/retention", headers=EN))
    assert (
        "<code>inactive</code>" in html
        and ">Start a dry run</button>" not in html
        and ">Release<" not in html
    )
    assert web.get("/console/retention/preview").status_code == 200
    form = token(html)
    posts = [
        ("/console/retention/rules/new", RULE),
        ("/console/retention/rules/inactive", RULE),
        ("/console/retention/rules/inactive/retire", {"confirm": "y"}),
        ("/console/retention/holds/new", {"key": "h2", "store": "crm", "reason": "x"}),
        ("/console/retention/holds/case/release", {"reason": "x", "confirm": "y"}),
        ("/console/retention/runs", {}),
        ("/console/retention/runs/real", {"confirm": "y"}),
    ]
    for url, data in posts:
        assert web.post(url, data=data | {"csrf_token": form}).status_code == 403, url
    assert (
        runs.list_runs(clocked_ctx) == [] and retention.read_hold(clocked_ctx, "case")["released_at"] is None
    )
    assert retention.read_rule(clocked_ctx, "inactive")["active"] is True


def test_a_hold_on_a_subject_keeps_its_reason_sealed_and_shows_it_to_staff(client: Any, clocked_ctx: Any):
    from consent_service.subjects.service import IdentityRef, get_or_create

    with clocked_ctx.uow() as uow:
        subject_id, _ = get_or_create(
            uow.session, clocked_ctx.crypto, IdentityRef("email", "anna@example.org"), clocked_ctx.now()
        )
        uow.commit()
    form = csrf(client, "/console/retention/holds/new")
    placed = client.post(
        "/console/retention/holds/new",
        data={"csrf_token": form, "key": "anna", "subject": subject_id, "reason": "Anna's lawsuit"},
    )
    assert placed.status_code == 302, page(placed)
    with clocked_ctx.uow(write=False) as uow:
        logged = auditlog.entries(uow.session, "holds")
    assert "Anna" not in str(logged) and logged[0]["actor"] == staff_id(clocked_ctx)  # sealed in the log
    assert "Anna&#39;s lawsuit" in page(client.get("/console/retention", headers=EN))
    both = client.post(
        "/console/retention/holds/new",
        data={
            "csrf_token": form,
            "key": "both",
            "subject": subject_id,
            "store": "",
            "collection": "c",
            "reason": "x",
        },
    )
    assert both.status_code == 422 and [h["key"] for h in retention.read_holds(clocked_ctx)] == ["anna"]
