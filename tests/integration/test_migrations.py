"""Migrations from empty: ``alembic upgrade head`` builds exactly the models' schema, on both backends.

Autogenerate must find no drift between ``consent_service.models.metadata`` and the migrated
database (types included), downgrade to base must leave nothing behind, and upgrading again
must work. A control test proves the comparison really sees added columns and changed types.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, inspect, text

from consent_service.db import make_engine
from consent_service.migrate import alembic_config, current, upgrade
from consent_service.models import metadata

APPEND_ONLY = ("ledger_events", "ledger_checkpoints", "audit_entries")


def drift(url: str, target: MetaData = metadata) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(mc, target))
    finally:
        engine.dispose()


def schema_state(url: str) -> dict[str, Any]:
    """Tables, append-only triggers and the ledger head row, read from the catalog."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if conn.dialect.name == "sqlite":
                triggers = set(
                    conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars()
                )
                functions: set[str] = set()
            else:
                triggers = set(
                    conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
                )
                functions = set(
                    conn.execute(
                        text("SELECT proname FROM pg_proc WHERE proname = 'consent_append_only'")
                    ).scalars()
                )
            head = (
                conn.execute(text("SELECT id, seq, hash FROM ledger_head")).all()
                if "ledger_head" in tables
                else None
            )
        return {"tables": tables, "triggers": triggers, "functions": functions, "head": head}
    finally:
        engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from consent_service.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def expected_triggers(dialect: str) -> set[str]:
    if dialect == "sqlite":
        return {f"{t}_no_{a}" for t in APPEND_ONLY for a in ("update", "delete", "replace")}
    return {f"{t}_{s}" for t in APPEND_ONLY for s in ("append_only", "no_truncate")}


def check_round_trip(url: str, dialect: str) -> None:
    assert current(url) is None, "the database must start empty"
    upgrade(url)  # what `alembic upgrade head` / `consent-service db upgrade` run
    assert current(url) == head_revision()
    state = schema_state(url)
    assert set(metadata.tables) <= state["tables"]
    assert state["triggers"] == expected_triggers(dialect)
    assert state["head"] == [(1, 0, "0" * 64)]
    assert drift(url) == []

    command.downgrade(alembic_config(url), "base")
    state = schema_state(url)
    assert state["tables"] == {"alembic_version"}, "downgrade to base leaves only Alembic's table"
    assert state["triggers"] == set()
    assert state["functions"] == set()
    assert current(url) is None

    upgrade(url)
    assert current(url) == head_revision()
    state = schema_state(url)
    assert state["triggers"] == expected_triggers(dialect)
    assert state["head"] == [(1, 0, "0" * 64)]
    assert drift(url) == []


def test_sqlite_upgrade_from_empty_has_no_drift_and_round_trips(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'migrate.db'}", "sqlite")


@pytest.mark.postgres
def test_postgres_upgrade_from_empty_has_no_drift_and_round_trips(pg_empty_url: str) -> None:
    check_round_trip(pg_empty_url, "postgresql")


def test_the_drift_check_sees_added_columns_and_changed_types(tmp_path: Path) -> None:
    """Control: an empty diff above means something only because a real difference shows."""
    url = f"sqlite:///{tmp_path / 'control.db'}"
    upgrade(url)
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["subjects"].append_column(Column("nickname", String(20), nullable=True))
    changed.tables["ledger_checkpoints"].c.key_id.type = Integer()
    ops = drift(url, changed)
    kinds = {op[0] if isinstance(op, tuple) else op[0][0] for op in ops}
    assert "add_column" in kinds
    assert "modify_type" in kinds


def test_alembic_command_line_upgrade_head_from_empty(tmp_path: Path) -> None:
    """The plain `alembic upgrade head` of the repository's alembic.ini, URL from the environment."""
    root = Path(__file__).resolve().parents[2]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "CONSENT_DATABASE_URL": url, "CONSENT_DATA_DIR": str(tmp_path)}
    alembic = Path(sys.executable).parent / "alembic"
    result = subprocess.run(
        [str(alembic), "-c", str(root / "alembic.ini"), "upgrade", "head"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert current(url) == head_revision()
    assert drift(url) == []


_ROWS = {
    "subjects": "INSERT INTO subjects (id, root_id, created_at) VALUES ('sub_1', 'sub_1', :t)",
    "purposes": (
        "INSERT INTO purposes (key, current_version, current_hash, legal_basis, consent_validity, "
        "direct_marketing, honor_gpc, created_at, updated_at) VALUES "
        "(:key, 1, 'h', 'consent', 'P1Y', false, false, :t, :t)"
    ),
    "cookies": (
        "INSERT INTO cookies (name, domain, provider, duration, purpose_key, created_at, updated_at) "
        "VALUES ('_ga', 'shop.example', 'GA', 'P13M', 'analytics', :t, :t)"
    ),
    "ledger_events": (
        "INSERT INTO ledger_events (seq, id, kind, subject_id, target_type, target_key, decision, "
        "recorded_at, actor_type, actor_id, prev_hash, hash) VALUES "
        "(:seq, :id, 'consent', 'sub_1', :type, :target, 'denied', :t, 'client', 'c', 'p', 'h')"
    ),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0013_finds_when_consent_was_first_collected_per_purpose(
    backend: str, tmp_path: Path, request
) -> None:
    """Purposes with consent events (on themselves or a cookie of theirs) get the first event's time."""
    from sqlalchemy import bindparam

    from consent_service.db import UTCDateTime

    url = (
        f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("pg_empty_url")
    )
    command.upgrade(alembic_config(url), "0010")
    first, later = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def run(conn: Any, sql: str, **params: Any) -> None:
        conn.execute(text(sql).bindparams(bindparam("t", type_=UTCDateTime())), params)

    engine = make_engine(url)
    with engine.begin() as conn:
        run(conn, _ROWS["subjects"], t=first)
        for key in ("newsletter", "analytics", "unused"):
            run(conn, _ROWS["purposes"], key=key, t=first)
        run(conn, _ROWS["cookies"], t=first)
        events = [
            (1, "purpose", "newsletter", later),
            (2, "purpose", "newsletter", first),
            (3, "cookie", "_ga", later),
        ]
        for seq, kind, target, at in events:
            run(conn, _ROWS["ledger_events"], seq=seq, id=f"e{seq}", type=kind, target=target, t=at)
    upgrade(url)
    with engine.connect() as conn:
        found = dict(
            conn.execute(
                text("SELECT key, consent_collected_at FROM purposes").columns(
                    consent_collected_at=UTCDateTime()
                )
            ).all()
        )
    engine.dispose()
    assert found == {"newsletter": first, "analytics": later, "unused": None}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0026_counts_the_events_already_in_the_ledger(backend: str, tmp_path: Path, request) -> None:
    """The backfills in SQL (0026, then 0029's per purpose) give the counts the service writes live
    (imported ones on their source day), on UTC days, which 0029 records."""
    from consent_service.demo import seed
    from consent_service.ledger import counts
    from consent_service.ledger.stats import catch_up
    from tests.conftest import make_context
    from tests.fakes import FixedClock
    from tests.integration.consent_writes import write

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'counts.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("pg_url")
    clock = FixedClock()
    ctx = make_context(url, tmp_path, clock=clock)
    site_key = seed(ctx)["site"]["site_key"]
    for op in [
        ("consent", 1, [("newsletter", True), ("ads", False)], "api", "de"),
        ("consent", 1, [("newsletter", False)], "api", "de"),
        ("banner", 2, "accept_all", True, "en"),
        ("import", 3, "ads", "granted", 3, "k1"),
        ("import", 1, "newsletter", "denied", 0, "k2"),
        ("erase", 1),
    ]:
        write(ctx, site_key, op)
        clock.advance(hours=5)
    catch_up(ctx)
    with ctx.uow(write=False) as uow:
        live = counts.snapshot(uow.session)
        live_daily = counts.snapshot(uow.session, daily_table=True)
        live_purposes = counts.snapshot(uow.session, purpose_table=True)
    ctx.db.dispose()
    assert len(live) >= 6 and any(first == 0 for _, first in live.values())
    command.downgrade(alembic_config(url), "0025")
    upgrade(url)
    engine = make_engine(url)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        assert counts.snapshot(session) == live
        assert counts.snapshot(session, daily_table=True) == live_daily
        assert counts.snapshot(session, purpose_table=True) == live_purposes  # 0029's backfill
        assert counts.counts_zone(session) == "UTC"  # the days 0026 counted on
        assert counts.state(session)[0] == counts.head_seq(session)  # 0030: all of them counted
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0030_starts_the_counts_at_the_head_in_their_zone_and_goes_back(
    backend: str, tmp_path: Path, request
) -> None:
    """Before 0030 the counts were written with every append: they hold every event up to the
    head, so the state starts there, in the zone 0029 recorded; a downgrade keeps the zone."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from consent_service.demo import seed
    from consent_service.ledger import counts
    from tests.conftest import make_context
    from tests.integration.consent_writes import write

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("pg_url")
    ctx = make_context(url, tmp_path)
    site_key = seed(ctx)["site"]["site_key"]
    write(ctx, site_key, ("banner", 1, "accept_all", False, "de"))
    ctx.db.dispose()
    command.downgrade(alembic_config(url), "0029")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE consent_counts_zone SET time_zone = 'Europe/Vienna'"))
        head = conn.execute(text("SELECT seq FROM ledger_head")).scalar_one()
    engine.dispose()
    assert head > 0
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        assert counts.state(session) == (head, "Europe/Vienna")
    engine.dispose()
    command.downgrade(alembic_config(url), "0029")
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, time_zone FROM consent_counts_zone")).all() == [
            (1, "Europe/Vienna")
        ]
    engine.dispose()
