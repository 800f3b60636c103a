"""Tampering directly in the database is found by ``verify``, at the right sequence number.

Each case records ten events, switches off the append-only triggers (as an attacker with DDL
rights would), changes the stored ledger and checks the report's ``first_bad_seq`` and problem.
The last case rewrites a whole tail with correctly recomputed hashes and a moved head: the chain
is then self-consistent and only the earlier signed checkpoint gives it away.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, insert, text, update

from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger.audit import latest_checkpoint, verify
from consent_service.ledger.chain import event_digest
from consent_service.ledger.models import LedgerEvent
from tests.integration.helpers import (
    consent,
    disable_ledger_guards,
    email,
    events_of,
    raw,
    set_head,
    stored_events,
)

EVENTS = 10
CHECKPOINT_AT = 6

# Ten single-decision requests over three subjects, so withdrawals and cookies are in the chain.
REQUESTS: list[tuple[str, tuple[str, str, bool]]] = [
    ("ann", ("purpose", "analytics", True)),
    ("ann", ("cookie", "_ga", True)),
    ("ben", ("purpose", "newsletter", True)),
    ("ann", ("purpose", "analytics", False)),
    ("cid", ("purpose", "ads", False)),
    ("ben", ("purpose", "newsletter", False)),
    ("cid", ("cookie", "_fbp", True)),
    ("ann", ("purpose", "ads", True)),
    ("ben", ("purpose", "analytics", True)),
    ("cid", ("purpose", "newsletter", True)),
]


def record_ten(ctx: Context, checkpoint_at: int | None = None) -> None:
    seed(ctx)
    for n, (who, decision) in enumerate(REQUESTS, start=1):
        consent(ctx, identity=email(who), decisions=[decision])
        if n == checkpoint_at:
            latest_checkpoint(ctx)
    report = verify(ctx)
    assert report.ok and report.events_checked == EVENTS, report.as_dict()


def by_seq(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {e["seq"]: e for e in events}


def set_fields(conn: Connection, at: int, **values: Any) -> None:
    conn.execute(update(LedgerEvent.__table__).where(LedgerEvent.seq == at).values(**values))


# Tampering cases: each changes the ledger and returns (first_bad_seq, words in the problem) --------


def modify_a_field(conn: Connection) -> tuple[int, str]:
    set_fields(conn, 4, decision="granted")  # a withdrawal turned back into a grant
    return 4, "modified"


def delete_a_middle_event(conn: Connection) -> tuple[int, str]:
    conn.execute(text("DELETE FROM ledger_events WHERE seq = 5"))
    return 5, "missing"


def delete_the_last_event(conn: Connection) -> tuple[int, str]:
    conn.execute(text("DELETE FROM ledger_events WHERE seq = :seq"), {"seq": EVENTS})
    return EVENTS, "head"


def swap_two_events(conn: Connection) -> tuple[int, str]:
    set_fields(conn, 4, seq=-4)
    set_fields(conn, 5, seq=4)
    set_fields(conn, -4, seq=5)
    return 4, "link"


def insert_a_forged_event(conn: Connection) -> tuple[int, str]:
    """Shift seqs 6.. up by one and put a self-consistent forged grant at seq 6."""
    events = by_seq(stored_events(conn))
    at = 6
    conn.execute(text("UPDATE ledger_events SET seq = -seq - 1 WHERE seq >= :at"), {"at": at})
    conn.execute(text("UPDATE ledger_events SET seq = -seq WHERE seq < 0"))
    forged = {
        **events[at - 1],
        "seq": at,
        "id": str(uuid.uuid4()),
        "target_key": "ads",
        "decision": "granted",
        "prev_hash": events[at - 1]["hash"],
    }
    forged["hash"] = event_digest(forged)
    conn.execute(insert(LedgerEvent.__table__).values(**forged))
    last = stored_events(conn)[-1]
    set_head(conn, last["seq"], last["hash"])  # the head is unprotected; make it agree
    return at + 1, "link"  # the forged event itself verifies; its successor's link does not


def rewrite_the_tail_with_new_hashes(conn: Connection) -> tuple[int, str]:
    """Change seq 4 and recompute every later hash and the head: only the checkpoint can tell."""
    events = stored_events(conn)
    prev = events[2]["hash"]
    for event in events[3:]:
        if event["seq"] == 4:
            event["decision"] = "granted"
        event["prev_hash"] = prev
        event["hash"] = prev = event_digest(event)
        set_fields(
            conn, event["seq"], decision=event["decision"], prev_hash=event["prev_hash"], hash=event["hash"]
        )
    set_head(conn, events[-1]["seq"], prev)
    return CHECKPOINT_AT, "checkpoint"


CASES: dict[str, Callable[[Connection], tuple[int, str]]] = {
    "modified field": modify_a_field,
    "deleted middle event": delete_a_middle_event,
    "deleted last event": delete_the_last_event,
    "reordered events": swap_two_events,
    "inserted forged event": insert_a_forged_event,
    "rewritten tail": rewrite_the_tail_with_new_hashes,
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_found_at_the_right_seq(any_ctx: Context, case: str) -> None:
    record_ten(any_ctx, checkpoint_at=CHECKPOINT_AT if case == "rewritten tail" else None)
    with raw(any_ctx) as conn:
        disable_ledger_guards(conn)
        first_bad, words = CASES[case](conn)
    report = verify(any_ctx)
    assert not report.ok, f"{case} went unnoticed"
    assert report.first_bad_seq == first_bad, report.details
    assert words in (report.problem or ""), report.details


def test_rewritten_tail_is_a_consistent_chain_without_its_checkpoint(any_ctx: Context) -> None:
    """Control for the last case: the rewrite really is self-consistent, the checkpoint is all."""
    record_ten(any_ctx, checkpoint_at=CHECKPOINT_AT)
    with raw(any_ctx) as conn:
        disable_ledger_guards(conn)
        rewrite_the_tail_with_new_hashes(conn)
    report = verify(any_ctx)
    assert report.details == [f"seq {CHECKPOINT_AT}: " + (report.problem or "")]
    assert report.events_checked == EVENTS
    assert by_seq(events_of(any_ctx))[4]["decision"] == "granted"


def test_cli_verify_exit_codes(ctx: Context, tmp_path: Path) -> None:
    from tests.integration.helpers import cli

    record_ten(ctx)
    clean = cli(ctx, "ledger", "verify", cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"ledger OK: {EVENTS} events" in clean.stdout

    with raw(ctx) as conn:
        disable_ledger_guards(conn)
        modify_a_field(conn)
    tampered = cli(ctx, "ledger", "verify", "--json", cwd=tmp_path)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    report = json.loads(tampered.stdout)
    assert report["ok"] is False
    assert report["first_bad_seq"] == 4
