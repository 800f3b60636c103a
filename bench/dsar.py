"""Data subject requests against a 1,000,000-customer shop on PostgreSQL.

Two temporary PostgreSQL databases: the *shop* (``customers`` → ``orders`` → ``order_items``,
2 orders per customer and 2 items per order, seeded with ``INSERT … SELECT generate_series`` and
indexed afterwards) and the *service* database (migrated with ``consent_service.migrate.upgrade``,
a key file from ``KeyMaterial.generate()``), where the shop is registered as a sql store.

1. One subject at a time: open and DPO-verify a request for a seeded customer's e-mail and time
   ``run_request`` in-process (access, then erasure, on different customers); against it, on
   other customers of the same shop, time the hand-written SQL doing the same reads and writes.
2. Throughput: open and verify many erasure requests with ``CONSENT_BROKER_URL`` set (so they
   are queued on Redis), then start ``consent-service worker --processes 2`` and time until all
   are ``completed`` in the service database.

Workers are stopped and both databases dropped even on failure.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import backends
from bench.rotation import _cli_command, _libpq

DEFAULT_BROKER = "redis://127.0.0.1:6379/13"
HOLD = "Commercial and tax records are kept 10 years"

# customers 1..N: email customer-<i>@shop.example; subjects are taken from disjoint ranges
SERVICE_ACCESS, SQL_ACCESS, SERVICE_ERASE, SQL_ERASE, QUEUED = 0, 1, 2, 3, 4


def shop_store(url: str) -> dict[str, Any]:
    """The store description (docs/dsar-stores.md): customers and items are deleted; orders are
    kept for tax law with the address nulled and the link to the customer removed."""
    return {
        "type": "sql",
        "description": "bench shop",
        "connection": {"url": url},
        "collections": {
            "customers": {
                "primary_key": "id",
                "identities": {"email": "email"},
                "erase": "delete",
                "fields": {
                    "email": {"category": "user.contact.email", "erase": "delete"},
                    "name": {"category": "user.name", "erase": "delete"},
                },
            },
            "orders": {
                "primary_key": "id",
                "references": {"customer_id": "customers.id"},
                "erase": "update",
                "fields": {
                    "customer_id": {"category": "user.unique_id", "erase": "nullify"},
                    "shipping_address": {"category": "user.contact.address", "erase": "nullify"},
                },
            },
            "order_items": {
                "primary_key": "id",
                "references": {"order_id": "orders.id"},
                "erase": "delete",
                "fields": {
                    "order_id": {"category": "user.unique_id", "erase": "delete"},
                    "product": {"category": "user.behavior.purchase_history", "erase": "delete"},
                },
            },
        },
    }


def email(i: int) -> str:
    return f"customer-{i}@shop.example"


def seed_shop(url: str, customers: int) -> float:
    """Create and fill the shop; indexes after the data, then ANALYZE. Returns seconds."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            "CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL, name varchar(200))"
        )
        conn.execute(
            "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer, shipping_address varchar(200))"
        )
        conn.execute(
            "CREATE TABLE order_items (id integer PRIMARY KEY, order_id integer, product varchar(100))"
        )
        conn.execute(
            "INSERT INTO customers SELECT i, 'customer-' || i || '@shop.example', 'Customer ' || i "
            "FROM generate_series(1, %s) AS i",
            (customers,),
        )
        conn.execute(
            "INSERT INTO orders SELECT o, (o + 1) / 2, 'Street ' || o || ', 10115 Berlin' "
            "FROM generate_series(1, %s) AS o",
            (2 * customers,),
        )
        conn.execute(
            "INSERT INTO order_items SELECT t, (t + 1) / 2, 'product ' || (t %% 997) "
            "FROM generate_series(1, %s) AS t",
            (4 * customers,),
        )
        conn.execute("CREATE INDEX customers_email ON customers (email)")
        conn.execute("CREATE INDEX orders_customer ON orders (customer_id)")
        conn.execute("CREATE INDEX order_items_order ON order_items (order_id)")
        conn.execute("ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers (id)")
        conn.execute("ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders (id)")
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def sql_access(conn: Any, address: str) -> int:
    """The three SELECTs an application would write; returns rows read."""
    customers = conn.execute("SELECT id, email, name FROM customers WHERE email = %s", (address,)).fetchall()
    ids = [c[0] for c in customers]
    orders = conn.execute(
        "SELECT id, customer_id, shipping_address FROM orders WHERE customer_id = ANY(%s)", (ids,)
    ).fetchall()
    items = conn.execute(
        "SELECT id, order_id, product FROM order_items WHERE order_id = ANY(%s)", ([o[0] for o in orders],)
    ).fetchall()
    conn.commit()
    return len(customers) + len(orders) + len(items)


def sql_erase(conn: Any, address: str) -> int:
    """The same erasure as the store declares, in one transaction; returns rows changed."""
    ids = [r[0] for r in conn.execute("SELECT id FROM customers WHERE email = %s", (address,))]
    orders = [r[0] for r in conn.execute("SELECT id FROM orders WHERE customer_id = ANY(%s)", (ids,))]
    n = conn.execute("DELETE FROM order_items WHERE order_id = ANY(%s)", (orders,)).rowcount
    n += conn.execute(
        "UPDATE orders SET customer_id = NULL, shipping_address = NULL WHERE id = ANY(%s)", (orders,)
    ).rowcount
    n += conn.execute("DELETE FROM customers WHERE id = ANY(%s)", (ids,)).rowcount
    conn.commit()
    return n


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def single(ctx: Any, shop_url: str, customers: int, repeats: int, entry: dict[str, Any]) -> None:
    """Service vs hand-written SQL for one subject, ``repeats`` customers each, interleaved."""
    import psycopg

    from consent_service.dsar import execution
    from consent_service.dsar.requests import OpenRequest, open_request
    from consent_service.subjects.service import IdentityRef

    stride = customers // 5  # five disjoint ranges of customers, spread over the table
    times: dict[str, list[float]] = {
        "service_access": [],
        "sql_access": [],
        "service_erasure": [],
        "sql_erasure": [],
    }
    times |= {"sql_access_connect": [], "sql_erasure_connect": []}
    opened: list[float] = []
    with psycopg.connect(_libpq(shop_url)) as conn:
        for kind in ("access", "erasure"):
            for r in range(repeats + 1):  # the first of each is a warm-up, not counted
                base = SERVICE_ACCESS if kind == "access" else SERVICE_ERASE
                who = email(base * stride + 1000 + r)
                t0 = time.perf_counter()
                cmd = OpenRequest(kind, [IdentityRef("email", who)], {"method": "dpo", "note": "bench"})
                request_id = open_request(ctx, cmd, actor="dpo")["id"]
                t1 = time.perf_counter()
                result = execution.run_request(ctx, request_id, actor="dpo")
                t2 = time.perf_counter()
                if result["request"]["state"] != "completed":
                    raise RuntimeError(
                        f"{kind} request for {who} ended {result['request']['state']}: {result}"
                    )
                base = SQL_ACCESS if kind == "access" else SQL_ERASE
                other = email(base * stride + 1000 + r)
                t3 = time.perf_counter()
                rows = (sql_access if kind == "access" else sql_erase)(conn, other)
                t4 = time.perf_counter()
                if rows != (7 if kind == "access" else 7):
                    raise RuntimeError(f"hand-written {kind} touched {rows} rows, expected 7")
                fresh = email(base * stride + 500 + r)
                t5 = time.perf_counter()
                with psycopg.connect(_libpq(shop_url)) as own:  # as the service does: a new connection
                    (sql_access if kind == "access" else sql_erase)(own, fresh)
                t6 = time.perf_counter()
                if r:
                    times[f"sql_{kind}_connect"].append(t6 - t5)
                    opened.append(t1 - t0)
                    times[f"service_{kind}"].append(t2 - t1)
                    times[f"sql_{kind}"].append(t4 - t3)
    for kind in ("access", "erasure"):
        service, sql = _median_ms(times[f"service_{kind}"]), _median_ms(times[f"sql_{kind}"])
        entry[kind] = {
            "service_ms": service,
            "sql_ms": sql,
            "ratio": round(service / sql, 2) if sql else None,
            "sql_connect_ms": _median_ms(times[f"sql_{kind}_connect"]),
            "service_runs_ms": [round(x * 1000, 2) for x in times[f"service_{kind}"]],
            "sql_runs_ms": [round(x * 1000, 2) for x in times[f"sql_{kind}"]],
        }
    entry["open_verify_ms"] = _median_ms(opened)
    with psycopg.connect(_libpq(shop_url)) as conn:
        who = SERVICE_ERASE * stride + 1001
        left = conn.execute("SELECT count(*) FROM customers WHERE id = %s", (who,)).fetchone()[0]
        items = conn.execute(
            "SELECT count(*) FROM order_items WHERE order_id IN (%s, %s)", (2 * who - 1, 2 * who)
        ).fetchone()[0]
        kept = conn.execute(
            "SELECT count(*) FROM orders WHERE id IN (%s, %s) AND customer_id IS NULL "
            "AND shipping_address IS NULL",
            (2 * who - 1, 2 * who),
        ).fetchone()[0]
    entry["erasure_check"] = {"customer_rows": left, "item_rows": items, "orders_kept_cleared": kept}


def _count(service_url: str, ids: list[str]) -> dict[str, int]:
    import psycopg

    with psycopg.connect(_libpq(service_url)) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM dsar_requests WHERE id = ANY(%s) GROUP BY state", (ids,)
        ).fetchall()
    return {state: int(n) for state, n in rows}


def queued(
    config: Any,
    env: dict[str, str],
    count: int,
    customers: int,
    timeout: float,
    entry: dict[str, Any],
    log: Callable[[str], None],
    out: Path,
) -> None:
    """Open ``count`` erasure requests queued on the broker, then time 2 worker processes."""
    from consent_service import jobs
    from consent_service.dsar.requests import OpenRequest, open_request
    from consent_service.subjects.service import IdentityRef
    from consent_service.wiring import bootstrap

    jobs.purge(config)
    ctx = jobs.install(bootstrap(config))
    stride = customers // 5
    ids: list[str] = []
    started = time.perf_counter()
    try:
        for n in range(count):
            who = email(QUEUED * stride + 1000 + n)
            cmd = OpenRequest("erasure", [IdentityRef("email", who)], {"method": "dpo", "note": "bench"})
            ids.append(open_request(ctx, cmd, actor="dpo")["id"])
    finally:
        ctx.db.dispose()
    entry["open_seconds"] = round(time.perf_counter() - started, 2)
    entry["open_per_s"] = round(count / entry["open_seconds"], 1)
    log(f"dsar: opened and verified {count:,} erasure requests in {entry['open_seconds']:.1f} s (queued)")
    entry["states_before"] = _count(config.database_url, ids)
    command = [*_cli_command(), "worker", "--processes", "2", "--interval", "60"]
    entry["command"] = "consent-service worker --processes 2 (4 threads each, the default)"
    raw = out / "dsar-worker.txt"
    with raw.open("w") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=backends.REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            states: dict[str, int] = {}
            while True:
                time.sleep(0.25)
                states = _count(config.database_url, ids)
                done = states.get("completed", 0)
                if done and "first_completed_s" not in entry:
                    entry["first_completed_s"] = round(time.perf_counter() - started, 2)
                if done + states.get("failed", 0) >= count and not states.get("in_progress"):
                    break
                if process.poll() is not None:
                    raise RuntimeError(f"the worker exited with {process.returncode}; see {raw}")
                if time.perf_counter() - started > timeout:
                    entry["timed_out"] = True
                    break
            seconds = time.perf_counter() - started
        finally:
            _stop(process)
    entry["seconds"] = round(seconds, 2)
    entry["states"] = states
    entry["completed"] = states.get("completed", 0)
    entry["requests_per_s"] = round(entry["completed"] / seconds, 1)
    first = entry.get("first_completed_s")
    if first is not None and entry["completed"] > 1 and seconds > first:
        entry["steady_requests_per_s"] = round((entry["completed"] - 1) / (seconds - first), 1)
    log(
        f"dsar: {entry['completed']:,}/{count:,} completed in {seconds:.1f} s by 2 worker processes "
        f"({entry['requests_per_s']:.1f} requests/s); states {states}"
    )


def _stop(process: subprocess.Popen[Any]) -> None:
    """SIGINT the worker's process group (it forwards to its children), then SIGKILL if needed."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def measure(
    entry: dict[str, Any],
    admin_url: str,
    broker_url: str,
    deadline: float,
    log: Callable[[str], None],
    out: Path,
) -> None:
    """Fill ``entry`` as figures come; the databases are dropped whatever happens."""
    import dataclasses

    from consent_service.config import Config
    from consent_service.crypto.keyring import KeyMaterial, LocalFileProvider
    from consent_service.migrate import upgrade
    from consent_service.stores.registry import save_store
    from consent_service.wiring import bootstrap

    customers, repeats, count = entry["customers"], entry["repeats"], entry["queued_requests"]
    shop = service = None
    try:
        shop = backends.postgres_backend(admin_url)
        service = backends.postgres_backend(admin_url)
        entry["version"] = shop.version
        log(
            f"dsar: seeding the shop with {customers:,} customers, {2 * customers:,} orders, {4 * customers:,} items"
        )
        entry["seed_seconds"] = round(seed_shop(shop.database_url, customers), 1)
        log(f"dsar: shop seeded and indexed in {entry['seed_seconds']:.1f} s")
        upgrade(service.database_url)
        key_file = service.data_dir / "dsar-keys.json"
        LocalFileProvider(key_file).save(KeyMaterial.generate())
        config = Config(data_dir=service.data_dir, database_url=service.database_url, key_file=key_file)
        ctx = bootstrap(config)
        try:
            save_store(ctx, "shop", shop_store(shop.database_url))
            single_entry: dict[str, Any] = {"repeats": repeats}
            entry["single"] = single_entry
            single(ctx, shop.database_url, customers, repeats, single_entry)
        finally:
            ctx.db.dispose()
        for kind in ("access", "erasure"):
            f = single_entry[kind]
            log(
                f"dsar: {kind}: service {f['service_ms']:.1f} ms, hand-written SQL {f['sql_ms']:.1f} ms "
                f"(× {f['ratio']}), median of {repeats}"
            )
        log(f"dsar: erasure check {single_entry['erasure_check']}")
        queue = f"consent-bench-{os.getpid()}"
        qconfig = dataclasses.replace(config, broker_url=broker_url, broker_queue=queue)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
        env.update(
            CONSENT_DATA_DIR=str(service.data_dir),
            CONSENT_DATABASE_URL=service.database_url,
            CONSENT_KEY_FILE=str(key_file),
            CONSENT_BROKER_URL=broker_url,
            CONSENT_BROKER_QUEUE=queue,
            CONSENT_LOG_LEVEL="WARNING",
        )
        throughput: dict[str, Any] = {"requests": count, "broker": _redact(broker_url), "queue": queue}
        entry["throughput"] = throughput
        timeout = max(30.0, deadline - time.monotonic() - 30)
        try:
            queued(qconfig, env, count, customers, timeout, throughput, log, out)
        finally:
            from consent_service import jobs

            try:
                jobs.purge(qconfig)
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning up
                entry.setdefault("cleanup_problems", []).append(f"could not purge the queue: {exc}")
    finally:
        for backend in (shop, service):
            if backend is not None:
                problems = backend.cleanup()
                if problems:
                    entry.setdefault("cleanup_problems", []).extend(problems)


def _redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "@" in url else url
