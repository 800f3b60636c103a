"""Requests run on the task queue: the embedded in-process queue, and ``consent-service worker``
on real Redis and RabbitMQ brokers, including a worker killed (SIGKILL) in the middle of a large,
slow erasure and started again: the request completes and every row ends as declared, once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from consent_service import jobs
from consent_service.context import Context
from consent_service.dsar import request_views
from consent_service.dsar.request_views import show
from consent_service.dsar.requests import OpenRequest, open_request, verify
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef
from tests.conftest import REQUIRE_SERVERS, make_context, server_url

ANNA = "anna@example.org"
ITEMS = 5000


def wait_for_state(ctx: Context, request_id: str, states: tuple[str, ...], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = show(ctx, request_id)["state"]
        if state in states:
            return state
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} is {state}, not {states}, after {timeout} s")


def store_doc(url: str) -> dict[str, Any]:
    return {
        "type": "sql",
        "connection": {"url": url},
        "collections": {
            "customers": {
                "primary_key": "id",
                "identities": {"email": "email"},
                "erase": "update",
                "fields": {
                    "email": {"category": "user.contact.email", "erase": "hash"},
                    "name": {"category": "user.name", "erase": "nullify"},
                },
            },
            "items": {
                "primary_key": "id",
                "references": {"customer_id": "customers.id"},
                "erase": "update",
                "fields": {
                    "customer_id": {"category": "user.unique_id"},
                    "note": {"category": "user.content", "erase": "nullify"},
                },
            },
        },
    }


def fill_store(url: str, items: int, *, slow: bool = False) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)"))
        conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, customer_id INTEGER, note TEXT)"))
        conn.execute(text(f"INSERT INTO customers VALUES (1, '{ANNA}', 'Anna'), (2, 'ben@x.org', 'Ben')"))
        conn.execute(
            text("INSERT INTO items VALUES (:id, :c, :n)"),
            [{"id": i, "c": 1 if i <= items else 2, "n": f"note {i}"} for i in range(1, items + 2)],
        )
        if slow:  # each row's update takes a millisecond: the erasure lasts seconds, in one transaction
            conn.execute(
                text(
                    "CREATE FUNCTION slow() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.001); "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text("CREATE TRIGGER slow BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION slow()")
            )
    engine.dispose()


def end_state(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {
            "items": conn.execute(text("SELECT count(*) FROM items")).scalar(),
            "anna_notes_left": conn.execute(
                text("SELECT count(*) FROM items WHERE customer_id = 1 AND note IS NOT NULL")
            ).scalar(),
            "ben_notes": conn.execute(text("SELECT note FROM items WHERE customer_id = 2")).scalars().all(),
            "customers": conn.execute(text("SELECT id, email, name FROM customers ORDER BY id")).all(),
        }
    engine.dispose()
    return out


def erasure(ctx: Context) -> OpenRequest:
    return OpenRequest(
        type="erasure",
        identities=[IdentityRef("email", ANNA)],
        verification={"method": "dpo", "note": "passport checked"},
    )


# Embedded queue ---------------------------------------------------------------------------------


def test_embedded_queue_runs_a_request_verified_by_the_dpo(ctx: Context, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    fill_store(url, 20)
    save_store(ctx, "crm", store_doc(url))
    jobs.install(ctx)
    opened = open_request(
        ctx,
        OpenRequest(
            type="erasure", identities=[IdentityRef("email", ANNA)], verification={"method": "email"}
        ),
        actor="test",
    )
    assert opened["state"] == "identity_pending"
    verified = verify(ctx, opened["id"], code=None, dpo_note="ID card checked", actor="test")
    assert verified["state"] == "verified"  # the run is queued after commit, not done inline
    assert wait_for_state(ctx, opened["id"], ("completed", "failed")) == "completed"
    state = end_state(url)
    assert state["items"] == 21 and state["anna_notes_left"] == 0 and state["ben_notes"] == ["note 21"]
    assert state["customers"][0][1].startswith("hmac:") and state["customers"][0][2] is None
    trail = [
        e["details"].get("to") for e in show(ctx, opened["id"])["audit_trail"] if e["action"] == "transition"
    ]
    assert trail.count("completed") == 1


# Real brokers -------------------------------------------------------------------------------------


def broker_url(kind: str) -> str:
    url = server_url(kind)
    parsed = make_url(url) if kind == "redis" else None
    host, port = (parsed.host, parsed.port or 6379) if parsed else ("127.0.0.1", 5672)
    if kind == "rabbitmq":
        rest = url.split("@")[-1].split("/")[0]
        host, port = rest.split(":")[0], int(rest.split(":")[1]) if ":" in rest else 5672
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        (pytest.fail if REQUIRE_SERVERS else pytest.skip)(f"{kind} at {url} cannot be reached: {exc}")
    if kind == "redis":  # brokers use db 14 in tests, never the connectors' db
        return url.rsplit("/", 1)[0] + "/14"
    return url


@pytest.fixture(params=["redis", "rabbitmq"])
def queued_ctx(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> Iterator[Context]:
    url = broker_url(request.param)
    context = make_context(pg_url, tmp_path, broker_url=url, broker_queue=f"test_{uuid.uuid4().hex[:8]}")
    jobs.purge(context.config)
    jobs.install(context)
    yield context
    jobs.purge(context.config)
    jobs.queue_for(context.config).broker.close()
    context.db.dispose()


def start_worker(ctx: Context, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CONSENT_BROKER_URL": ctx.config.broker_url,
        "CONSENT_BROKER_QUEUE": ctx.config.broker_queue,
        "CONSENT_DATABASE_URL": ctx.config.database_url,
        "CONSENT_MASTER_KEYS": ctx.config.master_keys,
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_LOG_LEVEL": "WARNING",
    }
    command = [
        str(Path(sys.executable).parent / "consent-service"),
        "worker",
        "--threads",
        "2",
        "--interval",
        "1",
    ]
    with open(tmp_path / "worker.log", "ab") as log:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_worker_runs_a_queued_erasure(queued_ctx: Context, pg_empty_url: str, tmp_path: Path) -> None:
    fill_store(pg_empty_url, 50)
    save_store(queued_ctx, "shop", store_doc(pg_empty_url))
    worker = start_worker(queued_ctx, tmp_path)
    try:
        opened = open_request(queued_ctx, erasure(queued_ctx), actor="test")
        assert opened["state"] == "verified"
        assert wait_for_state(queued_ctx, opened["id"], ("completed", "failed")) == "completed"
    finally:
        stop(worker)
    state = end_state(pg_empty_url)
    assert state["items"] == 51 and state["anna_notes_left"] == 0 and state["ben_notes"] == ["note 51"]


def test_a_worker_killed_mid_erasure_is_resumed_without_double_effects(
    queued_ctx: Context, pg_empty_url: str, tmp_path: Path
) -> None:
    fill_store(pg_empty_url, ITEMS, slow=True)
    save_store(queued_ctx, "shop", store_doc(pg_empty_url))
    worker = start_worker(queued_ctx, tmp_path)
    try:
        request_id = open_request(queued_ctx, erasure(queued_ctx), actor="test")["id"]
        wait_for_state(queued_ctx, request_id, ("in_progress",))
        time.sleep(1.5)  # inside the erasure of the 5,000 items (about 5 s)
        assert show(queued_ctx, request_id)["state"] == "in_progress"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert show(queued_ctx, request_id)["state"] == "in_progress"
        worker = start_worker(queued_ctx, tmp_path)
        assert wait_for_state(queued_ctx, request_id, ("completed", "failed"), timeout=120) == "completed"
    finally:
        stop(worker)
    state = end_state(pg_empty_url)
    assert state["items"] == ITEMS + 1 and state["anna_notes_left"] == 0
    assert state["ben_notes"] == [f"note {ITEMS + 1}"]
    (anna_id, anna_email, anna_name), ben = state["customers"]
    assert anna_email.startswith("hmac:") and anna_email.count("hmac:") == 1 and anna_name is None
    assert tuple(ben) == (2, "ben@x.org", "Ben")
    reports = request_views.reports(queued_ctx, request_id)
    assert [r["store"] for r in reports] == ["shop"]
    counts = {c["collection"]: c for c in reports[0]["report"]["collections"]}
    assert counts["items"]["updated"] in (0, ITEMS) and counts["customers"]["updated"] == 1
    trail = show(queued_ctx, request_id)["audit_trail"]
    assert [e["details"].get("to") for e in trail if e["action"] == "transition"].count("completed") == 1
    assert sum(1 for e in trail if e["action"] == "store_completed") == 1


# retention runs on the queue and its schedule ---------------------------------------------------
def _old_events(url: str, rows: int) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE events (id integer PRIMARY KEY, email text, created_at timestamp)"))
        conn.execute(
            text(
                "INSERT INTO events SELECT n, 'u' || n || '@x.org', timestamp '2019-01-01' FROM generate_series(1, :n) n"
            ),
            {"n": rows},
        )
    engine.dispose()
    return {
        "type": "sql",
        "connection": {"url": url},
        "collections": {
            "events": {
                "primary_key": "id",
                "identities": {"email": "email"},
                "fields": {"email": {"category": "user.contact.email", "erase": "mask"}},
            }
        },
    }


def _events_rule(ctx: Context) -> None:
    from consent_service.retention import rules

    with ctx.uow() as uow:
        rules.put_rule(
            uow.session,
            "events-1y",
            {
                "applies_to": {"store": "events"},
                "period": "P1Y",
                "trigger": {"type": "since_field", "field": "created_at"},
                "action": "delete",
            },
            "test",
            ctx.now(),
        )
        uow.commit()


def _wait_for_run(ctx: Context, timeout: float = 60) -> list[dict[str, Any]]:
    from consent_service.retention.runs import list_runs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list_runs(ctx)
        if runs and runs[0]["state"] in ("completed", "failed"):
            return runs
        time.sleep(0.1)
    raise AssertionError(f"no retention run finished within {timeout} s: {list_runs(ctx)}")


def _remaining(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM events")).scalar() or 0)
    engine.dispose()
    return count


def test_the_worker_schedules_and_runs_retention_on_the_broker(
    queued_ctx: Context, pg_empty_url: str, tmp_path: Path
) -> None:
    save_store(queued_ctx, "events", _old_events(pg_empty_url, 300))
    _events_rule(queued_ctx)
    worker = start_worker(queued_ctx, tmp_path)
    try:
        runs = _wait_for_run(queued_ctx)
        time.sleep(3)  # a few more worker rounds: the interval (a day) has not passed, no new run
        from consent_service.retention.runs import list_runs

        assert len(list_runs(queued_ctx)) == 1
    finally:
        stop(worker)
    assert runs[0]["state"] == "completed" and runs[0]["started_by"] == "schedule"
    assert runs[0]["report"]["totals"]["deleted"] == 300
    assert _remaining(pg_empty_url) == 0


def test_the_embedded_schedule_runs_retention_in_process(ctx: Context, pg_empty_url: str) -> None:
    from consent_service.demo import seed

    seed(ctx)
    save_store(ctx, "events", _old_events(pg_empty_url, 40))
    _events_rule(ctx)
    stop_schedule = jobs.start_scheduler(ctx, every=0.2)
    try:
        runs = _wait_for_run(ctx)
    finally:
        stop_schedule.set()
    assert runs[0]["state"] == "completed" and runs[0]["started_by"] == "schedule"
    assert _remaining(pg_empty_url) == 0
    assert jobs.schedule_retention(ctx) is None  # the interval has not passed since that run
