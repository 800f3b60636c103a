"""Shared fixtures: contexts on a migrated SQLite file or a fresh PostgreSQL database, the app.

Real-server tests read their URL from the environment (CONSENT_TEST_POSTGRES_URL, ...) and skip
with a visible reason when it is unset; with CONSENT_TEST_REQUIRE_SERVERS=1 (as in .ci/run) a
missing or unreachable server fails the test instead.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service.config import Config
from consent_service.context import Context
from consent_service.crypto.keyring import KeyMaterial
from consent_service.wiring import bootstrap
from tests.fakes import FixedClock

REQUIRE_SERVERS = os.environ.get("CONSENT_TEST_REQUIRE_SERVERS") == "1"
# Tests run their HTTP stores and webhook receivers on loopback: allowed here explicitly, never
# by default (the guard itself is tested with its own, empty allow-list).
TEST_OUTBOUND_ALLOW = "127.0.0.0/8,::1/128"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test has its own id, and the browser tests are one group for pytest-xdist.

    - schemathesis gives all the operations of ``schema.parametrize()`` the test function's id;
      pytest-xdist schedules by id, so under ``--dist loadgroup`` it would run one of them and
      count it once. They get their own name (``test_…[GET /v1/purposes]``) as id, and a
      collection with a repeated id is refused, so no test can silently go unrun.
    - ``make test`` runs ``--dist loadgroup``: one worker runs the browser tests one after
      another, each with its own Chromium, while the others run the rest.
    """
    from collections import Counter

    repeated = Counter(item.nodeid for item in items)
    for item in items:
        if repeated[item.nodeid] > 1 and not item.nodeid.endswith("::" + item.name):
            item._id = item.parent.id.child(item.name)  # type: ignore[union-attr]  # pytest's own way
    still = sorted(nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1)
    if still:
        raise pytest.UsageError(f"tests with the same id would not all run: {still[:5]}")
    browser = Path(__file__).parent / "browser"
    for item in items:
        if browser in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


def server_url(name: str) -> str:
    """The URL in CONSENT_TEST_<NAME>_URL, or skip (fail under CI) when it is unset."""
    var = f"CONSENT_TEST_{name.upper()}_URL"
    url = os.environ.get(var)
    if not url:
        message = f"{var} is not set; this test needs a real {name} server"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    return url


def make_context(
    url: str, data_dir: Path, clock: Callable[[], dt.datetime] | None = None, **overrides: Any
) -> Context:
    defaults = {
        "master_keys": KeyMaterial.generate().to_json(),
        "outbound_allow_networks": TEST_OUTBOUND_ALLOW,
    }
    config = Config(data_dir=data_dir, database_url=url, testing=True, **(defaults | overrides))
    if clock is None:
        return bootstrap(config)
    return bootstrap(config, clock=clock)


_sqlite_template: list[Path] = []  # this test process's migrated SQLite file, made once


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest migration. A new SQLite file is a copy of one
    that this test process migrated once (the migrations take about half a second, a copy a
    millisecond, and most tests begin with a new database); any other database is migrated."""
    import sqlite3

    from consent_service.files import secure_sqlite, sqlite_path
    from consent_service.migrate import upgrade

    path = sqlite_path(url)
    if path is None or path.exists():
        upgrade(url)
        return
    if not _sqlite_template:
        import atexit
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="consent-template-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Path(folder) / "migrated.db"
        upgrade(f"sqlite:///{template}")
        _sqlite_template.append(template)
    secure_sqlite(url)  # the directory 0700 and the file 0600, as the service makes them
    source, target = sqlite3.connect(_sqlite_template[0]), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    migrate(url)
    return url


@pytest.fixture
def ctx(sqlite_url: str, tmp_path: Path) -> Iterator[Context]:
    context = make_context(sqlite_url, tmp_path)
    yield context
    context.db.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def clocked_ctx(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    context = make_context(sqlite_url, tmp_path, clock=clock)
    yield context
    context.db.dispose()


# PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = server_url("postgres")
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the same here
        message = f"PostgreSQL at {url} cannot be reached: {exc}"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A migrated template database; each test clones it (fast) into its own database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"consent_tpl_{secrets.token_hex(4)}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"consent_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_empty_url(pg_admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database (no migrations applied), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"consent_e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_ctx(pg_url: str, tmp_path: Path) -> Iterator[Context]:
    context = make_context(pg_url, tmp_path)
    yield context
    context.db.dispose()


def param_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database for a fixture parametrized ``["sqlite", "postgres"]``: its URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'consent.db'}"
        migrate(url)
        return url
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgres"])
def any_ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Context]:
    """The same test on SQLite and on PostgreSQL."""
    context = make_context(param_database(request, tmp_path), tmp_path)
    yield context
    context.db.dispose()


# The app -------------------------------------------------------------------------------------


@pytest.fixture
def app(ctx: Context) -> Any:
    from consent_service import create_app

    return create_app(context=ctx)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def token(ctx: Context) -> Callable[..., str]:
    """``token("consent:write", ...)`` makes a client with those scopes and returns its token."""
    from consent_service.auth.service import register_client

    def make(*scopes: str) -> str:
        return register_client(ctx, "test client", list(scopes) or ["admin"])[1]

    return make


@pytest.fixture
def admin(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('admin')}"}


@pytest.fixture
def demo(ctx: Context) -> dict[str, Any]:
    from consent_service.demo import seed

    return seed(ctx)
