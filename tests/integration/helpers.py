"""Helpers for the integration tests: recording consent, raw SQL on the ledger, the CLI, workers.

The worker functions at the bottom run in processes started with the ``spawn`` method, so they
live at module level and build their own Context from a plain config (same master keys as the
parent, so every process can open every subject's data key).
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, text

from consent_service.context import Context
from consent_service.ledger.models import LedgerEvent
from consent_service.ledger.service import DecisionInput, RecordConsent, Recorded, record_consent
from consent_service.subjects.service import IdentityRef

Decision = tuple[str, str, bool]  # (target_type, target_key, granted)


def consent(
    ctx: Context,
    *,
    identity: IdentityRef | None = None,
    subject_id: str | None = None,
    decisions: Sequence[Decision] = (("purpose", "analytics", True),),
    channel: str = "api",
    method: str = "api",
    proof: dict[str, Any] | None = None,
    collection_point: str | None = "integration-tests",
) -> Recorded:
    """Record one consent request through the real service function."""
    return record_consent(
        ctx,
        RecordConsent(
            decisions=[DecisionInput(t, k, g) for t, k, g in decisions],
            channel=channel,
            method=method,
            actor_type="client",
            actor_id="cli_integration",
            subject=identity,
            subject_id=subject_id,
            collection_point=collection_point,
            language="de",
            jurisdiction="DE",
            proof=proof or {},
        ),
    )


def email(name: str) -> IdentityRef:
    return IdentityRef("email", f"{name}@integration.example")


@contextmanager
def raw(ctx: Context) -> Iterator[Connection]:
    """A raw connection in a transaction that commits on success (no service code involved)."""
    with ctx.db.engine.begin() as conn:
        yield conn


def is_sqlite(ctx: Context) -> bool:
    return ctx.db.engine.dialect.name == "sqlite"


EVENT_COLUMNS = list(LedgerEvent.__table__.columns)


def stored_events(conn: Connection) -> list[dict[str, Any]]:
    """Every ledger row as the verifier reads it (typed columns, ascending seq)."""
    rows = conn.execute(select(*EVENT_COLUMNS).order_by(LedgerEvent.seq)).mappings().all()
    return [dict(r) for r in rows]


def events_of(ctx: Context) -> list[dict[str, Any]]:
    with ctx.db.engine.connect() as conn:
        return stored_events(conn)


def disable_ledger_guards(conn: Connection) -> None:
    """What an attacker with DDL rights does first: switch off the append-only triggers."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER ledger_events_no_update")
        conn.exec_driver_sql("DROP TRIGGER ledger_events_no_delete")
    else:
        conn.exec_driver_sql("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")


def set_head(conn: Connection, seq: int, hash_: str) -> None:
    conn.execute(
        text("UPDATE ledger_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seq, "hash": hash_}
    )


def cli(ctx: Context, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``consent-service`` command against ctx's database and keys."""
    env = {
        **os.environ,
        "CONSENT_DATABASE_URL": ctx.db.url,
        "CONSENT_MASTER_KEYS": ctx.config.master_keys,
        "CONSENT_DATA_DIR": str(cwd),
    }
    exe = Path(sys.executable).parent / "consent-service"
    return subprocess.run(
        [str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


# Workers for the concurrency tests (run in spawned processes) ------------------------------------


def _worker_context(url: str, master_keys: str, data_dir: str) -> Context:
    from consent_service.config import Config
    from consent_service.wiring import bootstrap

    ctx = bootstrap(Config(data_dir=Path(data_dir), database_url=url, master_keys=master_keys, testing=True))
    with ctx.uow(write=False) as uow:  # connect before the start line, not after it
        uow.session.execute(text("SELECT 1"))
    return ctx


def append_task(
    url: str, master_keys: str, data_dir: str, worker: int, count: int, *, start: Callable[[], None]
) -> dict[str, Any]:
    """Append ``count`` consent requests for this worker's own subject; report acknowledged events.
    An odd-numbered worker also brings the consent counts up to date after each request, in runs
    of a few seqs, so that catch-ups race each other and the writers; it reports how many seqs
    its catch-ups counted."""
    from consent_service.ledger.stats import catch_up

    ctx = _worker_context(url, master_keys, data_dir)
    start()
    acknowledged = []
    counted = 0
    for i in range(count):
        decisions: list[Decision] = [("purpose", "analytics", i % 2 == 0)]
        if i % 3 == 0:
            decisions.append(("purpose", "ads", i % 4 == 0))
        recorded = consent(ctx, identity=email(f"writer{worker}"), decisions=decisions)
        acknowledged += [(e["seq"], e["id"], e["hash"]) for e in recorded.events]
        if worker % 2 == 1:
            counted += catch_up(ctx, batch=3)
    ctx.db.dispose()
    return {"events": acknowledged, "counted": counted}


def same_identity_task(
    url: str, master_keys: str, data_dir: str, names: list[str], *, start: Callable[[], None]
) -> dict[str, Any]:
    """For each name: wait for every worker, then all record consent for that same new identity."""
    ctx = _worker_context(url, master_keys, data_dir)
    results = []
    for name in names:
        start()
        recorded = consent(ctx, identity=email(name), decisions=[("purpose", "newsletter", True)])
        results.append((name, recorded.subject_id, recorded.subject_created))
    ctx.db.dispose()
    return {"results": results}


TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "append": append_task,
    "same_identity": same_identity_task,
}


def _serve(worker: int, inbox: Any, outbox: Any) -> None:
    """A pool process: run tasks from ``inbox``; ``start()`` is a rendezvous with the others."""

    def start() -> None:
        outbox.put(("ready", worker, None))
        if inbox.get() != "go":
            raise RuntimeError("the pool was stopped during a rendezvous")

    while (task := inbox.get()) is not None:
        name, args = task
        try:
            result = TASKS[name](*args, start=start)
        except BaseException:  # noqa: BLE001 - the parent must see any failure, whatever it is
            result = {"error": traceback.format_exc()}
        outbox.put(("done", worker, result))


class WorkerPool:
    """``size`` spawned processes, started once and reused: spawning costs seconds on 2 cores.

    ``run(task, args_for, workers, rounds)`` gives worker ``i`` the task with ``args_for(i)``;
    each ``start()`` call inside the task is a rendezvous: no worker passes it before all
    ``workers`` have reached it, so the writes really happen at the same time.
    """

    def __init__(self, size: int) -> None:
        import multiprocessing as mp

        spawn = mp.get_context("spawn")
        self.outbox = spawn.Queue()
        self.inboxes = [spawn.Queue() for _ in range(size)]
        self.procs = [
            spawn.Process(target=_serve, args=(i, self.inboxes[i], self.outbox), daemon=True)
            for i in range(size)
        ]
        for p in self.procs:
            p.start()

    def _next(self, deadline: float) -> tuple[str, int, Any]:
        import queue as queue_mod
        import time

        while time.monotonic() < deadline:
            try:
                return self.outbox.get(timeout=1)  # type: ignore[no-any-return]
            except queue_mod.Empty:
                dead = [i for i, p in enumerate(self.procs) if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"pool workers {dead} died") from None
        raise TimeoutError("pool workers did not answer in time")

    def run(
        self,
        task: str,
        args_for: Callable[[int], tuple[Any, ...]],
        workers: int,
        rounds: int,
        timeout: float = 120,
    ) -> list[dict[str, Any]]:
        import time

        deadline = time.monotonic() + timeout
        for i in range(workers):
            self.inboxes[i].put((task, args_for(i)))
        results: dict[int, dict[str, Any]] = {}
        active = set(range(workers))
        for _ in range(rounds):
            waiting = set(active)
            while waiting:
                kind, worker, payload = self._next(deadline)
                waiting.discard(worker)
                if kind == "done":  # failed before this rendezvous
                    active.discard(worker)
                    results[worker] = payload
            for i in sorted(active):
                self.inboxes[i].put("go")
        while len(results) < workers:
            kind, worker, payload = self._next(deadline)
            if kind == "done":
                results[worker] = payload
            else:  # a task that calls start() more often than announced
                results[worker] = {"error": "unexpected rendezvous"}
                self.inboxes[worker].put("stop")
        return [{"worker": i, **results[i]} for i in range(workers)]

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for p in self.procs:
            p.join(timeout=10)
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


def session_store(prefix: str, **fields: dict[str, str]) -> dict[str, Any]:
    """The description of the Redis session hashes the ``sessions`` fixture writes, reached from
    the shop's customers: ``customer_id`` and ``cart`` declared, and the given ``fields``."""
    from tests.conftest import server_url

    return {
        "type": "redis",
        "connection": {"url": server_url("redis")},
        "collections": {
            "sessions": {
                "pattern": f"{prefix}:session:{{customer_id}}",
                "identities": {"customer_id": "customer_id"},
                "references": {"customer_id": "shop.customers.id"},
                "erase": "delete",
                "fields": {
                    "customer_id": {"category": "user.unique_id"},
                    "cart": {"category": "user.behavior.purchase_history", "origin": "observed"},
                    **fields,
                },
            }
        },
    }
