"""``consent-service retention run`` as an operator runs it: SIGKILLed in the middle of a sweep of
a real PostgreSQL store, then run again to the same end state, with held records untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from consent_service.cli import main
from consent_service.config import Config
from consent_service.crypto.keyring import KeyMaterial
from consent_service.erasure import holds
from consent_service.ledger.service import DecisionInput, RecordConsent, record_consent
from consent_service.retention import rules
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef
from consent_service.wiring import bootstrap

ROWS = 60_000
HELD_EMAIL = "held@example.org"


def _store_doc(url: str) -> dict[str, Any]:
    return {
        "type": "sql",
        "connection": {"url": url},
        "collections": {
            "events": {
                "primary_key": "id",
                "identities": {"email": "email"},
                "erase": "delete",
                "fields": {"email": {"category": "user.contact.email", "erase": "mask"}},
            }
        },
    }


def _count(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM events")).scalar() or 0)
    engine.dispose()
    return n


def test_killed_mid_sweep_then_rerun(sqlite_url: str, pg_empty_url: str, tmp_path: Path) -> None:
    engine = create_engine(pg_empty_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE events (id bigint PRIMARY KEY, email text, created_at timestamp)"))
        # every row is old enough except ids divisible by 7; ids divisible by 1000 belong to a held person
        conn.execute(
            text(
                "INSERT INTO events SELECT n, CASE WHEN n % 1000 = 0 THEN :held ELSE 'u' || n || '@x.org' END, "
                "CASE WHEN n % 7 = 0 THEN now() ELSE timestamp '2019-01-01' END "
                "FROM generate_series(1, :rows) AS n"
            ),
            {"held": HELD_EMAIL, "rows": ROWS},
        )
    engine.dispose()
    keys = KeyMaterial.generate().to_json()
    env = {
        **os.environ,
        "CONSENT_DATABASE_URL": sqlite_url,
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_MASTER_KEYS": keys,
        "CONSENT_LOG_LEVEL": "WARNING",
    }
    ctx = bootstrap(Config(data_dir=tmp_path, database_url=sqlite_url, master_keys=keys, testing=True))
    from consent_service.demo import seed

    seed(ctx)
    save_store(ctx, "events", _store_doc(pg_empty_url))
    held = record_consent(
        ctx,
        RecordConsent(
            decisions=[DecisionInput("purpose", "newsletter", True)],
            channel="web_form",
            method="custom",
            actor_type="client",
            actor_id="test",
            subject=IdentityRef("email", HELD_EMAIL),
        ),
    ).subject_id
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
        holds.put_hold(
            uow.session,
            "dispute",
            {"scope": {"subject": held}, "reason": "dispute", "ends_at": None},
            "t",
            ctx.now(),
            crypto=ctx.crypto,
        )
        uow.commit()

    fresh = ROWS // 7
    held_old = sum(1 for n in range(1000, ROWS + 1, 1000) if n % 7)
    due = ROWS - fresh - held_old

    command = [
        str(Path(sys.executable).parent / "consent-service"),
        "retention",
        "run",
        "--batch-size",
        "200",
    ]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _count(pg_empty_url) > ROWS - 2_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    left = _count(pg_empty_url)
    assert ROWS - due < left < ROWS, "the kill should land mid-sweep"
    assert (ROWS - left) % 200 == 0, "whole batches only: nothing half deleted"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    assert "completed" in rerun.stdout
    assert _count(pg_empty_url) == fresh + held_old  # same end state as one uninterrupted run
    engine = create_engine(pg_empty_url)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM events WHERE email = :e"), {"e": HELD_EMAIL}).scalar()
        old = conn.execute(
            text("SELECT count(*) FROM events WHERE created_at < '2020-01-01' AND email <> :e"),
            {"e": HELD_EMAIL},
        ).scalar()
    engine.dispose()
    assert kept == ROWS // 1000 and old == 0

    runner = CliRunner()
    listed = runner.invoke(main, ["retention", "runs"], env=env)
    assert "interrupted" in listed.output and "completed" in listed.output, listed.output
    checked = runner.invoke(main, ["retention", "verify-log"], env=env)
    assert checked.exit_code == 0 and "retention: 2 entries, OK" in checked.output, checked.output
    dry = runner.invoke(main, ["retention", "run", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    # nothing is due any more but the held person's rows
    assert f"events-1y v1  events.events  done  candidates {held_old}  deleted 0" in dry.output
    assert f"held {held_old}" in dry.output
    assert f"held: dispute: {holds.SEALED_IN_REPORT}" in dry.output  # a subject hold's reason is sealed
    ctx.db.dispose()
