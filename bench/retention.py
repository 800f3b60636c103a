"""The retention sweeper over 10,000,000 events on PostgreSQL, against a hand-written batched DELETE.

One temporary *seed* database gets ``events(id bigint PRIMARY KEY, customer_id bigint, payload
text, created_at timestamp)`` with an index on ``created_at``, filled with ``INSERT … SELECT
generate_series``: every 10th id (10 %, spread over the whole id range) was created three to four
years ago, the others within the last 600 days; then ``VACUUM ANALYZE``. The seed is cloned with
``CREATE DATABASE … TEMPLATE`` (timed) once per contender, so every contender starts from the same
files:

- the baseline: ``DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at <= :cutoff
  LIMIT n)``, each in its own transaction, until a batch deletes nothing; two batch sizes, each in
  its own clone, the faster one is the baseline;
- the sweeper: the clone registered as a sql store (``save_store``) with a rule deleting events two
  years after ``created_at`` (``put_rule``) in a service database (a fresh SQLite file, migrated
  with ``consent_service.migrate.upgrade``); first a ``dry_run=True`` preview (timed on its own),
  then ``runs.run_now(store="shop")`` timed from start to end.

Afterwards every clone must hold the same rows (count, sum and range of the ids) and none at or
before the cutoff. All databases are dropped whatever happens.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import backends
from bench.rotation import _libpq

EXPIRED_EVERY = 10  # every 10th id is older than the cutoff
PERIOD = "P2Y"
RULE_KEY = "events-2y"
DEFAULT_BASELINE_BATCHES = (5000, 20000)


def events_store(url: str) -> dict[str, Any]:
    return {
        "type": "sql",
        "description": "bench event log",
        "connection": {"url": url},
        "collections": {
            "events": {
                "table": "events",
                "primary_key": "id",
                "identities": {"customer_id": "customer_id"},
                "erase": "delete",
                "fields": {
                    "customer_id": {"category": "user.unique_id", "erase": "keep"},
                    "payload": {"category": "user.behavior.browsing_history", "erase": "nullify"},
                },
            }
        },
    }


RULE = {
    "description": "Browsing events are deleted two years after they were recorded",
    "applies_to": {"store": "shop", "collection": "events"},
    "period": PERIOD,
    "trigger": {"type": "since_field", "field": "created_at"},
    "action": "delete",
}


def seed_events(url: str, rows: int) -> dict[str, float]:
    """Create and fill ``events``; primary key and index after the data, then VACUUM ANALYZE.
    Times are naive UTC (``timestamp without time zone``), as the sweeper compares them."""
    import psycopg

    times: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "CREATE TABLE events (id bigint NOT NULL, customer_id bigint NOT NULL, payload text, "
            "created_at timestamp NOT NULL)"
        )
        conn.execute(
            "INSERT INTO events "
            "SELECT i, 1 + (i * 7919) %% 1000000, "
            '\'{"page":"/products/\' || (i %% 5000) || \'","ref":"campaign-\' || (i %% 37) || '
            '\'","ua":"Mozilla/5.0 (X11; Linux x86_64)","ms":\' || (i %% 9973) || \'}\', '
            "CASE WHEN i %% %s = 0 "
            "THEN (now() AT TIME ZONE 'utc') - interval '3 years' - (i %% 365) * interval '1 day' "
            "ELSE (now() AT TIME ZONE 'utc') - (i %% 600) * interval '1 day' - (i %% 86400) * interval '1 second' "
            "END "
            "FROM generate_series(1::bigint, %s::bigint) AS i",
            (EXPIRED_EVERY, rows),
        )
        times["insert_s"] = time.perf_counter() - started
        t = time.perf_counter()
        conn.execute("ALTER TABLE events ADD PRIMARY KEY (id)")
        conn.execute("CREATE INDEX events_created_at ON events (created_at)")
        times["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("VACUUM ANALYZE events")
        times["vacuum_s"] = time.perf_counter() - t
        times["size_mb"] = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
        times["payload_bytes"] = float(
            conn.execute("SELECT avg(octet_length(payload)) FROM events").fetchone()[0]
        )
    times["seconds"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in times.items()}


def clone(admin_url: str, template: str, version: str, label: str) -> tuple[backends.Backend, float]:
    """A copy of ``template`` (which nobody may be connected to). The Backend that drops it is
    made before the CREATE, so an interruption during the copy still drops what was made."""
    url = make_url(admin_url)
    name = f"consent_bench_{label}_{secrets.token_hex(3)}"
    data_dir = Path(tempfile.mkdtemp(prefix=f"consent-bench-{label}-"))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    backend = backends.Backend("postgresql", data_dir, db_url, version=version, _drop=(admin_url, name))
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
        seconds = time.perf_counter() - started
    except BaseException:
        backend.cleanup()
        raise
    finally:
        engine.dispose()
    return backend, seconds


def flush(admin_url: str) -> float:
    """Write the clones' pages out before anything is timed, so that no contender's commits wait
    behind the copies' writes (``CHECKPOINT`` on the server, then ``sync``)."""
    import os

    started = time.perf_counter()
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()
    os.sync()
    return time.perf_counter() - started


def _spread(durations: list[float]) -> dict[str, Any]:
    ordered = sorted(durations)
    return {
        "median_transaction_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_transaction_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
        "longest_transaction_ms": round(ordered[-1] * 1000, 1),
        "longest_at": durations.index(ordered[-1]) + 1,
        "over_200ms": sum(d >= 0.2 for d in durations),
    }


def end_state(url: str, cutoff: dt.datetime) -> dict[str, Any]:
    import psycopg

    naive = cutoff.astimezone(dt.UTC).replace(tzinfo=None)
    with psycopg.connect(_libpq(url)) as conn:
        rows, id_sum, low, high = conn.execute(
            "SELECT count(*), sum(id), min(id), max(id) FROM events"
        ).fetchone()
        due = conn.execute("SELECT count(*) FROM events WHERE created_at <= %s", (naive,)).fetchone()[0]
    return {"rows": rows, "id_sum": int(id_sum or 0), "min_id": low, "max_id": high, "due_left": due}


def baseline(url: str, cutoff: dt.datetime, batch: int) -> dict[str, Any]:
    """The hand-written sweep: one DELETE of up to ``batch`` due rows per transaction, on one
    connection, until a DELETE finds nothing."""
    import psycopg

    naive = cutoff.astimezone(dt.UTC).replace(tzinfo=None)
    sql = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at <= %s LIMIT %s)"
    durations: list[float] = []
    deleted = 0
    started = time.perf_counter()
    with psycopg.connect(_libpq(url)) as conn:
        while True:
            t = time.perf_counter()
            n = conn.execute(sql, (naive, batch)).rowcount
            conn.commit()
            durations.append(time.perf_counter() - t)
            deleted += n
            if n == 0:
                break
    seconds = time.perf_counter() - started
    return {
        "batch_size": batch,
        "seconds": round(seconds, 2),
        "deleted": deleted,
        "rows_per_s": round(deleted / seconds, 1) if seconds else None,
        "transactions": len(durations),
        **_spread(durations),
        "last_transaction_ms": round(durations[-1] * 1000, 1),
    }


def _service(data_dir: Path) -> Any:
    from consent_service.config import Config
    from consent_service.crypto.keyring import KeyMaterial, LocalFileProvider
    from consent_service.migrate import upgrade
    from consent_service.wiring import bootstrap

    database = f"sqlite:///{data_dir / 'service.db'}"
    upgrade(database)
    key_file = data_dir / "keys.json"
    LocalFileProvider(key_file).save(KeyMaterial.generate())
    return bootstrap(Config(data_dir=data_dir, database_url=database, key_file=key_file))


def _forget_engine(url: str) -> None:
    """Close the sweeper's pooled connections to a store before its database is dropped."""
    try:
        from consent_service.stores.connectors import sql

        engine = sql._engines.pop(url, None)
        if engine is not None:
            engine.dispose()
    except Exception:  # noqa: BLE001 - the DROP ... WITH (FORCE) ends them anyway
        pass


def sweeper_run(url: str, data_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Register the store and the rule, time a dry-run preview, then time ``run_now``."""
    from consent_service.retention import field_sweep, rules, runs
    from consent_service.stores.registry import save_store

    ctx = _service(data_dir)
    out: dict[str, Any] = {"target_batch_seconds": field_sweep.TARGET_BATCH_SECONDS}
    try:
        save_store(ctx, "shop", events_store(url))
        with ctx.uow() as uow:
            rules.put_rule(uow.session, RULE_KEY, RULE, "bench", ctx.now())
            uow.commit()
        t = time.perf_counter()
        preview = runs.run_now(ctx, dry_run=True, store="shop", started_by="bench")
        out["dry_run_seconds"] = round(time.perf_counter() - t, 2)
        entry = preview["report"]["rules"][0]
        out["dry_run"] = {
            "state": preview["state"],
            "candidates": entry["candidates"],
            "status": entry["status"],
        }
        log(f"retention: dry run {out['dry_run_seconds']:.2f} s, {entry['candidates']:,} due")

        ticks: list[tuple[float, int]] = []
        last_log = [time.perf_counter()]

        def progress(step: str, e: dict[str, Any]) -> None:
            now = time.perf_counter()
            ticks.append((now, int(e.get("candidates", 0))))
            if now - last_log[0] >= 5:
                last_log[0] = now
                log(f"    | {step}: {e.get('deleted', 0):,} deleted, {e.get('batches', 0):,} batches")

        started = time.perf_counter()
        run = runs.run_now(ctx, dry_run=False, store="shop", started_by="bench", progress=progress)
        seconds = time.perf_counter() - started
        entry = run["report"]["rules"][0]
        out.update(
            state=run["state"],
            seconds=round(seconds, 2),
            cutoff=entry["cutoff"],
            candidates=entry["candidates"],
            deleted=entry["deleted"],
            batches=entry["batches"],
            errors=entry["errors"],
            status=entry["status"],
            longest_transaction_ms=entry["longest_transaction_ms"],
            rows_per_s=round(entry["deleted"] / seconds, 1) if seconds else None,
        )
        # from the progress calls (one per batch): rows per batch and the time between batches
        sizes, gaps = [], []
        previous = (started, 0)
        for now, candidates in ticks:
            if candidates > previous[1]:
                sizes.append(candidates - previous[1])
                gaps.append(now - previous[0])
            previous = (now, candidates)
        if sizes:
            out["batch_rows"] = {
                "first": sizes[:5],
                "median": int(statistics.median(sizes)),
                "max": max(sizes),
            }
            out["batch_interval"] = _spread(gaps)  # one batch's transaction plus its bookkeeping
        out["sweep_in_run_s"] = round(ticks[-1][0] - started, 2) if ticks else None
    finally:
        ctx.db.dispose()
        _forget_engine(url)
    return out


def measure(
    entry: dict[str, Any],
    admin_url: str,
    baseline_batches: list[int],
    deadline: float,
    log: Callable[[str], None],
    out: Path,
) -> None:
    """Fill ``entry`` as figures come; every database is dropped whatever happens."""
    rows = entry["rows"]
    seed: backends.Backend | None = None
    made: list[backends.Backend] = []
    try:
        seed = backends.postgres_backend(admin_url)
        entry["version"] = seed.version
        log(f"retention: seeding {rows:,} events ({rows // EXPIRED_EVERY:,} expired) with generate_series")
        entry["seed"] = seed_events(seed.database_url, rows)
        log(f"retention: seeded {entry['seed']}")
        template = make_url(seed.database_url).database
        assert template is not None
        entry["clones"] = []
        contenders = [f"base{b}" for b in baseline_batches] + ["sweeper"]
        clones: dict[str, backends.Backend] = {}
        for label in contenders:
            backend, seconds = clone(admin_url, template, seed.version, label)
            made.append(backend)
            clones[label] = backend
            entry["clones"].append({"for": label, "seconds": round(seconds, 2)})
            log(f"retention: CREATE DATABASE … TEMPLATE for {label}: {seconds:.1f} s")
        entry["flush_seconds"] = round(flush(admin_url), 1)
        log(f"retention: CHECKPOINT and sync after the clones: {entry['flush_seconds']:.1f} s")
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=730)  # as P2Y; no row lies near it
        entry["baseline_runs"] = []
        # order: first baseline, the sweeper, the other baselines (so drift hits both alike)
        order = [contenders[0], "sweeper", *contenders[1:-1]]
        for label in order:
            if time.monotonic() > deadline - 30:
                entry.setdefault("skipped", []).append(label)
                log(f"retention: no time left for {label}")
                continue
            url = clones[label].database_url
            if label == "sweeper":
                log("retention: runs.run_now(store='shop')")
                entry["sweeper"] = sweeper_run(url, clones[label].data_dir, log)
                s = entry["sweeper"]
                log(
                    f"retention: sweeper {s['deleted']:,} rows in {s['seconds']:.2f} s "
                    f"({s['rows_per_s']:,.0f} rows/s), {s['batches']:,} batches, longest transaction "
                    f"{s['longest_transaction_ms']:.1f} ms"
                )
                cutoff = dt.datetime.fromisoformat(s["cutoff"])
            else:
                batch = int(label.removeprefix("base"))
                log(f"retention: hand-written DELETE … LIMIT {batch}")
                result = baseline(url, cutoff, batch)
                entry["baseline_runs"].append(result)
                log(
                    f"retention: baseline {batch}: {result['deleted']:,} rows in {result['seconds']:.2f} s "
                    f"({result['rows_per_s']:,.0f} rows/s), {result['transactions']:,} transactions, "
                    f"longest {result['longest_transaction_ms']:.1f} ms"
                )
        states = {}
        for label in order:
            if label in (entry.get("skipped") or []):
                continue
            states[label] = end_state(clones[label].database_url, cutoff)
        entry["end_state"] = states
        expected_rows = rows - rows // EXPIRED_EVERY
        distinct = {(s["rows"], s["id_sum"], s["min_id"], s["max_id"]) for s in states.values()}
        entry["end_state_ok"] = len(distinct) == 1 and all(
            s["rows"] == expected_rows and s["due_left"] == 0 for s in states.values()
        )
        entry["expected_rows"] = expected_rows
        log(f"retention: end state {states} (same and as expected: {entry['end_state_ok']})")
        runs = entry["baseline_runs"]
        if runs and entry.get("sweeper"):
            best = max(runs, key=lambda r: r["rows_per_s"] or 0)
            entry["baseline"] = best
            entry["ratio"] = round(entry["sweeper"]["rows_per_s"] / best["rows_per_s"], 3)
            log(f"retention: sweeper ÷ baseline ({best['batch_size']}) = {entry['ratio']:.3f}")
    finally:
        for backend in [*made, seed]:
            if backend is not None:
                problems = backend.cleanup()
                if problems:
                    entry.setdefault("cleanup_problems", []).extend(problems)
        for backend in made:
            shutil.rmtree(backend.data_dir, ignore_errors=True)
