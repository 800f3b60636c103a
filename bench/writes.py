"""Durable consent writes: what a commit that reaches the disk costs, how writes scale with
workers, and that a killed worker loses no acknowledged consent.

``python -m bench.writes [--duration S] [--rounds R] [--no-normal] [--no-postgresql]``
(``make bench-writes``), in one run, each backend fresh (``bench.backends``: keys, migrations,
demo), the service under gunicorn from this checkout:

- SQLite, ``serve``'s 2 workers: ``GET /health`` and ``POST /v1/consents`` (one decision, a new
  device id per request) under wrk, alternating in R rounds; the ratio consents ÷ health, with
  the service's ``synchronous=FULL`` and, for comparison, ``synchronous=NORMAL`` (a bench-only
  entry point, ``bench.sync_normal``, adds a connect listener after the service's own; the
  service has no such switch);
- PostgreSQL: ``POST /v1/consents`` per second with 2, 4 and 8 workers (16 connections);
- kill -9: 8 writer threads post consents for S seconds, each recording the event id and seq of
  every 201; half-way one gunicorn worker gets SIGKILL (the master starts another). Afterwards,
  with the server stopped, a new engine looks every acknowledged id up (lost = acknowledged but
  absent; must be 0) and ``consent-service ledger verify`` runs; on SQLite and on PostgreSQL.

Writes the "Durable writes" section of docs/benchmarks.md and bench/results/<stamp>/writes.json;
stops gunicorn and removes the backends even on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import signal
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, text

from bench import backends, load, report, standalone
from bench.server import HOST, Gunicorn

SECTION = "## Durable writes"
RATIO_TARGET = 0.4
PG_WORKERS = (2, 4, 8)
KILL_WRITERS = 8
APPS = {"FULL": "consent_service.wsgi:app", "NORMAL": "bench.sync_normal:app"}


def log(message: str) -> None:
    print(f"[writes {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _load(server: Gunicorn, backend: backends.Backend, scenario: str, seconds: float, **kw: Any) -> dict:
    settings = load.LoadSettings(seconds, 0, kw.get("connections", 8), kw.get("threads", 2))
    figure = load.run_load(
        wrk=kw["wrk"],
        scenario=scenario,
        base_url=server.base_url,
        seconds=seconds,
        settings=settings,
        env={"BENCH_TOKEN": backend.token, "BENCH_PREFIX": f"{kw['tag']}-{uuid.uuid4().hex[:6]}"},
        raw_path=kw["out"] / f"{kw['tag']}-{scenario}.txt",
        server_cpu=server.cpu_seconds,
    )
    figure.pop("raw", None)
    return figure


def sqlite_ratio(args: argparse.Namespace, wrk: str | None, out: Path) -> dict[str, Any]:
    """consents ÷ health on one SQLite database, per worker model and synchronous mode."""
    backend = backends.sqlite_backend()
    entry: dict[str, Any] = {"version": backend.version, "configs": []}
    try:
        backends.prepare(backend)
        for threads in args.sqlite_threads:
            for mode in ["FULL", *([] if args.no_normal else ["NORMAL"])]:
                entry["configs"].append(_sqlite_config(args, wrk, out, backend, mode, threads))
    finally:
        entry["cleanup_problems"] = backend.cleanup()
    return entry


def _sqlite_config(
    args: argparse.Namespace, wrk: str | None, out: Path, backend: backends.Backend, mode: str, threads: int
) -> dict[str, Any]:
    tag = f"sqlite-{mode}-t{threads}"
    server = Gunicorn(backend.env, out / f"gunicorn-{tag}.log", workers=2, threads=threads, app=APPS[mode])
    try:
        server.wait_healthy()
        kw = {"wrk": wrk, "out": out}
        _load(server, backend, "health", 2, tag=f"{tag}-warm", **kw)
        _load(server, backend, "consents", 2, tag=f"{tag}-warm", **kw)
        rounds: dict[str, list[dict[str, Any]]] = {"health": [], "consents": []}
        for index in range(args.rounds):
            order = ("health", "consents") if index % 2 == 0 else ("consents", "health")
            for scenario in order:
                figure = _load(
                    server, backend, scenario, args.duration / args.rounds, tag=f"{tag}-{index}", **kw
                )
                rounds[scenario].append(figure)
    finally:
        server.stop()
    health, consents = load.combine(rounds["health"]), load.combine(rounds["consents"])
    ratios = [
        round(c["rps"] / h["rps"], 3) if h["rps"] else 0.0
        for c, h in zip(rounds["consents"], rounds["health"], strict=True)
    ]
    ratio = round(consents["rps"] / health["rps"], 3) if health["rps"] else 0.0
    log(
        f"sqlite {mode}, {threads} thread(s): health {health['rps']:.0f}/s, consents {consents['rps']:.0f}/s "
        f"(p99 {consents['p99_ms']:.1f} ms), ratio {ratio:.3f}"
    )
    return {
        "mode": mode,
        "threads": threads,
        "health": health,
        "consents": consents,
        "ratio": ratio,
        "rounds": ratios,
    }


def pg_curve(args: argparse.Namespace, wrk: str | None, out: Path) -> dict[str, Any]:
    backend = backends.postgres_backend(args.postgres_url)
    entry: dict[str, Any] = {"version": backend.version, "points": []}
    try:
        backends.prepare(backend)
        for workers in PG_WORKERS:
            server = Gunicorn(
                backend.env, out / f"gunicorn-pg-{workers}.log", workers=workers, threads=args.threads
            )
            try:
                server.wait_healthy()
                kw = {"wrk": wrk, "out": out, "connections": 16}
                _load(server, backend, "consents", 2, tag=f"pg-{workers}-warm", **kw)
                figure = _load(server, backend, "consents", args.duration, tag=f"pg-{workers}", **kw)
                figure["workers"] = workers
                entry["points"].append(figure)
                log(
                    f"postgresql {workers} workers: {figure['rps']:.0f} writes/s, p99 {figure['p99_ms']:.1f} ms, "
                    f"other processes (PostgreSQL) {figure['other_cpu_pct']:.0f}% CPU"
                )
            finally:
                server.stop()
    finally:
        entry["cleanup_problems"] = backend.cleanup()
    return entry


def _writer(port: int, token: str, prefix: str, stop: threading.Event, acked: list, failures: list) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    counter = 0
    while not stop.is_set():
        counter += 1
        body = json.dumps(
            {
                "subject": {"type": "device_id", "value": f"{prefix}-{counter}"},
                "decisions": [{"purpose": "analytics", "granted": True}],
                "channel": "api",
                "method": "api",
            }
        )
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            conn.request("POST", "/v1/consents", body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status == 201:
                (event,) = json.loads(data)["events"]
                acked.append((event["id"], event["seq"]))
            else:
                failures.append(f"HTTP {response.status}")
        except (OSError, http.client.HTTPException) as exc:
            failures.append(type(exc).__name__)  # the killed worker's requests: never acknowledged
        finally:
            conn.close()


def kill_run(name: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    backend = backends.sqlite_backend() if name == "sqlite" else backends.postgres_backend(args.postgres_url)
    entry: dict[str, Any] = {"backend": name, "version": backend.version, "writers": KILL_WRITERS}
    try:
        backends.prepare(backend)
        server = Gunicorn(backend.env, out / f"gunicorn-kill-{name}.log", workers=2, threads=args.threads)
        acked: list[tuple[str, int]] = []
        failures: list[str] = []
        try:
            server.wait_healthy()
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_writer, args=(server.port, backend.token, f"kill-{n}", stop, acked, failures)
                )
                for n in range(KILL_WRITERS)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(args.duration / 2)
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            entry.update(killed_pid=victim, killed_after_s=round(time.monotonic() - started, 1))
            entry["acknowledged_before_kill"] = len(acked)
            time.sleep(args.duration / 2)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            entry["seconds"] = round(time.monotonic() - started, 1)
            entry["workers_after"] = len(server.worker_pids())
        finally:
            server.stop()
        entry["acknowledged"] = len(acked)
        entry["failed_requests"] = len(failures)
        entry["failure_kinds"] = sorted(set(failures))
        url = backend.database_url or f"sqlite:///{backend.data_dir / 'consent.db'}"
        engine = create_engine(url)  # a new engine, after every server process has gone
        found: dict[str, int] = {}
        try:
            query = text("SELECT id, seq FROM ledger_events WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            )
            with engine.connect() as conn:
                for start in range(0, len(acked), 500):
                    ids = [event_id for event_id, _ in acked[start : start + 500]]
                    found.update({row[0]: row[1] for row in conn.execute(query, {"ids": ids})})
        finally:
            engine.dispose()
        entry["lost"] = sum(1 for event_id, _ in acked if event_id not in found)
        entry["seq_mismatches"] = sum(1 for event_id, seq in acked if found.get(event_id, seq) != seq)
        verified = json.loads(backends._cli(backend, "ledger", "verify", "--json"))
        entry["ledger_verify_ok"] = verified["ok"]
        entry["ledger_events"] = verified.get("events_checked")
        log(
            f"kill -9 {name}: {entry['acknowledged']} acknowledged, {entry['failed_requests']} failed "
            f"({', '.join(entry['failure_kinds'])}), lost {entry['lost']}, ledger verify ok={verified['ok']}"
        )
    finally:
        entry["cleanup_problems"] = backend.cleanup()
    return entry


def curve(points: list[dict[str, Any]]) -> str:
    """Rising (each point at least 10 % above the one before: target met), else flat or falling."""
    rates = [p["rps"] for p in points]
    if len(rates) > 1 and all(b >= 1.1 * a for a, b in zip(rates, rates[1:], strict=False)):
        return "rising (target met)"
    shape = "falling" if rates and rates[-1] < 0.9 * rates[0] else "flat"
    return f"{shape} (target: rising, **not met**)"


def _row(figure: dict[str, Any]) -> str:
    return f"{figure['rps']:,.0f} req/s; p50 {figure['p50_ms']:.2f} ms, p99 {figure['p99_ms']:.2f} ms"


def section(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        SECTION,
        "",
        f"Run {results['date']} on {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"{m['os']}; commit {results['commit']}; `{results['command']}`. Python {results['python']}, "
        f"{results['load_tool']}; wrk, gunicorn and the database share the machine.",
        "",
    ]
    sq = results.get("sqlite")
    if sq:
        lines += [
            f"SQLite ({sq['version']}, WAL), 2 gunicorn workers (1 thread: sync workers as `make bench`; "
            "4 threads: gthread as `consent-service serve --workers 2`), access log off, 8 connections, "
            f"{results['rounds']} alternating rounds of health and consents, {results['duration']:.0f} s each "
            "in all after 2 s warm-up; `POST /v1/consents` carries one decision for a new device id:",
            "",
            "| synchronous | threads | `GET /health` (baseline) | `POST /v1/consents` | consents ÷ health | target |",
            "|---|---|---|---|---|---|",
        ]
        for fig in sq["configs"]:
            rounds = ", ".join(f"{r:.2f}" for r in fig["rounds"])
            met = "met" if fig["ratio"] >= RATIO_TARGET else "**not met**"
            full = fig["mode"] == "FULL"
            target = f"≥ {RATIO_TARGET}: {met}" if full else "comparison (bench-only switch)"
            lines.append(
                f"| {fig['mode']}{' (the service)' if full else ''} | {fig['threads']} | {_row(fig['health'])} | "
                f"{_row(fig['consents'])} | {fig['ratio']:.3f} (rounds: {rounds}) | {target} |"
            )
        lines.append("")
    pg = results.get("postgresql")
    if pg:
        lines += [
            f"PostgreSQL ({pg['version']}, synchronous_commit on), {results['threads']} threads per worker, "
            "`POST /v1/consents` with 16 connections, "
            f"{results['duration']:.0f} s per point after 2 s warm-up; the target is a rising curve:",
            "",
            "| gunicorn workers | writes/s | p50 | p99 | gunicorn CPU per write | gunicorn CPU | other processes' CPU "
            "(PostgreSQL among them) |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in pg["points"]:
            lines.append(
                f"| {p['workers']} | {p['rps']:,.0f} | {p['p50_ms']:.2f} ms | {p['p99_ms']:.2f} ms | "
                f"{p.get('server_cpu_ms_per_req', 0):.2f} ms | {p['server_cpu_pct']:.0f}% | {p['other_cpu_pct']:.0f}% |"
            )
        lines += ["", f"Curve: {curve(pg['points'])}.", ""]
    kills = results.get("kill", [])
    if kills:
        lines += [
            f"kill -9 of one gunicorn worker (of 2) half-way through {results['duration']:.0f} s of "
            f"{KILL_WRITERS} concurrent writers (threads recording every 201's event id and seq); lost = "
            "acknowledged ids missing from the database afterwards (target 0), read by a new engine "
            "after the server stopped:",
            "",
            "| backend | acknowledged | failed requests | lost | seq mismatches | `ledger verify` |",
            "|---|---|---|---|---|---|",
        ]
        for k in kills:
            if "lost" not in k:
                lines.append(f"| {k['backend']} | failed: {k.get('error', '')} | | | | |")
                continue
            kinds = ", ".join(k["failure_kinds"]) or "none"
            ok = "ok" if k["ledger_verify_ok"] else "**DEFECT**"
            lines.append(
                f"| {k['backend']} | {k['acknowledged']:,} | {k['failed_requests']} ({kinds}) | "
                f"**{k['lost']}** | {k['seq_mismatches']} | {ok} ({k['ledger_events']:,} events) |"
            )
        lines.append("")
    lines += [
        "SIGKILL leaves the kernel's page cache alone, so these runs show that an acknowledged consent "
        "was committed; that it survives a power cut rests on `synchronous=FULL` and `synchronous_commit` "
        '(docs/operations.md, "Durable commits").',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per figure (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="SQLite health/consents rounds (default 2)")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gunicorn worker (default 4, as serve)"
    )
    parser.add_argument(
        "--sqlite-threads",
        default="1,4",
        help="threads per worker for the SQLite ratio, comma-separated (default 1,4: make bench's, serve's)",
    )
    parser.add_argument("--no-normal", action="store_true", help="skip the synchronous=NORMAL comparison")
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite only")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CONSENT_BENCH_POSTGRES_URL", standalone.DEFAULT_PG)
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)
    args.sqlite_threads = [int(n) for n in args.sqlite_threads.split(",")]
    wrk, note = load.ensure_wrk()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    import gunicorn

    results: dict[str, Any] = {
        "date": stamp,
        "command": standalone.command("bench.writes", argv),
        "commit": report.git_commit(backends.REPO),
        "machine": report.machine(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "gunicorn": gunicorn.__version__,
        "load_tool": load.wrk_version(wrk) if wrk else note,
        "duration": args.duration,
        "rounds": args.rounds,
        "threads": args.threads,
    }
    out = Path(tempfile.mkdtemp(prefix="consent-bench-writes-"))
    log(f"raw output in {out}")
    code = 0
    steps: list[tuple[str, Any]] = [("sqlite", lambda: sqlite_ratio(args, wrk, out))]
    if not args.no_postgresql:
        steps.append(("postgresql", lambda: pg_curve(args, wrk, out)))
    for name in ["sqlite", *([] if args.no_postgresql else ["postgresql"])]:
        steps.append((f"kill-{name}", lambda name=name: kill_run(name, args, out)))
    for name, step in steps:
        try:
            value = step()
        except Exception as exc:  # noqa: BLE001 - one step failing must not lose the others' figures
            log(f"{name}: FAILED: {type(exc).__name__}: {exc}")
            value = {"backend": name.removeprefix("kill-"), "error": f"{type(exc).__name__}: {exc}"}
            code = 1
        if name.startswith("kill-"):
            results.setdefault("kill", []).append(value)
            code = code or int(bool(value.get("lost")) or value.get("ledger_verify_ok") is False)
        elif "error" not in value:
            results[name] = value
    folder = standalone.keep_results("writes", stamp, [results])
    log(f"results in {folder}")
    if not args.no_docs:
        standalone.write_section(section(results), SECTION)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
