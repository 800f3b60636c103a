"""An acknowledged consent is committed: the service under gunicorn is killed (SIGKILL to the
master and its workers at once) the moment its 201 arrives, and the event it acknowledged is in
the database afterwards, read by a new engine, and the ledger verifies.

What this proves is "acknowledged = committed": the answer leaves only after the commit
returned. SIGKILL does not drop the kernel's page cache, so it cannot show that the commit
reached the disk; power-loss durability rests on the settings checked here too (SQLite's
``synchronous=FULL`` in WAL mode, PostgreSQL's ``synchronous_commit``), whose effect only a
power cut or a crashing block device would show.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from consent_service.db import Database
from tests.integration.live import Served, serve

CONSENT = {
    "subject": {"type": "email", "value": "kill-me@example.org"},
    "decisions": [{"purpose": "newsletter", "granted": True}],
    "channel": "web_form",
    "method": "custom",
}


def _group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in the process group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
            return True
    return False


def _post_then_kill(served: Served) -> dict[str, Any]:
    """POST a consent; on its 201 (body read) SIGKILL the server's whole process group."""
    request = urllib.request.Request(
        served.base + "/v1/consents", data=json.dumps(CONSENT).encode(), method="POST"
    )
    request.add_header("Authorization", f"Bearer {served.token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=20) as response:
        status, body = response.status, response.read()
    os.killpg(served.process.pid, signal.SIGKILL)
    assert status == 201, body
    served.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _group_alive(served.process.pid):  # the workers, now children of init
        assert time.monotonic() < deadline, "workers outlived SIGKILL"
        time.sleep(0.05)
    return json.loads(body)


def _assert_event_and_verify(url: str, served: Served, acknowledged: dict[str, Any]) -> None:
    (event,) = acknowledged["events"]
    engine = create_engine(url)  # a new engine: nothing of the killed processes' state
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT seq, hash, subject_id FROM ledger_events WHERE id = :id"), {"id": event["id"]}
            ).one_or_none()
            head = conn.execute(text("SELECT seq FROM ledger_head")).scalar_one()
    finally:
        engine.dispose()
    assert row is not None, f"acknowledged event {event['id']} is not in the database"
    assert (row.seq, row.hash, row.subject_id) == (event["seq"], event["hash"], acknowledged["subject_id"])
    assert head >= event["seq"]
    verified = subprocess.run(
        [sys.executable, "-m", "consent_service.cli", "ledger", "verify", "--json"],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


def _gunicorn() -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:{port}"]


@pytest.mark.live
def test_sqlite_consent_acknowledged_before_sigkill_is_in_the_database(tmp_path: Path) -> None:
    with serve(tmp_path, [*_gunicorn(), "consent_service.wsgi:app"], log_name="gunicorn.log") as served:
        acknowledged = _post_then_kill(served)
        _assert_event_and_verify(served.env["CONSENT_DATABASE_URL"], served, acknowledged)


@pytest.mark.live
def test_postgres_consent_acknowledged_before_sigkill_is_in_the_database(tmp_path: Path, pg_url: str) -> None:
    with serve(
        tmp_path, [*_gunicorn(), "consent_service.wsgi:app"], log_name="gunicorn.log", database_url=pg_url
    ) as served:
        acknowledged = _post_then_kill(served)
        _assert_event_and_verify(pg_url, served, acknowledged)


def test_sqlite_service_connections_sync_every_commit_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'consent.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        db.dispose()


def _with_database_setting(admin_url: str, url: str, value: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{make_url(url).database}" SET synchronous_commit = {value}'))
    finally:
        admin.dispose()


def _service_setting(url: str) -> str:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())
    finally:
        db.dispose()


def test_postgres_service_connections_commit_synchronously_whatever_the_database_default(
    pg_admin_url: str, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _with_database_setting(pg_admin_url, pg_url, "off")
    with caplog.at_level(logging.WARNING, logger="consent_service.db"):
        assert _service_setting(pg_url) == "on"
    assert "synchronous_commit=off" in caplog.text


def test_postgres_stronger_synchronous_commit_is_kept(pg_admin_url: str, pg_url: str) -> None:
    _with_database_setting(pg_admin_url, pg_url, "remote_apply")
    assert _service_setting(pg_url) == "remote_apply"
