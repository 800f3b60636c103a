"""Two processes adding to the same consent counts (all three tables) at once lose nothing, on real PostgreSQL and
MariaDB servers (the upsert of ``ledger.counts`` on its own, without the ledger head's lock that
the service also holds), and concurrent writers through the service leave counts equal to the
fold of the ledger."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from consent_service.ledger import counts
from consent_service.ledger.models import ConsentCount, ConsentDaily, ConsentPurposeDaily
from tests.conftest import server_url

ROUNDS = 150
DAY = dt.date(2026, 3, 1)
SHARED: counts.Cell = ("newsletter", DAY, "", "api", "api", "de", "granted")


def _writer(url: str, worker: int, barrier: Any) -> None:
    engine = create_engine(url)
    barrier.wait()
    for i in range(ROUNDS):
        own: counts.Cell = ("newsletter", DAY, "", "api", "api", f"w{worker}", "denied")
        fresh: counts.Cell = ("ads", DAY + dt.timedelta(days=i), "", "api", "api", "de", "granted")
        with Session(engine) as session, session.begin():  # both writers create and then add to it
            counts.upsert(session, {SHARED: [1, 1], own: [2, 0], fresh: [1, 1]})
    engine.dispose()


@pytest.fixture(params=["postgres", "mariadb"])
def counts_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the real server with only the consent counts' tables."""
    admin_url = server_url(request.param)
    name = f"counts_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    ConsentCount.__table__.create(engine)
    ConsentDaily.__table__.create(engine)
    ConsentPurposeDaily.__table__.create(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name}" + (" WITH (FORCE)" if request.param == "postgres" else "")))
    admin.dispose()


def test_two_processes_adding_to_the_same_cells_lose_no_count(counts_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    writers = [spawn.Process(target=_writer, args=(counts_url, w, barrier)) for w in range(2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=300)
    assert [p.exitcode for p in writers] == [0, 0]
    engine = create_engine(counts_url)
    with Session(engine) as session:
        table = counts.snapshot(session)
        rolled = counts.snapshot(session, daily_table=True)
        per_purpose = counts.snapshot(session, purpose_table=True)
    engine.dispose()
    assert per_purpose[("newsletter", DAY, "granted", "api")] == (2 * ROUNDS, 2 * ROUNDS)
    assert per_purpose[("newsletter", DAY, "denied", "api")] == (4 * ROUNDS, 0)
    assert rolled[("newsletter", DAY, "", "granted", "api")] == (2 * ROUNDS, 2 * ROUNDS)
    assert rolled[("newsletter", DAY, "", "denied", "api")] == (4 * ROUNDS, 0)  # both writers' cells
    assert table[SHARED] == (2 * ROUNDS, 2 * ROUNDS)
    for w in range(2):
        assert table[("newsletter", DAY, "", "api", "api", f"w{w}", "denied")] == (2 * ROUNDS, 0)
    for i in range(ROUNDS):
        assert table[("ads", DAY + dt.timedelta(days=i), "", "api", "api", "de", "granted")] == (2, 2)
    assert len(table) == 1 + 2 + ROUNDS
