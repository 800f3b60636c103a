"""The database backends under test, each fresh for one run and removed afterwards (or kept
for reuse by a benchmark whose seeding takes long: ``kept_backend``).

SQLite is the embedded default (a temporary ``CONSENT_DATA_DIR``, no database URL). PostgreSQL
gets a temporary database created through an admin URL (trust auth) and dropped at the end.
Both are prepared with the real CLI (``keys init``, ``db upgrade``, ``demo``) and seeded through
``consent_service.ledger.service.record_consent`` so that the gate reads real ledger rows.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {None, "", "127.0.0.1", "localhost", "::1"}
SEED_PURPOSE = "newsletter"


class BackendUnavailable(RuntimeError):
    """The backend cannot be prepared here (e.g. PostgreSQL not reachable); the run goes on."""


@dataclass
class Backend:
    name: str  # "sqlite" | "postgresql"
    data_dir: Path
    database_url: str  # "" means the embedded default inside data_dir
    version: str = ""
    token: str = ""
    subject_ids: list[str] = field(default_factory=list)
    granted_ids: list[str] = field(default_factory=list)  # seeded with the newsletter granted
    seed_seconds: float = 0.0
    seed_note: str = ""
    notes: list[str] = field(default_factory=list)
    _drop: tuple[str, str] | None = None  # (admin url, database name)
    kept: bool = False  # a kept backend (``kept_backend``) outlives the run: cleanup leaves it

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
        env["CONSENT_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["CONSENT_DATABASE_URL"] = self.database_url
        return env

    def cleanup(self) -> list[str]:
        """Remove the data dir and drop the temporary database; returns problems, never raises."""
        problems: list[str] = []
        if self.kept:
            return problems
        if self._drop is not None:
            admin_url, name = self._drop
            try:
                engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
                try:
                    with engine.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                finally:
                    engine.dispose()
                self._drop = None
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning up
                problems.append(f"could not drop database {name}: {exc}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return problems


def _cli(backend: Backend, *args: str) -> str:
    exe = Path(sys.executable).with_name("consent-service")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "consent_service.cli"]
    done = subprocess.run(
        [*command, *args],
        cwd=REPO,
        env=backend.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise RuntimeError(f"consent-service {' '.join(args)} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def upgrade(backend: Backend) -> None:
    """Bring a kept backend's schema to this code's migrations."""
    _cli(backend, "db", "upgrade")


def prepare(backend: Backend) -> None:
    """keys init, db upgrade, demo; reads the admin token from ``<data dir>/demo-token``."""
    _cli(backend, "keys", "init")
    _cli(backend, "db", "upgrade")
    _cli(backend, "demo")
    backend.token = (backend.data_dir / "demo-token").read_text().strip()


def sqlite_backend() -> Backend:
    import sqlite3

    data_dir = Path(tempfile.mkdtemp(prefix="consent-bench-sqlite-"))
    return Backend("sqlite", data_dir, "", version=f"SQLite {sqlite3.sqlite_version}")


def postgres_backend(admin_url: str) -> Backend:
    url = make_url(admin_url)
    if url.host not in LOCAL_HOSTS:
        raise BackendUnavailable(
            f"refusing a non-local PostgreSQL host {url.host!r} (bench talks to 127.0.0.1 only)"
        )
    name = f"consent_bench_{os.getpid()}_{secrets.token_hex(3)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "not available"
        raise BackendUnavailable(f"PostgreSQL at {url.render_as_string(hide_password=True)}: {exc}") from exc
    finally:
        engine.dispose()
    data_dir = Path(tempfile.mkdtemp(prefix="consent-bench-pg-"))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    backend = Backend("postgresql", data_dir, db_url, version=f"PostgreSQL {version}")
    backend._drop = (admin_url, name)
    return backend


SEED_MARK = "seed.json"


def kept_backend(
    name: str, label: str, params: dict[str, Any], admin_url: str
) -> tuple[Backend, dict[str, Any] | None]:
    """A backend that outlives the run, for a benchmark whose seeding takes long: its data dir
    is var/bench/<label>-<name> (SQLite's file in it), PostgreSQL's database is named
    ``consent_bench_<label>``. Returns it and the seed record (``SEED_MARK`` in the data dir,
    written by ``mark_seeded``) when that names the same ``params`` (reuse it as it is); else
    the backend is recreated empty and the record is None."""
    data_dir = REPO / "var" / "bench" / f"{label}-{name}"
    mark = data_dir / SEED_MARK
    record = json.loads(mark.read_text()) if mark.exists() else None
    if record is not None and record.get("params") != params:
        record = None
    if name == "sqlite":
        import sqlite3

        backend = Backend("sqlite", data_dir, "", version=f"SQLite {sqlite3.sqlite_version}", kept=True)
    else:
        url = make_url(admin_url)
        if url.host not in LOCAL_HOSTS:
            raise BackendUnavailable(f"refusing a non-local PostgreSQL host {url.host!r}")
        database = f"consent_bench_{label}"
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar_one()
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}
                ).first()
                if record is None or exists is None:
                    record = None
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{database}"'))
        except Exception as exc:  # noqa: BLE001 - any connection problem means "not available"
            raise BackendUnavailable(
                f"PostgreSQL at {url.render_as_string(hide_password=True)}: {exc}"
            ) from exc
        finally:
            engine.dispose()
        db_url = url.set(database=database).render_as_string(hide_password=False)
        backend = Backend("postgresql", data_dir, db_url, version=f"PostgreSQL {version}", kept=True)
    if record is None:
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
    return backend, record


def mark_seeded(backend: Backend, params: dict[str, Any], record: dict[str, Any]) -> None:
    """Write the seed record once seeding has finished, so that a re-run reuses the backend."""
    (backend.data_dir / SEED_MARK).write_text(json.dumps({**record, "params": params}, default=str, indent=2))


def seed(backend: Backend, count: int, budget_seconds: float, processes: int = 1) -> None:
    """Record consent for ``count`` new subjects (3 in 4 grant the newsletter), within a time budget.

    Each subject gets one ``record_consent`` call (its own transaction, as through the API):
    newsletter granted or denied, analytics granted. Keeps the subject ids for the gate tests.
    With ``processes > 1`` the subjects are split over that many processes (useful on
    PostgreSQL, where a call mostly waits for round trips; SQLite has one writer anyway).
    """
    started = time.perf_counter()
    stop_at = time.time() + budget_seconds
    args = [
        (str(backend.data_dir), backend.database_url, n, count, processes, stop_at) for n in range(processes)
    ]
    if processes == 1:
        parts = [_seed_part(*args[0])]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        try:
            parts = list(pool.map(_seed_part, *zip(*args, strict=True)))
        except BaseException:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()  # our own seeding workers, so that cleanup need not wait
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    backend.subject_ids = [sid for part in parts for sid, _ in part]
    backend.granted_ids = [sid for part in parts for sid, granted in part if granted]
    backend.seed_seconds = time.perf_counter() - started
    if len(backend.subject_ids) < count:
        backend.seed_note = f"time budget reached: seeded {len(backend.subject_ids):,} of {count:,} subjects"
    if backend.name == "postgresql":
        analyze(backend)


def _seed_part(
    data_dir: str, url: str, part: int, count: int, parts: int, stop_at: float
) -> list[tuple[str, bool]]:
    """Subjects ``part, part + parts, ...`` below ``count`` as (subject id, newsletter granted);
    stops at wall time ``stop_at``."""
    from consent_service.config import Config
    from consent_service.ledger.service import DecisionInput, RecordConsent, record_consent
    from consent_service.subjects.service import IdentityRef
    from consent_service.wiring import bootstrap

    ctx = bootstrap(Config(data_dir=Path(data_dir), database_url=url))
    ids: list[tuple[str, bool]] = []
    try:
        for n, i in enumerate(range(part, count, parts)):
            if n % 100 == 0 and time.time() > stop_at:
                break
            granted = i % 4 != 3
            result = record_consent(
                ctx,
                RecordConsent(
                    decisions=[
                        DecisionInput("purpose", SEED_PURPOSE, granted),
                        DecisionInput("purpose", "analytics", True),
                    ],
                    channel="import",
                    method="api",
                    actor_type="client",
                    actor_id="bench-seed",
                    subject=IdentityRef("customer_id", f"bench-customer-{i}"),
                ),
            )
            ids.append((result.subject_id, granted))
    finally:
        ctx.db.dispose()
    return ids


def analyze(backend: Backend) -> None:
    """Give the planner statistics, as autovacuum would on a server that has been running."""
    engine = create_engine(backend.database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    backend.notes.append(
        f"ANALYZE was run after seeding, as autovacuum would on a live server (autovacuum is "
        f"{autovacuum} here); without statistics PostgreSQL planned the batch gate's joins as "
        "sequential scans of consent_state, several times slower"
    )
