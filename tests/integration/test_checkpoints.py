"""Automatic signed checkpoints, published outside the database, and verify against them.

An attacker with DDL rights can delete the database's own checkpoints together with the events;
a copy of the checkpoint file kept elsewhere still gives away a deleted tail, a history rewritten
with recomputed hashes, and a forged event appended with a past date. Also: no checkpoint of an
empty ledger, two schedulers never sign the same checkpoint, and witnesses (a real local HTTP
server, and one that is down) get every checkpoint without holding anything up.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from consent_service.context import Context
from consent_service.crypto.signing import verify_signed
from consent_service.demo import seed
from consent_service.errors import Conflict
from consent_service.ledger.audit import verify
from consent_service.ledger.chain import event_digest
from consent_service.ledger.checkpoints import (
    auto_checkpoint,
    checkpoint_payload,
    latest_checkpoint,
    read_file,
)
from consent_service.ledger.models import GENESIS_HASH, LedgerEvent
from consent_service.ledger.witness import status
from consent_service.ledger_thread import checkpoint_round, start_checkpointer
from consent_service.wiring import bootstrap
from tests.fakes import FixedClock
from tests.integration.helpers import cli, consent, disable_ledger_guards, email, raw, set_head, stored_events

PEOPLE = ("ann", "ben", "cid", "dan", "eve")


@pytest.fixture
def every3(any_ctx: Context, tmp_path: Path) -> Iterator[Context]:
    """A checkpoint every 3 events (time rule off), with the checkpoint file in tmp_path."""
    ctx = bootstrap(any_ctx.config.with_overrides(checkpoint_events=3, checkpoint_seconds=0))
    seed(ctx)
    yield ctx
    ctx.db.dispose()


def record(ctx: Context, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        consent(
            ctx, identity=email(PEOPLE[i % len(PEOPLE)]), decisions=[("purpose", "analytics", i % 2 == 0)]
        )


def file_lines(ctx: Context) -> list[dict[str, Any]]:
    path = ctx.config.effective_checkpoint_file
    return [doc for _, doc in read_file(path)] if path.exists() else []  # type: ignore[misc]


def external(ctx: Context, tmp_path: Path) -> list[tuple[int, dict[str, Any] | None]]:
    """The operator's copy of the checkpoint file, taken before the attack."""
    copy = tmp_path / "elsewhere.jsonl"
    shutil.copy(ctx.config.effective_checkpoint_file, copy)
    return list(read_file(copy))


def attacker_drops_the_stored_checkpoints(conn: Any) -> None:
    disable_ledger_guards(conn)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER ledger_checkpoints_no_delete")
    else:
        conn.exec_driver_sql("ALTER TABLE ledger_checkpoints DISABLE TRIGGER ledger_checkpoints_append_only")
    conn.execute(text("DELETE FROM ledger_checkpoints"))


# Automatic checkpoints ---------------------------------------------------------------------------


def test_a_checkpoint_is_made_every_n_events_and_appended_to_the_file(every3: Context) -> None:
    record(every3, 2)
    assert auto_checkpoint(every3) is None
    record(every3, 1, start=2)
    doc = auto_checkpoint(every3)
    assert doc is not None and doc["payload"]["seq"] == 3
    assert auto_checkpoint(every3) is None  # nothing new
    record(every3, 4, start=3)
    assert auto_checkpoint(every3)["payload"]["seq"] == 7  # type: ignore[index]
    lines = file_lines(every3)
    assert [d["payload"]["seq"] for d in lines] == [3, 7]
    assert all(verify_signed(d, every3.signer.public_key()) for d in lines)
    assert verify(every3, checkpoints=list(read_file(every3.config.effective_checkpoint_file))).ok


def test_a_checkpoint_is_made_after_t_seconds_when_the_head_moved(ctx: Context) -> None:
    clock = FixedClock()
    timed = bootstrap(ctx.config.with_overrides(checkpoint_events=1000, checkpoint_seconds=60), clock=clock)
    seed(timed)
    assert auto_checkpoint(timed) is None  # an empty ledger is never checkpointed
    record(timed, 1)
    assert auto_checkpoint(timed)["payload"]["seq"] == 1  # type: ignore[index]  # the first one at once
    record(timed, 1, start=1)
    clock.advance(seconds=59)
    assert auto_checkpoint(timed) is None
    clock.advance(seconds=1)
    assert auto_checkpoint(timed)["payload"]["seq"] == 2  # type: ignore[index]
    clock.advance(seconds=600)
    assert auto_checkpoint(timed) is None  # the head did not move
    timed.db.dispose()


def test_concurrent_schedulers_sign_one_checkpoint(every3: Context) -> None:
    record(every3, 3)
    start = threading.Barrier(4)
    results: list[Any] = []

    def run() -> None:
        start.wait()
        results.append(auto_checkpoint(every3))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1, results
    assert [d["payload"]["seq"] for d in file_lines(every3)] == [3]
    with raw(every3) as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_checkpoints")).scalar() == 1


def test_the_scheduler_thread_checkpoints_when_a_write_crosses_the_count(every3: Context) -> None:
    stop = start_checkpointer(every3, every=30.0)  # a long poll: only the write's nudge wakes it
    try:
        record(every3, 3)
        deadline = time.monotonic() + 10
        while not file_lines(every3) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [d["payload"]["seq"] for d in file_lines(every3)] == [3]
    finally:
        stop.set()


# The empty ledger --------------------------------------------------------------------------------


def test_a_checkpoint_of_the_empty_ledger_is_refused(ctx: Context, tmp_path: Path) -> None:
    seed(ctx)
    with pytest.raises(Conflict, match="empty"):
        latest_checkpoint(ctx)
    result = cli(ctx, "ledger", "checkpoint", cwd=tmp_path)
    assert result.returncode != 0 and "empty" in (result.stdout + result.stderr)
    with raw(ctx) as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_checkpoints")).scalar() == 0


def test_an_existing_checkpoint_of_the_empty_ledger_verifies(any_ctx: Context, tmp_path: Path) -> None:
    """Databases made before the refusal may hold one; checkpoints are append-only, so it stays."""
    seed(any_ctx)
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    doc = any_ctx.signer.sign(checkpoint_payload(0, GENESIS_HASH, created, any_ctx.signer.key_id))
    with raw(any_ctx) as conn:
        conn.execute(
            text("INSERT INTO ledger_checkpoints VALUES (0, :h, :c, :k, :s)"),
            {"h": GENESIS_HASH, "c": created, "k": any_ctx.signer.key_id, "s": doc["signature"]["value"]},
        )
    record(any_ctx, 3)
    copy = tmp_path / "cp.jsonl"
    copy.write_text(json.dumps(doc) + "\n")
    report = verify(any_ctx, checkpoints=list(read_file(copy)))
    assert report.ok, report.details
    assert report.checkpoints_checked == 2


# Tampering found only by the checkpoints kept elsewhere -------------------------------------------


def ten_with_checkpoints(ctx: Context) -> None:
    for round_ in range(3):
        record(ctx, 3, start=3 * round_)
        auto_checkpoint(ctx)
    record(ctx, 1, start=9)
    assert [d["payload"]["seq"] for d in file_lines(ctx)] == [3, 6, 9]


def test_a_deleted_tail_is_found(every3: Context, tmp_path: Path) -> None:
    ten_with_checkpoints(every3)
    copy = external(every3, tmp_path)
    with raw(every3) as conn:
        attacker_drops_the_stored_checkpoints(conn)
        events = stored_events(conn)
        conn.execute(text("DELETE FROM ledger_events WHERE seq > 7"))
        set_head(conn, 7, events[6]["hash"])
        conn.execute(text("DELETE FROM consent_state"))  # and make the projection agree
    with every3.uow() as uow:
        from consent_service.ledger.projection import rebuild

        rebuild(uow.session)
        uow.commit()
    assert verify(every3).ok, "control: without the file the shortened ledger is consistent"
    report = verify(every3, checkpoints=copy)
    assert not report.ok
    assert report.first_bad_seq == 9 and "truncated" in (report.problem or ""), report.details


def test_history_rewritten_with_a_recomputed_chain_is_found(every3: Context, tmp_path: Path) -> None:
    ten_with_checkpoints(every3)
    copy = external(every3, tmp_path)
    with raw(every3) as conn:
        attacker_drops_the_stored_checkpoints(conn)
        events = stored_events(conn)
        prev = events[3]["hash"]
        for event in events[4:]:
            if event["seq"] == 5:
                event["decision"] = "denied" if event["decision"] == "granted" else "granted"
            event["prev_hash"] = prev
            event["hash"] = prev = event_digest(event)
            conn.execute(
                text("UPDATE ledger_events SET decision = :d, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"d": event["decision"], "p": event["prev_hash"], "h": event["hash"], "s": event["seq"]},
            )
        set_head(conn, events[-1]["seq"], prev)
    report = verify(every3)
    assert report.ok or report.state_mismatches, "control: the chain itself is self-consistent"
    assert not [d for d in report.details if "consent_state" not in d]
    report = verify(every3, checkpoints=copy)
    assert not report.ok
    assert report.first_bad_seq == 6 and "no longer matches" in (report.problem or ""), report.details


def test_a_forged_event_appended_with_a_past_date_is_found(every3: Context, tmp_path: Path) -> None:
    ten_with_checkpoints(every3)
    copy = external(every3, tmp_path)
    with raw(every3) as conn:
        attacker_drops_the_stored_checkpoints(conn)
        events = stored_events(conn)
        last = events[-1]
        forged = {
            **last,
            "seq": 11,
            "id": str(uuid.uuid4()),
            "decision": "granted",
            "recorded_at": last["recorded_at"] - dt.timedelta(days=30),  # "consent given last month"
            "prev_hash": last["hash"],
        }
        forged["hash"] = event_digest(forged)
        conn.execute(insert(LedgerEvent.__table__).values(**forged))
        set_head(conn, 11, forged["hash"])
    report = verify(every3, checkpoints=copy)
    assert not report.ok
    assert report.first_bad_seq == 11 and "forged" in (report.problem or ""), report.details


def test_cli_verify_with_a_checkpoint_file(every3: Context, tmp_path: Path) -> None:
    ten_with_checkpoints(every3)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(every3.config.effective_checkpoint_file, copy)
    clean = cli(every3, "ledger", "verify", "--checkpoints", str(copy), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "6 checkpoints" in clean.stdout  # three stored, three in the file
    with raw(every3) as conn:
        attacker_drops_the_stored_checkpoints(conn)
        conn.execute(text("DELETE FROM ledger_events WHERE seq > 8"))
    result = cli(every3, "ledger", "verify", "--checkpoints", str(copy), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "truncated" in result.stdout


# Witnesses ----------------------------------------------------------------------------------------


class Witness(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def witness_url() -> Iterator[str]:
    Witness.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/checkpoints"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), Witness)
    port = probe.server_address[1]
    probe.server_close()
    return f"http://127.0.0.1:{port}/down"


def test_witnesses_get_every_checkpoint_and_one_that_is_down_stops_nothing(
    ctx: Context, witness_url: str
) -> None:
    down = closed_port_url()
    witnessed = bootstrap(
        ctx.config.with_overrides(checkpoint_events=2, checkpoint_seconds=0, witness_urls=(down, witness_url))
    )
    seed(witnessed)
    record(witnessed, 2)
    assert checkpoint_round(witnessed)["payload"]["seq"] == 2  # type: ignore[index]
    record(witnessed, 2, start=2)
    assert checkpoint_round(witnessed)["payload"]["seq"] == 4  # type: ignore[index]  # down witness or not
    assert [d["payload"]["seq"] for d in Witness.received] == [2, 4]
    assert all(verify_signed(d, witnessed.signer.public_key()) for d in Witness.received)
    assert Witness.received == file_lines(witnessed)
    by_url = {s["url"]: s for s in status(witnessed)}
    assert by_url[witness_url]["delivered_seq"] == 4 and by_url[witness_url]["last_error"] is None
    assert by_url[down]["delivered_seq"] == 0 and by_url[down]["attempts"] >= 1
    assert "Error" in by_url[down]["last_error"]
    witnessed.db.dispose()


def test_a_witness_on_a_refused_address_gets_nothing(ctx: Context, witness_url: str) -> None:
    """Witness URLs go through the outbound guard: loopback only when the operator allows it."""
    guarded = bootstrap(
        ctx.config.with_overrides(
            checkpoint_events=2, checkpoint_seconds=0, witness_urls=(witness_url,), outbound_allow_networks=""
        )
    )
    seed(guarded)
    record(guarded, 2)
    assert checkpoint_round(guarded)["payload"]["seq"] == 2  # type: ignore[index]
    assert Witness.received == []
    (row,) = status(guarded)
    assert row["delivered_seq"] == 0 and "RefusedURL" in row["last_error"]
    guarded.db.dispose()
