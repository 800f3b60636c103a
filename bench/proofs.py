"""Transparency log: proofs from a large tree, and how fast a whole ledger verifies.

``python -m bench.proofs [--leaves N] [--backend sqlite|postgresql|both] [--events E] [--no-docs]
[--from-results DIR]``, on each backend asked for:

1. A fresh database (``keys init``, ``db upgrade`` through the CLI) whose Merkle tree has N
   leaves, built directly as tiles: N leaf hashes (SHA-256 of the counters 0 to N-1) cut into
   level-0 tiles of ``tree.WIDTH``, each full tile's root (``merkle.root`` of its hashes) a node
   of the level above, as ``tree._append`` does (``build_tiles``; a test holds it equal to the
   tiles ``tree.extend`` stores for real events), bulk-inserted (``executemany`` on SQLite,
   ``COPY`` on PostgreSQL); then ``ledger_tree_state.size`` = N and a checkpoint of N signed by
   ``tree._sign``. The ledger itself has no events: the proofs read only tiles.
2. In-process, interleaved call by call after a warm-up: ``tree.inclusion(ctx, seq)`` for
   random seqs, ``tree.consistency(ctx, a, b)`` for random pairs, and the baselines, the
   cheapest reads through the same machinery (``SELECT 1`` in a read-only unit of work, and
   ``ctx.db.fetch_one(SELECT 1)``, what the health check reads): p50/p99/max and the ratios.
   Every proof is then checked with ``consent_verify.merkle`` against the signed root, and each
   leaf hash against the counter it was made from.
3. Over HTTP (gunicorn, 2 sync workers; wrk or the Python load generator):
   ``GET /v1/ledger/proofs/inclusion?seq=<random>`` against ``GET /health`` in alternating rounds.
4. On a second fresh database (``keys init``, ``db upgrade``, ``demo``): E consent events from
   ``bench.stats``'s generator with a real hash chain (``chain.link``) and the projection rebuilt
   (``rebuild_state``); then timed: the whole-ledger verification (``verification.run_now``, what
   ``consent-service ledger verify`` runs, and that command as a subprocess), the tree extended
   over every event (``tree.extend``, what the ledger thread does), and the Merkle root
   recomputed as an offline verifier does (canonical bytes, ``merkle.leaf_hash``,
   ``merkle.root``), from the rows read and from the bytes alone; events/s each.

Writes the "Transparency log proofs" section of docs/benchmarks.md (unless ``--no-docs``) and
bench/results/<stamp>/proofs.json; removes the backends even on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench import backends, load, report, standalone, stats
from bench.server import Gunicorn

SECTION = "## Transparency log proofs"
TARGET_P99_MS = 1.0
TARGET_LEAVES = 10_000_000
CHUNK_TILES = 5_000  # level-0 tiles per insert batch (80,000 leaves)
SEED = 9


# 1. The tree ----------------------------------------------------------------------------------


def leaf_hashes(n: int) -> Iterator[bytes]:
    """The synthetic leaf hashes: SHA-256 of the counters 0 to n-1 (8 bytes, big-endian)."""
    sha = hashlib.sha256
    for i in range(n):
        yield sha(i.to_bytes(8, "big")).digest()


def build_tiles(leaves: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(tile level, index, hashes) of every tile of the tree of ``leaves`` (leaf hashes, in
    order), as ``tree._append`` stores them after appending all of them at once: each level
    cut into tiles of ``tree.WIDTH`` hashes (the last one partial), each full tile's root a node
    of the level above, up to the first level with no full tile. Level 0 is streamed, the
    levels above (a sixteenth of it and less) are held in memory."""
    from consent_service.ledger import tree
    from consent_verify import merkle

    width, size = tree.WIDTH, tree.HASH

    def tiles_of(level: int, nodes: Iterable[bytes], above: list[bytes]) -> Iterator[tuple[int, int, bytes]]:
        run: list[bytes] = []
        index = 0
        for node in nodes:
            run.append(node)
            if len(run) == width:
                data = b"".join(run)
                yield level, index, data
                above.append(merkle.root([data[i * size : (i + 1) * size] for i in range(width)]))
                run, index = [], index + 1
        if run:
            yield level, index, b"".join(run)

    level, nodes = 0, iter(leaves)
    while True:
        above: list[bytes] = []
        produced = False
        for tile in tiles_of(level, nodes, above):
            produced = True
            yield tile
        if not produced or not above:
            return
        level, nodes = level + 1, iter(above)


def _chunks(items: Iterable[tuple[int, int, bytes]], n: int) -> Iterator[list[tuple[int, int, bytes]]]:
    chunk: list[tuple[int, int, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_tree(ctx: Any, leaves: Iterable[bytes], n: int) -> dict[str, Any]:
    """Store the tiles of ``leaves`` (``n`` of them) in the empty tree of ``ctx``'s database,
    set its size to ``n`` and sign a checkpoint of it as ``tree.extend`` would; the timings."""
    from sqlalchemy import text

    from consent_service.ledger import tree

    engine = ctx.db.engine
    postgres = engine.dialect.name == "postgresql"
    with ctx.uow(write=False) as uow:
        if tree.size(uow.session) != 0:
            raise RuntimeError("the tree is not empty")
    started = time.perf_counter()
    tiles = 0
    for chunk in _chunks(build_tiles(leaves), CHUNK_TILES):
        with engine.begin() as conn:
            if postgres:
                raw = conn.connection.driver_connection
                with (
                    raw.cursor() as cur,
                    cur.copy("COPY ledger_tree_tiles (level, idx, hashes) FROM STDIN") as cp,
                ):
                    for row in chunk:
                        cp.write_row(row)
            else:
                conn.exec_driver_sql(
                    "INSERT INTO ledger_tree_tiles (level, idx, hashes) VALUES (?, ?, ?)", chunk
                )
        tiles += len(chunk)
    build_seconds = time.perf_counter() - started
    with ctx.uow() as uow:
        uow.session.execute(text("UPDATE ledger_tree_state SET size = :n WHERE id = 1"), {"n": n})
        tree._sign(ctx, uow.session, n, ctx.now())
        uow.commit()
    return {
        "leaves": n,
        "tiles": tiles,
        "build_seconds": round(build_seconds, 2),
        "sign_seconds": round(time.perf_counter() - started - build_seconds, 3),
    }


# 2. Proofs in-process ---------------------------------------------------------------------------


def summary(samples_ms: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(samples_ms)
    n = len(ordered)
    return {
        "calls": n,
        "p50_ms": round(statistics.median(ordered), 4),
        "p99_ms": round(ordered[max(0, -(-99 * n // 100) - 1)], 4),
        "max_ms": round(ordered[-1], 4),
        "mean_ms": round(sum(ordered) / n, 4),
    }


def in_process(ctx: Any, n: int, calls: int, warmup: int = 200) -> dict[str, Any]:
    """The proofs and the baselines, interleaved call by call; then every proof checked."""
    from sqlalchemy import text

    from consent_service.ledger import tree

    rng = random.Random(SEED)
    seqs = [rng.randint(1, n) for _ in range(calls)]
    pairs = []
    for _ in range(calls):
        b = rng.randint(1, n)
        pairs.append((rng.randint(1, b), b))
    select_one = text("SELECT 1")

    def uow_select() -> None:
        with ctx.uow(write=False) as uow:
            uow.session.execute(select_one).scalar_one()

    def fetch_one() -> None:
        ctx.db.fetch_one(select_one)

    kinds: dict[str, list[float]] = {"inclusion": [], "consistency": [], "uow_select_1": [], "fetch_one": []}
    inclusions: list[dict[str, Any]] = []
    consistencies: list[dict[str, Any]] = []
    for _ in range(warmup):
        tree.inclusion(ctx, rng.randint(1, n), None)
        tree.consistency(ctx, 1, n)
        uow_select()
        fetch_one()
    clock = time.perf_counter
    started = clock()
    for i in range(calls):
        order = (0, 1, 2, 3) if i % 2 == 0 else (3, 2, 1, 0)
        for which in order:
            t0 = clock()
            if which == 0:
                inclusions.append(tree.inclusion(ctx, seqs[i], None))
            elif which == 1:
                consistencies.append(tree.consistency(ctx, *pairs[i]))
            elif which == 2:
                uow_select()
            else:
                fetch_one()
            ms = (clock() - t0) * 1000
            kinds[("inclusion", "consistency", "uow_select_1", "fetch_one")[which]].append(ms)
    seconds = clock() - started
    out: dict[str, Any] = {k: summary(v) for k, v in kinds.items()}
    out["seconds"] = round(seconds, 2)
    base = out["uow_select_1"]
    for kind in ("inclusion", "consistency"):
        out[kind]["p50_ratio"] = round(out[kind]["p50_ms"] / base["p50_ms"], 2)
        out[kind]["p99_ratio"] = round(out[kind]["p99_ms"] / base["p99_ms"], 2)
    out["checked"] = check(ctx, n, inclusions, consistencies)
    return out


def check(
    ctx: Any, n: int, inclusions: list[dict[str, Any]], consistencies: list[dict[str, Any]]
) -> dict[str, Any]:
    """Every inclusion proof verifies (RFC 9162) against the root of the signed checkpoint, and
    its leaf is the counter hash it was built from; every consistency proof verifies between the
    two roots it states (the new one the signed root when it is the tree's size); RuntimeError
    otherwise."""
    import base64

    from sqlalchemy import select

    from consent_service.ledger.models import LedgerTreeCheckpoint
    from consent_verify import merkle

    with ctx.uow(write=False) as uow:
        signed = bytes(
            uow.session.scalar(select(LedgerTreeCheckpoint.root).where(LedgerTreeCheckpoint.size == n))
        )
    b64 = base64.b64decode
    for p in inclusions:
        leaf = b64(p["leaf_hash"])
        if leaf != hashlib.sha256(p["leaf_index"].to_bytes(8, "big")).digest():
            raise RuntimeError(f"leaf {p['leaf_index']} is not the hash it was built from")
        path = [b64(h) for h in p["inclusion_path"]]
        if b64(p["root_hash"]) != signed or not merkle.verify_inclusion(
            p["leaf_index"], n, leaf, path, signed
        ):
            raise RuntimeError(f"the inclusion proof of seq {p['seq']} does not verify")
    for p in consistencies:
        path = [b64(h) for h in p["consistency_path"]]
        new_root = b64(p["new_root_hash"])
        if (p["to"] == n and new_root != signed) or not merkle.verify_consistency(
            p["from_"], p["to"], b64(p["old_root_hash"]), new_root, path
        ):
            raise RuntimeError(f"the consistency proof {p['from_']} → {p['to']} does not verify")
    return {"inclusion": len(inclusions), "consistency": len(consistencies), "root": signed.hex()}


# 3. Over HTTP ------------------------------------------------------------------------------------


def over_http(
    backend: backends.Backend, n: int, seconds: float, rounds: int, out: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    """``GET /health`` and ``GET /v1/ledger/proofs/inclusion?seq=<random>`` in alternating rounds."""
    wrk, wrk_note = load.ensure_wrk()
    settings = load.LoadSettings(duration=seconds, warmup=2.0, rounds=rounds)
    server = Gunicorn(backend.env, out / f"gunicorn-proofs-{backend.name}.log")
    try:
        server.wait_healthy()
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", f"/v1/ledger/proofs/inclusion?seq={n}")
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        if answer.status != 200 or json.loads(body)["tree_size"] != n:
            raise RuntimeError(f"GET /v1/ledger/proofs/inclusion answered {answer.status}: {body[:300]!r}")
        env = {"BENCH_LEAVES": str(n)}
        common: dict[str, Any] = {"wrk": wrk, "base_url": server.base_url, "settings": settings, "env": env}
        for scenario in ("health", "inclusion"):  # warm-up, not counted
            load.run_load(
                scenario=scenario, seconds=settings.warmup, raw_path=out / f"warmup-{scenario}.txt", **common
            )
        figures: dict[str, list[dict[str, Any]]] = {"health": [], "inclusion": []}
        for r in range(rounds):
            for scenario in ("health", "inclusion") if r % 2 == 0 else ("inclusion", "health"):
                figures[scenario].append(
                    load.run_load(
                        scenario=scenario,
                        seconds=seconds / rounds,
                        raw_path=out / f"{backend.name}-{scenario}-{r}.txt",
                        server_cpu=server.cpu_seconds,
                        **common,
                    )
                )
    finally:
        server.stop()
    result: dict[str, Any] = {k: load.combine(v) for k, v in figures.items()}
    result["load_tool"] = load.wrk_version(wrk) if wrk else "bench.pyload (Python)"
    result["note"] = wrk_note
    result["settings"] = {
        "connections": settings.connections,
        "threads": settings.threads,
        "seconds": seconds,
    }
    h, i = result["health"], result["inclusion"]
    result["rps_ratio"] = round(i["rps"] / h["rps"], 3) if h["rps"] else None
    log(
        f"  HTTP: inclusion {i['rps']:,.0f} req/s p50 {i['p50_ms']:.2f} p99 {i['p99_ms']:.2f} ms; "
        f"health {h['rps']:,.0f} req/s p50 {h['p50_ms']:.2f} p99 {h['p99_ms']:.2f} ms"
    )
    return result


# 4. Verification of a real ledger --------------------------------------------------------------


def verification(backend: backends.Backend, events: int, log: Callable[[str], None]) -> dict[str, Any]:
    from sqlalchemy import select

    from consent_service.config import Config
    from consent_service.ledger import chain, tree
    from consent_service.ledger import verification as ledger_verification
    from consent_service.ledger.models import LedgerEvent
    from consent_service.ledger.service import rebuild_state
    from consent_service.wiring import bootstrap
    from consent_verify import merkle

    backends.prepare(backend)
    ctx = bootstrap(Config(data_dir=backend.data_dir, database_url=backend.database_url, testing=True))
    try:
        out: dict[str, Any] = {}
        t0 = time.perf_counter()
        purposes, sites = stats.register_extras(ctx)
        seeded = stats.seed_ledger(ctx, events, purposes, sites, chained=True)
        rows = rebuild_state(ctx)
        out["seed"] = {
            "events": seeded["events"],
            "insert_seconds": round(seeded["insert_seconds"], 2),
            "rebuild_state_rows": rows,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        if backend.name == "postgresql":
            backends.analyze(backend)
        log(f"  ledger of {seeded['events']:,} events seeded in {out['seed']['seconds']:.1f} s")

        t0 = time.perf_counter()
        done = ledger_verification.run_now(ctx, started_by="bench")
        seconds = time.perf_counter() - t0
        checked = done["report"]["events_checked"]
        if not done["report"]["ok"]:
            raise RuntimeError(f"the seeded ledger does not verify: {done['report']['problem']}")
        out["verify"] = {"events": checked, "seconds": round(seconds, 2), "per_s": round(checked / seconds)}

        t0 = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "consent_service.cli", "ledger", "verify", "--json"],
            cwd=backends.REPO,
            env=backend.env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        seconds = time.perf_counter() - t0
        if cli.returncode != 0:
            raise RuntimeError(
                f"consent-service ledger verify failed: {cli.stdout[-500:]} {cli.stderr[-500:]}"
            )
        checked = json.loads(cli.stdout)["events_checked"]
        out["verify_cli"] = {
            "events": checked,
            "seconds": round(seconds, 2),
            "per_s": round(checked / seconds),
        }

        t0 = time.perf_counter()
        added = tree.extend(ctx)
        seconds = time.perf_counter() - t0
        out["extend"] = {"events": added, "seconds": round(seconds, 2), "per_s": round(added / seconds)}

        columns = [c for c in LedgerEvent.__table__.columns if c.key != "hash"]
        t0 = time.perf_counter()
        data: list[bytes] = []
        with ctx.uow(write=False) as uow:
            for row in uow.session.execute(select(*columns).order_by(LedgerEvent.seq)):
                data.append(chain.canonical_bytes(row._mapping))  # type: ignore[arg-type]
        read_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        offline_root = merkle.root([merkle.leaf_hash(d) for d in data])
        hash_seconds = time.perf_counter() - t1
        with ctx.uow(write=False) as uow:
            stored_root = tree.root_of(uow.session, len(data))
        if offline_root != stored_root:
            raise RuntimeError("the Merkle root recomputed from the events differs from the tree's")
        n = len(data)
        out["offline_root"] = {
            "events": n,
            "read_and_encode_seconds": round(read_seconds, 2),
            "hash_seconds": round(hash_seconds, 2),
            "per_s": round(n / (read_seconds + hash_seconds)),
            "hash_per_s": round(n / hash_seconds),
            "bytes_per_event": round(sum(len(d) for d in data) / n),
            "root_equals_tree": True,
        }
        log(
            f"  verify {out['verify']['per_s']:,} events/s (CLI {out['verify_cli']['per_s']:,}/s), "
            f"tree.extend {out['extend']['per_s']:,}/s, offline root {out['offline_root']['per_s']:,}/s "
            f"(hashing alone {out['offline_root']['hash_per_s']:,}/s)"
        )
        return out
    finally:
        ctx.db.dispose()


# The run -------------------------------------------------------------------------------------------


def measure(
    backend: backends.Backend, args: argparse.Namespace, out: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    from consent_service.config import Config
    from consent_service.wiring import bootstrap

    phases: dict[str, float] = {}
    result: dict[str, Any] = {"backend": backend.name, "version": backend.version}
    t0 = time.perf_counter()
    backends._cli(backend, "keys", "init")
    backends._cli(backend, "db", "upgrade")
    phases["prepare"] = time.perf_counter() - t0
    ctx = bootstrap(Config(data_dir=backend.data_dir, database_url=backend.database_url, testing=True))
    try:
        log(f"{backend.name}: building a tree of {args.leaves:,} leaves")
        t0 = time.perf_counter()
        result["tree"] = write_tree(ctx, leaf_hashes(args.leaves), args.leaves)
        if backend.name == "postgresql":
            backends.analyze(backend)
            backend.notes = []
        phases["build_tree"] = time.perf_counter() - t0
        log(f"  {result['tree']['tiles']:,} tiles in {result['tree']['build_seconds']:.1f} s")
        t0 = time.perf_counter()
        load_before = os.getloadavg()[0]
        result["in_process"] = proc = in_process(ctx, args.leaves, args.calls)
        result["load"] = [load_before, os.getloadavg()[0]]
        phases["in_process"] = time.perf_counter() - t0
        log(
            f"  in-process p50/p99: inclusion {proc['inclusion']['p50_ms']:.3f}/{proc['inclusion']['p99_ms']:.3f} ms, "
            f"consistency {proc['consistency']['p50_ms']:.3f}/{proc['consistency']['p99_ms']:.3f} ms, "
            f"SELECT 1 {proc['uow_select_1']['p50_ms']:.3f}/{proc['uow_select_1']['p99_ms']:.3f} ms"
        )
    finally:
        ctx.db.dispose()
    if args.http_seconds > 0:
        t0 = time.perf_counter()
        result["http"] = over_http(backend, args.leaves, args.http_seconds, args.http_rounds, out, log)
        phases["http"] = time.perf_counter() - t0
    if args.events > 0:
        t0 = time.perf_counter()
        second = (
            backends.sqlite_backend()
            if backend.name == "sqlite"
            else backends.postgres_backend(
                os.environ.get("CONSENT_BENCH_POSTGRES_URL", standalone.DEFAULT_PG)
            )
        )
        try:
            result["verification"] = verification(second, args.events, log)
        finally:
            for problem in second.cleanup():
                log(problem)
        phases["verification"] = time.perf_counter() - t0
    result["phases_seconds"] = {k: round(v, 1) for k, v in phases.items()}
    result["machine"] = report.machine()
    return result


def _short(version: str) -> str:
    return version.split(" (")[0]


def section(results: list[dict[str, Any]], stamp: str, command: str) -> str:
    m = results[0].get("machine") or report.machine()
    leaves = min(r["tree"]["leaves"] for r in results)
    lines = [
        SECTION,
        "",
        f"Measured by `{command}` (`bench.proofs`), {stamp} UTC; {report.machine_text(m)}.",
        "",
    ]
    if leaves < TARGET_LEAVES:
        lines += [
            f"**A small-scale run (a tree of {leaves:,} leaves), not the {TARGET_LEAVES:,}-leaf figure "
            "the target is set for**: it shows that the harness works; the proofs at 10 million "
            "leaves are still to be measured.",
            "",
        ]
    lines += [
        f"Target: an inclusion proof at {TARGET_LEAVES:,} events within 1 ms at p99 in the service; "
        "the whole ledger's verification is measured in events/s.",
        "",
        "The tree: a fresh database (`keys init`, `db upgrade`) whose `ledger_tree_tiles` hold a tree "
        "of N leaves written directly (`bench.proofs.build_tiles`, batches of "
        f"{CHUNK_TILES:,} level-0 tiles, `executemany` on SQLite, `COPY` on PostgreSQL), with "
        "`ledger_tree_state.size` = N and a checkpoint of N signed as the ledger thread signs one. "
        "**Synthetic: the leaf hashes are SHA-256 of the counters 0 to N-1, not of events, and the "
        "ledger has no events.** That changes nothing measured: a proof reads only the tree's "
        "size, its tiles (O(log n) of them, for the path, the leaf and the root) and the "
        "checkpoint, never an event, and "
        "every hash above the leaves is computed from the leaves exactly as `tree.extend` does it "
        "(a test, tests/integration/test_bench_proof_tiles.py, holds the tiles built this way equal, "
        "byte for byte, to those `tree.extend` stores for real events with the same leaf hashes). "
        "Every inclusion proof timed was then verified with `consent_verify.merkle` against the "
        "signed root and its leaf against its counter, every consistency proof between the two "
        "roots it states.",
        "",
        "| Backend | Leaves | Tiles | Build (hash and insert) |",
        "|---|---|---|---|",
    ]
    for r in results:
        t = r["tree"]
        lines.append(f"| {r['version']} | {t['leaves']:,} | {t['tiles']:,} | {t['build_seconds']:.1f} s |")
    lines += [
        "",
        "In-process (the service functions, no HTTP), interleaved call by call after 200 warm-up "
        "calls of each: `tree.inclusion(ctx, seq)` for random seqs (the tree's size now, as the "
        "API), `tree.consistency(ctx, a, b)` for random 1 ≤ a ≤ b ≤ N, and the baselines: `SELECT 1` "
        "in a read-only unit of work (`ctx.uow(write=False)`, the machinery the proofs go through; "
        "the ratios are against it) and `ctx.db.fetch_one(SELECT 1)` (what the health check reads).",
        "",
        "| Backend | Call | Calls | p50 | p99 | max | p50 / p99 ÷ baseline | Target p99 ≤ 1 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p = r["in_process"]
        for key, label in (
            ("inclusion", "`tree.inclusion`"),
            ("consistency", "`tree.consistency`"),
            ("uow_select_1", "baseline: `SELECT 1` in a unit of work"),
            ("fetch_one", "`ctx.db.fetch_one(SELECT 1)`"),
        ):
            s = p[key]
            ratio = f"{s['p50_ratio']:.1f} / {s['p99_ratio']:.1f}" if "p50_ratio" in s else "—"
            met = "—"
            if key == "inclusion":
                met = ("yes" if s["p99_ms"] <= TARGET_P99_MS else "**no**") + (
                    "" if r["tree"]["leaves"] >= TARGET_LEAVES else " (not at 10M)"
                )
            lines.append(
                f"| {_short(r['version'])} | {label} | {s['calls']:,} | {s['p50_ms']:.3f} ms | "
                f"{s['p99_ms']:.3f} ms | {s['max_ms']:.2f} ms | {ratio} | {met} |"
            )
    http = [r for r in results if r.get("http")]
    if http:
        h0 = http[0]["http"]
        lines += [
            "",
            f"Over HTTP: gunicorn (2 sync workers, access log off) on 127.0.0.1, load from "
            f"{h0['load_tool']} on the same machine ({h0['settings']['connections']} connections), "
            f"`GET /v1/ledger/proofs/inclusion?seq=<random 1..N>` (no credentials, as served) and "
            f"`GET /health` in alternating rounds, {h0['settings']['seconds']:.0f} s each in all.",
            "",
            "| Backend | Request | req/s | p50 | p99 | server CPU per request | inclusion ÷ health req/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in http:
            h = r["http"]
            for key, label in (("inclusion", "proofs/inclusion"), ("health", "health")):
                f = h[key]
                errors = f" ({f['errors']:,} errors)" if f["errors"] else ""
                lines.append(
                    f"| {_short(r['version'])} | {label} | {f['rps']:,.0f}{errors} | {f['p50_ms']:.2f} ms | "
                    f"{f['p99_ms']:.2f} ms | {f.get('server_cpu_ms_per_req', 0):.2f} ms | "
                    f"{h['rps_ratio'] if key == 'inclusion' else '—'} |"
                )
    ver = [r for r in results if r.get("verification")]
    if ver:
        v0 = ver[0]["verification"]
        lines += [
            "",
            f"Verification, on a second fresh database (`keys init`, `db upgrade`, `demo`) with a real "
            f"ledger of {v0['verify']['events']:,} events (the demo's and {v0['seed']['events']:,} "
            "consent events from the generator of `bench.stats`, "
            "bulk-inserted, each batch chained by the product's `chain.link`, the projection rebuilt "
            "by `rebuild_state`): the whole-ledger verification (`verification.run_now`, which "
            "`consent-service ledger verify` runs: hash chain, checkpoints, projection), that command "
            "as a subprocess (start-up included), `tree.extend` over every event (what the ledger "
            "thread does), and the Merkle root recomputed as an offline verifier does it "
            "(`chain.canonical_bytes` of each event, `merkle.leaf_hash`, `merkle.root`; equal to the "
            "tree's root), from the rows read in one query and from the bytes alone. The rate is "
            "what matters: each of these walks the ledger once, in seq order, so its time is "
            "expected to grow with the ledger's size and its rate to stay.",
            "",
            "| Backend | Events | `ledger verify` (in-process) | `consent-service ledger verify` | "
            "`tree.extend` | Offline root (read + encode + hash) | Offline root (hashing alone) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in ver:
            v = r["verification"]
            o = v["offline_root"]
            lines.append(
                f"| {_short(r['version'])} | {v['verify']['events']:,} | {v['verify']['per_s']:,} events/s "
                f"({v['verify']['seconds']:.1f} s) | {v['verify_cli']['per_s']:,} events/s "
                f"({v['verify_cli']['seconds']:.1f} s) | {v['extend']['per_s']:,} events/s | "
                f"{o['per_s']:,} events/s | {o['hash_per_s']:,} events/s |"
            )
    load_text = ", ".join(f"{_short(r['version'])} {r['load'][0]:.1f} → {r['load'][1]:.1f}" for r in results)
    lines += [
        "",
        f"Load average (1 min) at the start and end of each backend's in-process proofs: {load_text}"
        + (
            "; above the machine's CPUs (the 1-minute average includes the run's own steps just before,"
            " building the tree, and anything else running), so the timings may include waiting for a CPU."
            if max(max(r["load"]) for r in results) > (m["nproc"] or 1)
            else f"; at most the machine's {m['nproc']} CPUs."
        ),
        "",
        "Phases (s): "
        + "; ".join(
            f"{_short(r['version'])} "
            + ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in r["phases_seconds"].items())
            for r in results
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proofs", description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=TARGET_LEAVES)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--calls", type=int, default=2_000, help="timed calls of each kind in-process")
    parser.add_argument(
        "--http-seconds", type=float, default=20.0, help="HTTP load per request kind (0: none)"
    )
    parser.add_argument("--http-rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=200_000, help="events of the verified ledger (0: none)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument(
        "--from-results", type=Path, help="write the section from a run's proofs.json and stop"
    )
    args = parser.parse_args(argv)
    if args.from_results:
        path = args.from_results / "proofs.json" if args.from_results.is_dir() else args.from_results
        saved = json.loads(path.read_text())
        stamp = path.parent.name.replace("T", " ")
        standalone.write_section(section(saved, f"{stamp[:13]}:{stamp[13:]}", saved[0]["command"]), SECTION)
        return
    if args.leaves < 1:
        parser.error("--leaves must be at least 1")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    out = backends.REPO / "bench" / "results" / stamp.replace(" ", "T").replace(":", "")
    out.mkdir(parents=True, exist_ok=True)
    begun = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - begun:7.1f} s] {text}", flush=True)

    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = standalone.each_backend(names, lambda backend: measure(backend, args, out, log))
    command = standalone.command("bench.proofs", argv)
    for result in results:
        result["command"] = command
    standalone.keep_results("proofs", stamp, results)
    if not args.no_docs:
        standalone.write_section(section(results, stamp, command), SECTION)
    print(f"SQLite {sqlite3.sqlite_version}; wrote {'' if args.no_docs else 'docs/benchmarks.md and '}{out}")


if __name__ == "__main__":
    main()
