"""Two processes that get the same solved proofs of work at the same moment accept each exactly
once, on real PostgreSQL (migrated from empty) and MariaDB servers (the service's own database
is SQLite or PostgreSQL, the ledger needs them; on MariaDB the table is made, and dropped again,
by migration 0028 alone): ``portal_challenges``'s primary key decides
(``dsar.portal.spend_challenge``)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import multiprocessing
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import server_url

MIGRATION = Path(__file__).parents[2] / "migrations" / "versions" / "0028_portal_challenges.py"
SIGNATURES = [f"sig-{n}" for n in range(150)]


def _spender(url: str, barrier: Any, won: Any) -> None:
    from consent_service.dsar.portal import spend_challenge
    from tests.conftest import make_context

    with tempfile.TemporaryDirectory() as data_dir:
        ctx = make_context(url, Path(data_dir))
        until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        barrier.wait()
        won.put([s for s in SIGNATURES if spend_challenge(ctx, s, until=until)])
        ctx.db.dispose()


@pytest.fixture(params=["postgres", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the real server, migrated from empty."""
    if request.param == "postgres":
        yield request.getfixturevalue("pg_url")
        return
    admin_url = server_url("mariadb")
    name = f"challenges_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        _migration_0028(engine, "upgrade")
        yield url
        _migration_0028(engine, "downgrade")
        assert not inspect(engine).has_table("portal_challenges")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


def _migration_0028(engine: Any, step: str) -> None:
    """Run 0028's own upgrade or downgrade on this engine, as Alembic would."""
    spec = importlib.util.spec_from_file_location("m0028", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        getattr(module, step)()


def test_two_processes_accept_each_solution_once(db_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier, won = spawn.Barrier(2), spawn.Queue()
    spenders = [spawn.Process(target=_spender, args=(db_url, barrier, won)) for _ in range(2)]
    for process in spenders:
        process.start()
    results = [won.get(timeout=300) for _ in spenders]
    for process in spenders:
        process.join(timeout=60)
    assert [p.exitcode for p in spenders] == [0, 0]
    first, second = (set(r) for r in results)
    assert not first & second  # none accepted twice
    assert first | second == set(SIGNATURES)  # and none lost
