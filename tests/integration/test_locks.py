"""``consent_service.locks``: a named lock is held by one thread of one process, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from consent_service import locks
from consent_service.db import Database
from tests.conftest import param_database

# Another process tries the lock and prints whether it got it.
PROBE = """
import sys
from consent_service import locks
from consent_service.db import Database
db = Database(sys.argv[1])
with locks.exclusive(db, sys.argv[2]) as got:
    print(got)
db.engine.dispose()
"""


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = Database(param_database(request, tmp_path))
    yield database
    database.engine.dispose()


def probe(db: Database, name: str) -> bool:
    url = db.engine.url.render_as_string(hide_password=False)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, url, name], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip() == "True"


def test_another_process_does_not_get_a_held_lock(db: Database) -> None:
    with locks.exclusive(db, "dsar-run|req_1") as mine:
        assert mine
        assert probe(db, "dsar-run|req_1") is False
        assert probe(db, "dsar-run|req_2") is True  # another name is free
    assert probe(db, "dsar-run|req_1") is True  # released with the block


def test_another_thread_does_not_get_a_held_lock(db: Database) -> None:
    seen: list[bool] = []

    def other() -> None:
        with locks.exclusive(db, "retention-run") as got:
            seen.append(got)

    with locks.exclusive(db, "retention-run") as mine:
        assert mine
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen == [False]
    with locks.exclusive(db, "retention-run") as again:
        assert again


def test_a_lock_that_was_refused_holds_nothing(db: Database) -> None:
    with locks.exclusive(db, "x") as first:
        with locks.exclusive(db, "x") as second:
            assert (first, second) == (True, False)
        assert probe(db, "x") is False  # the refused inner block did not release the outer hold
