"""``make bench``: measure the gate, consents, the vault and key rotation on SQLite and PostgreSQL.

For each backend: prepare a fresh database (``keys init``, ``db upgrade``, ``demo``), seed
subjects with consent, make vault tokens for seeded subjects that granted the newsletter, serve
with gunicorn (2 workers) on a free 127.0.0.1 port, then drive it from a separate process (wrk):
``GET /health``, ``POST /v1/decisions``, ``POST /v1/vault/encrypt`` and ``POST /v1/vault/decrypt``
in alternating rounds, then ``POST /v1/consents``, then time ``POST /v1/decisions/batch`` with
10,000 subject ids. After gunicorn stops, the cost of sealing the consent proof is measured
in-process on a second fresh database (``bench.proofcost``). Finally, on PostgreSQL,
``consent-service keys rotate`` over 1,000,000 data keys (``bench.rotation``; ``--no-rotation``),
then data subject requests against a 1,000,000-customer shop: one access and one erasure timed
against hand-written SQL, and 1,000 queued erasures run by ``consent-service worker --processes 2``
on Redis (``bench.dsar``; ``--no-dsar``, or ``--dsar-only`` for that step alone); then the
retention sweeper deleting 1,000,000 expired rows out of 10,000,000 against a hand-written batched
DELETE (``bench.retention``; ``--no-retention``, or ``--retention-only`` for that step alone).
A run of one step alone (``--dsar-only``, ``--retention-only``) replaces only its own section of
docs/benchmarks.md and leaves the others as they are.
Writes docs/benchmarks.md and bench/results/<stamp>/; stops gunicorn and removes temporary
directories and databases even on failure; bounds itself in time (``--time-limit``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import signal
import sqlite3
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import (
    backends,
    banner,
    dsar,
    imports,
    load,
    proofcost,
    proofs,
    report,
    retention,
    rotation,
    segments,
    standalone,
    writes,
)
from bench import stats as stats_bench
from bench.server import HOST, Gunicorn

RESULTS_DIR = backends.REPO / "bench" / "results"
DOCS = backends.REPO / "docs" / "benchmarks.md"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH_SIZE = 10_000
ROUND_SCENARIOS = ("health", "decisions", "vault_encrypt", "vault_decrypt")
PROOF_BUDGET = {False: 60.0, True: 20.0}  # seconds for the in-process proof cost (by --quick)


class TimeLimit(Exception):
    """The whole run hit ``--time-limit``; what was measured is still reported."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise TimeLimit("the run reached its time limit")


def _on_term(signum: int, frame: Any) -> None:
    # Ignore repeats (``timeout`` signals the child and then its whole process group) so that a
    # second signal cannot interrupt the finally blocks that stop gunicorn and drop databases.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log(f"signal {signum}: stopping and cleaning up")
    raise SystemExit(128 + signum)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per figure, 10,000 subjects")
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"), dest="backends")
    parser.add_argument("--subjects", type=int, help="subjects to seed (default 20,000; quick 10,000)")
    parser.add_argument("--duration", type=float, help="seconds per figure (default 10; quick 3)")
    parser.add_argument("--seed-processes", type=int, default=3, help="PostgreSQL seeding processes")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=1200.0, help="seconds for the whole run")
    parser.add_argument("--vault-tokens", type=int, default=300, help="vault tokens to cycle in decrypt")
    parser.add_argument(
        "--proof-calls", type=int, help="record_consent calls per mode for the proof cost (default 2,000)"
    )
    parser.add_argument("--no-rotation", action="store_true", help="skip keys rotate over many data keys")
    parser.add_argument(
        "--rotation-keys", type=int, help="data keys to rotate (default 1,000,000; quick 100,000)"
    )
    parser.add_argument(
        "--rotation-batch-sizes",
        default="1000,5000",
        help="keys rotate --batch-size values to time, in order, while time allows (default 1000,5000)",
    )
    parser.add_argument("--no-dsar", action="store_true", help="skip the data subject request step")
    parser.add_argument(
        "--dsar-customers",
        type=int,
        help="shop customers for the DSAR step (default 1,000,000; quick 100,000)",
    )
    parser.add_argument(
        "--dsar-requests", type=int, help="queued erasure requests to time (default 1,000; quick 200)"
    )
    parser.add_argument("--dsar-only", action="store_true", help="run only the DSAR step (needs PostgreSQL)")
    parser.add_argument("--broker-url", default=dsar.DEFAULT_BROKER, help="Redis broker for the DSAR step")
    parser.add_argument("--no-retention", action="store_true", help="skip the retention sweep step")
    parser.add_argument(
        "--retention-rows",
        type=int,
        help="events in the retention step, 1 in 10 expired (default 10,000,000; quick 1,000,000)",
    )
    parser.add_argument(
        "--retention-baseline-batches",
        default="5000,20000",
        help="batch sizes of the hand-written DELETE; the faster is the baseline (default 5000,20000)",
    )
    parser.add_argument(
        "--retention-only", action="store_true", help="run only the retention step (needs PostgreSQL)"
    )
    parser.add_argument("--no-banner", action="store_true", help="skip the banner step (headless Chromium)")
    parser.add_argument("--banner-only", action="store_true", help="run only the banner step")
    parser.add_argument("--banner-loads", type=int, default=20, help="page loads per figure (default 20)")
    parser.add_argument("--postgres-url", help="admin URL (default: $CONSENT_BENCH_POSTGRES_URL or local)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--python-load", action="store_true", help="use bench.pyload even if wrk exists")
    args = parser.parse_args(argv)
    args.backends = args.backends or ["sqlite", "postgresql"]
    args.subjects = args.subjects or (10_000 if args.quick else 20_000)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = 1.0 if args.quick else 2.0
    args.batch_repeats = 3 if args.quick else 5
    args.proof_calls = args.proof_calls or (500 if args.quick else 2000)
    args.rotation_keys = args.rotation_keys or (100_000 if args.quick else 1_000_000)
    args.rotation_batch_sizes = [int(x) for x in str(args.rotation_batch_sizes).split(",") if x.strip()]
    alone = args.dsar_only or args.retention_only or args.banner_only
    args.rotation = not args.no_rotation and "postgresql" in args.backends and not alone
    args.dsar_customers = args.dsar_customers or (100_000 if args.quick else 1_000_000)
    args.dsar_requests = args.dsar_requests or (200 if args.quick else 1_000)
    # --dsar-only and --retention-only each run that step alone (both given: both steps)
    args.dsar = (
        not args.no_dsar
        and ("postgresql" in args.backends or args.dsar_only)
        and (args.dsar_only or not args.retention_only)
    )
    args.retention_rows = args.retention_rows or (1_000_000 if args.quick else 10_000_000)
    args.retention_baseline_batches = [
        int(x) for x in str(args.retention_baseline_batches).split(",") if x.strip()
    ]
    args.retention = (
        not args.no_retention
        and ("postgresql" in args.backends or args.retention_only)
        and (args.retention_only or not args.dsar_only)
    )
    args.banner = args.banner_only or not (args.no_banner or args.dsar_only or args.retention_only)
    if args.banner_only:
        args.dsar = args.retention = False
    args.partial = alone
    if alone:
        args.backends = []
    return args


def rotation_reserve(args: argparse.Namespace) -> float:
    """Seconds kept back for the rotation step (seed, rotate per batch size, verify, drop)."""
    if not args.rotation:
        return 0.0
    return 30.0 + args.rotation_keys * (25 + 45 * len(args.rotation_batch_sizes)) / 1_000_000


def dsar_reserve(args: argparse.Namespace) -> float:
    """Seconds kept back for the DSAR step (seed the shop, single requests, queued requests)."""
    if not args.dsar:
        return 0.0
    return 60.0 + args.dsar_customers * 60 / 1_000_000 + args.dsar_requests * 0.25


def retention_reserve(args: argparse.Namespace) -> float:
    """Seconds kept back for the retention step (seed, clones, the contenders, checks, drops)."""
    if not args.retention:
        return 0.0
    return 60.0 + args.retention_rows * (10 + 2 * len(args.retention_baseline_batches)) / 1_000_000


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def measure(
    backend: backends.Backend,
    server: Gunicorn,
    settings: load.LoadSettings,
    wrk: str | None,
    out: Path,
    entry: dict[str, Any],
    batch_repeats: int,
    vault_tokens: int,
) -> None:
    ids_file = backend.data_dir / "subject-ids.txt"
    ids_file.write_text("\n".join(backend.subject_ids) + "\n")
    answer = load.probe(
        HOST,
        server.port,
        "/v1/decisions",
        {"subject_id": backend.subject_ids[0], "purpose": "newsletter"},
        backend.token,
    )
    log(f"  probe decision: {answer.get('reason')}")
    load.probe(
        HOST,
        server.port,
        "/v1/consents",
        {
            "subject": {"type": "device_id", "value": "bench-probe"},
            "decisions": [{"purpose": "analytics", "granted": True}],
            "channel": "api",
            "method": "api",
        },
        backend.token,
    )
    tokens_file = backend.data_dir / "vault-tokens.txt"
    entry["vault"] = _vault_tokens(backend, server, tokens_file, vault_tokens)

    def run(scenario: str, phase: str, seconds: float) -> dict[str, Any]:
        env = {
            "BENCH_TOKEN": backend.token,
            "BENCH_IDS_FILE": str(ids_file),
            "BENCH_TOKENS_FILE": str(tokens_file),
            "BENCH_PREFIX": f"{backend.name}-{scenario}-{phase}",
        }
        figure = load.run_load(
            wrk=wrk,
            scenario=scenario,
            base_url=server.base_url,
            seconds=seconds,
            settings=settings,
            env=env,
            raw_path=out / f"{backend.name}-{scenario}-{phase}.txt",
            server_cpu=server.cpu_seconds,
        )
        figure.pop("raw", None)
        return figure

    def show(scenario: str, figure: dict[str, Any]) -> None:
        log(
            f"  {scenario}: {figure['rps']:,.0f} req/s, p50 {figure['p50_ms']:.2f} ms, "
            f"p99 {figure['p99_ms']:.2f} ms, errors {figure['errors']} ({figure['non_2xx']} non-2xx), "
            f"server CPU {figure.get('server_cpu_ms_per_req', 0):.2f} ms/req, "
            f"other processes {figure['other_cpu_pct']:.0f}% CPU"
        )

    # Health, decisions and the two vault calls alternate in short rounds (forwards in even
    # rounds, backwards in odd ones) so that other load on the machine hits them all alike.
    for scenario in ROUND_SCENARIOS:
        run(scenario, "warmup", settings.warmup)
    rounds: dict[str, list[dict[str, Any]]] = {scenario: [] for scenario in ROUND_SCENARIOS}
    per_round = max(1.0, settings.duration / settings.rounds)
    for r in range(settings.rounds):
        for scenario in ROUND_SCENARIOS if r % 2 == 0 else ROUND_SCENARIOS[::-1]:
            rounds[scenario].append(run(scenario, f"round{r + 1}", per_round))
    for scenario in ROUND_SCENARIOS:
        entry[scenario] = load.combine(rounds[scenario])
        show(scenario, entry[scenario])
    if entry["health"]["rps"]:
        for scenario, prefix in (
            ("decisions", ""),
            ("vault_encrypt", "encrypt_"),
            ("vault_decrypt", "decrypt_"),
        ):
            target = entry if scenario == "decisions" else entry["vault"]
            per_pair = [
                x["rps"] / h["rps"]
                for h, x in zip(rounds["health"], rounds[scenario], strict=True)
                if h["rps"]
            ]
            target[prefix + "ratio"] = round(entry[scenario]["rps"] / entry["health"]["rps"], 3)
            target[prefix + "ratio_rounds"] = [round(x, 3) for x in per_pair]
            log(
                f"  {scenario}/health ratio: {target[prefix + 'ratio']:.2f} "
                f"(rounds: {', '.join(f'{x:.2f}' for x in per_pair)})"
            )
    health_cpu = entry["health"].get("server_cpu_ms_per_req")
    for scenario, target, key in (
        ("decisions", entry, "cpu_ratio"),
        ("vault_encrypt", entry["vault"], "encrypt_cpu_ratio"),
        ("vault_decrypt", entry["vault"], "decrypt_cpu_ratio"),
    ):
        cpu = entry[scenario].get("server_cpu_ms_per_req")
        if health_cpu and cpu:
            target[key] = round(health_cpu / cpu, 3)
    entry["vault"]["access_log"] = _access_log(backend, server)
    run("consents", "warmup", settings.warmup)
    entry["consents"] = run("consents", "measure", settings.duration)
    show("consents", entry["consents"])
    ids = backend.subject_ids[:BATCH_SIZE]
    if len(ids) < BATCH_SIZE:
        entry["batch_note"] = f"only {len(ids):,} distinct seeded ids; the list repeats them"
        ids = [ids[i % len(ids)] for i in range(BATCH_SIZE)]
    entry["batch"] = load.batch(HOST, server.port, backend.token, ids, "newsletter", batch_repeats)
    log(
        f"  batch: {entry['batch']['subjects_per_s']:,.0f} subjects/s (median {entry['batch']['median_s']} s)"
    )


def _vault_tokens(backend: backends.Backend, server: Gunicorn, path: Path, count: int) -> dict[str, Any]:
    """Vault tokens for seeded subjects that granted the newsletter, written to ``path``; one
    decrypt for the newsletter must answer 200 with the sealed value before the load starts."""
    subject_ids = backend.granted_ids[:count]
    if not subject_ids:
        raise RuntimeError("no seeded subject granted the newsletter; nothing to decrypt")
    started = time.perf_counter()
    tokens = load.vault_tokens(HOST, server.port, backend.token, subject_ids)
    seconds = time.perf_counter() - started
    path.write_text("\n".join(tokens) + "\n")
    answer = load.probe(
        HOST, server.port, "/v1/vault/decrypt", {"token": tokens[0], "purpose": "newsletter"}, backend.token
    )
    if answer.get("value") != "person-0@example.org":
        raise RuntimeError(f"the probe decrypt answered {answer!r}")
    log(f"  vault: {len(tokens):,} tokens of granting subjects in {seconds:.1f} s; probe decrypt 200")
    return {
        "tokens": len(tokens),
        "token_seconds": round(seconds, 2),
        "probe": {"status": 200, "reason": answer.get("reason")},
    }


def _access_log(backend: backends.Backend, server: Gunicorn) -> dict[str, Any]:
    """The vault access log after the decrypt load: its length and whether its chain verifies."""
    import http.client

    conn = http.client.HTTPConnection(HOST, server.port, timeout=120)
    try:
        started = time.perf_counter()
        conn.request(
            "GET", "/v1/vault/access-log/verify", headers={"Authorization": f"Bearer {backend.token}"}
        )
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        return {"status": response.status}
    result = json.loads(body)
    result["seconds"] = round(time.perf_counter() - started, 2)
    log(f"  vault access log: {result}")
    return result


def run_backend(
    name: str,
    args: argparse.Namespace,
    settings: load.LoadSettings,
    wrk: str | None,
    out: Path,
    deadline: float,
    backends_left: int,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "status": "failed"}
    backend: backends.Backend | None = None
    server: Gunicorn | None = None
    try:
        log(f"{name}: preparing")
        if name == "sqlite":
            backend = backends.sqlite_backend()
        else:
            backend = backends.postgres_backend(args.postgres_url)
        entry["version"] = backend.version
        backends.prepare(backend)
        entry["notes"] = backend.notes
        # load runs (4 scenarios in rounds, consents), batch, tokens, then the proof cost
        per_measure = 5 * (settings.warmup + settings.duration + 4) + 45 + PROOF_BUDGET[args.quick] + 15
        budget = (deadline - time.monotonic() - backends_left * per_measure) / backends_left
        log(f"{name}: seeding {args.subjects:,} subjects (budget {max(budget, 10):.0f} s)")
        entry["seed_processes"] = 1 if name == "sqlite" else args.seed_processes
        processes = 1 if name == "sqlite" else args.seed_processes
        backends.seed(backend, args.subjects, max(budget, 10.0), processes)
        entry["seed"] = {
            "subjects": len(backend.subject_ids),
            "seconds": round(backend.seed_seconds, 1),
            "note": backend.seed_note,
        }
        log(f"{name}: seeded {len(backend.subject_ids):,} in {backend.seed_seconds:.1f} s; starting gunicorn")
        server = Gunicorn(backend.env, out / f"gunicorn-{name}.log")
        server.wait_healthy()
        measure(backend, server, settings, wrk, out, entry, args.batch_repeats, args.vault_tokens)
        server.stop()
        server = None
        log(f"{name}: proof sealing cost, in-process, on a fresh database")
        fresh = proofcost.fresh_backend(name, args.postgres_url)
        try:
            entry["proof_cost"] = proofcost.measure(fresh, args.proof_calls, 4, PROOF_BUDGET[args.quick], log)
        finally:
            problems = fresh.cleanup()
            if problems:
                entry.setdefault("cleanup_problems", []).extend(problems)
        entry["status"] = "ok"
    except backends.BackendUnavailable as exc:
        entry.update(status="skipped", error=str(exc))
        log(f"{name}: skipped: {exc}")
    except TimeLimit as exc:
        entry.update(status="failed", error=str(exc), time_limit=True)
        log(f"{name}: stopped: {exc}")
    except Exception as exc:  # noqa: BLE001 - one backend failing must not lose the other's figures
        entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (out / f"{name}-error.txt").write_text(traceback.format_exc())
        log(f"{name}: FAILED: {exc}")
    finally:
        if server is not None:
            server.stop()
        if backend is not None:
            problems = backend.cleanup()
            if problems:
                entry.setdefault("cleanup_problems", []).extend(problems)
    return entry


def run_rotation(args: argparse.Namespace, out: Path, deadline: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"keys": args.rotation_keys, "status": "failed", "quick": args.quick}
    try:
        rotation.measure(entry, args.postgres_url, args.rotation_batch_sizes, deadline - 20, log, out)
        entry["status"] = "ok"
    except backends.BackendUnavailable as exc:
        entry.update(status="skipped", error=str(exc))
        log(f"rotation: skipped: {exc}")
    except TimeLimit as exc:
        entry.update(status="failed", error=str(exc), time_limit=True)
        log(f"rotation: stopped: {exc}")
    except Exception as exc:  # noqa: BLE001 - report what was measured
        entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (out / "rotation-error.txt").write_text(traceback.format_exc())
        log(f"rotation: FAILED: {exc}")
    return entry


def run_dsar(args: argparse.Namespace, out: Path, deadline: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "customers": args.dsar_customers,
        "repeats": 5,
        "queued_requests": args.dsar_requests,
        "status": "failed",
        "quick": args.quick,
    }
    try:
        dsar.measure(entry, args.postgres_url, args.broker_url, deadline - 20, log, out)
        entry["status"] = "ok"
    except backends.BackendUnavailable as exc:
        entry.update(status="skipped", error=str(exc))
        log(f"dsar: skipped: {exc}")
    except TimeLimit as exc:
        entry.update(status="failed", error=str(exc), time_limit=True)
        log(f"dsar: stopped: {exc}")
    except Exception as exc:  # noqa: BLE001 - report what was measured
        entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (out / "dsar-error.txt").write_text(traceback.format_exc())
        log(f"dsar: FAILED: {exc}")
    return entry


def run_retention(args: argparse.Namespace, out: Path, deadline: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "rows": args.retention_rows,
        "expired": args.retention_rows // retention.EXPIRED_EVERY,
        "baseline_batches": args.retention_baseline_batches,
        "status": "failed",
        "quick": args.quick,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.run"
        + (" --retention-only" if args.retention_only else "")
        + (" --quick" if args.quick else ""),
    }
    try:
        retention.measure(entry, args.postgres_url, args.retention_baseline_batches, deadline - 20, log, out)
        entry["status"] = "ok"
    except backends.BackendUnavailable as exc:
        entry.update(status="skipped", error=str(exc))
        log(f"retention: skipped: {exc}")
    except TimeLimit as exc:
        entry.update(status="failed", error=str(exc), time_limit=True)
        log(f"retention: stopped: {exc}")
    except Exception as exc:  # noqa: BLE001 - report what was measured
        entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (out / "retention-error.txt").write_text(traceback.format_exc())
        log(f"retention: FAILED: {exc}")
    return entry


def run_banner(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": "failed", "quick": args.quick}
    try:
        banner.measure(entry, args.banner_loads, log, out)
        entry["status"] = "ok"
    except TimeLimit as exc:
        entry.update(status="failed", error=str(exc), time_limit=True)
        log(f"banner: stopped: {exc}")
    except BaseException as exc:  # noqa: BLE001 - also a missing Chromium (pytest's skip/fail outcome)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (out / "banner-error.txt").write_text(traceback.format_exc())
        log(f"banner: FAILED: {exc}")
    return entry


def main(argv: list[str] | None = None) -> int:
    import os

    args = parse_args(argv)
    args.postgres_url = args.postgres_url or os.environ.get("CONSENT_BENCH_POSTGRES_URL") or DEFAULT_PG
    started, started_wall = time.monotonic(), dt.datetime.now(dt.UTC)
    deadline = started + args.time_limit
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    signal.alarm(int(args.time_limit) + 15)
    out = RESULTS_DIR / started_wall.strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    settings = load.LoadSettings(
        args.duration, args.warmup, args.connections, args.threads, rounds=3 if args.quick else 5
    )
    wrk, wrk_note = (
        (None, "--python-load: figures come from bench.pyload") if args.python_load else load.ensure_wrk()
    )
    import gunicorn

    results: dict[str, Any] = {
        "date": started_wall.strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench"
        + (" (python -m bench.run --quick)" if args.quick else "")
        + (" (python -m bench.run --dsar-only)" if args.dsar_only else "")
        + (" (python -m bench.run --retention-only)" if args.retention_only else "")
        + (" (python -m bench.run --banner-only)" if args.banner_only else ""),
        "quick": args.quick,
        "commit": report.git_commit(backends.REPO),
        "machine": report.machine(),
        "versions": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "gunicorn": gunicorn.__version__,
        },
        "load_tool": load.wrk_version(wrk)
        if wrk
        else "Python fallback (bench.pyload, threads + http.client)",
        "settings": {
            "workers": 2,
            "connections": args.connections,
            "threads": args.threads,
            "warmup": args.warmup,
            "duration": args.duration,
            "rounds": settings.rounds,
            "subjects": args.subjects,
            "batch_size": BATCH_SIZE,
            "batch_repeats": args.batch_repeats,
            "vault_tokens": args.vault_tokens,
            "proof_calls": args.proof_calls,
            "time_limit": args.time_limit,
        },
        "notes": [],
        "backends": [],
    }
    if wrk_note:
        results["notes"].append(wrk_note)
    if (results["machine"]["nproc"] or 0) <= 4:
        results["notes"].append(
            f"Only {results['machine']['nproc']} CPUs: wrk, 2 gunicorn workers and the database share them, "
            "so absolute rates are lower than with a separate load machine; the decisions ÷ health ratio "
            "is the figure that transfers."
        )
    code = 0
    log(f"results in {out}; load generator: {results['load_tool']}")
    stopped = False
    try:
        for index, name in enumerate(args.backends):
            entry = run_backend(
                name,
                args,
                settings,
                wrk,
                out,
                deadline - rotation_reserve(args) - dsar_reserve(args) - retention_reserve(args),
                len(args.backends) - index,
            )
            results["backends"].append(entry)
            if entry["name"] == "postgresql" and entry.get("version"):
                results["versions"]["postgresql"] = entry["version"]
            if entry["status"] == "failed":
                code = 1
            _write(results, out, args, started)
            if entry.get("time_limit"):
                results["notes"].append(
                    f"Stopped early: the run reached --time-limit {args.time_limit:.0f} s."
                )
                stopped = True
                break
        if args.rotation and not stopped:
            results["rotation"] = run_rotation(
                args, out, deadline - dsar_reserve(args) - retention_reserve(args)
            )
            if results["rotation"]["status"] == "failed":
                code = 1
            if results["rotation"].get("time_limit"):
                results["notes"].append(
                    f"Stopped early: the run reached --time-limit {args.time_limit:.0f} s."
                )
        if args.dsar and not stopped and not (results.get("rotation") or {}).get("time_limit"):
            results["dsar"] = run_dsar(args, out, deadline - retention_reserve(args))
            if results["dsar"].get("version"):
                results["versions"].setdefault("postgresql", results["dsar"]["version"])
            if results["dsar"]["status"] == "failed":
                code = 1
            if results["dsar"].get("time_limit"):
                results["notes"].append(
                    f"Stopped early: the run reached --time-limit {args.time_limit:.0f} s."
                )
                stopped = True
        if args.retention and not stopped and not (results.get("rotation") or {}).get("time_limit"):
            results["retention"] = run_retention(args, out, deadline)
            if results["retention"].get("version"):
                results["versions"].setdefault("postgresql", results["retention"]["version"])
            if results["retention"]["status"] == "failed":
                code = 1
            if results["retention"].get("time_limit"):
                results["notes"].append(
                    f"Stopped early: the run reached --time-limit {args.time_limit:.0f} s."
                )
        if args.banner and not stopped:
            results["banner"] = run_banner(args, out)
            if results["banner"]["status"] == "failed":
                code = 1
    except TimeLimit:
        results["notes"].append(f"Stopped early: the run reached --time-limit {args.time_limit:.0f} s.")
        code = 1
    finally:
        signal.alarm(0)
    for entry in results["backends"]:
        if entry.get("batch_note"):
            results["notes"].append(f"{entry['name']} batch: {entry['batch_note']}.")
    _write(results, out, args, started)
    log(
        f"done in {time.monotonic() - started:.0f} s; wrote {out / 'results.json'}"
        + ("" if args.no_docs else f" and {DOCS}")
    )
    return code


def _write(results: dict[str, Any], out: Path, args: argparse.Namespace, started: float) -> None:
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    for entry in results["backends"]:
        entry["targets"] = report.evaluate(entry)
    if results.get("rotation"):
        results["rotation"]["targets"] = report.evaluate_rotation(results["rotation"])
    if results.get("dsar"):
        results["dsar"]["targets"] = report.evaluate_dsar(results["dsar"])
    if results.get("retention"):
        results["retention"]["targets"] = report.evaluate_retention(results["retention"])
    if results.get("banner"):
        results["banner"]["targets"] = report.evaluate_banner(results["banner"])
    text = json.dumps(results, indent=2, default=str)
    (out / "results.json").write_text(text + "\n")
    (RESULTS_DIR / "latest.json").write_text(text + "\n")
    if args.no_docs:
        return
    if args.partial and DOCS.exists():
        # one step alone: replace its own section(s) and leave the rest of the page as it is
        DOCS.write_text(report.merge(DOCS.read_text(), results))
    else:  # the benchmarks measured alone (segments, imports, stats, writes, proofs) keep theirs
        old = DOCS.read_text() if DOCS.exists() else ""
        page = report.markdown(results)
        for heading in (
            segments.SECTION,
            imports.SECTION,
            stats_bench.SECTION,
            writes.SECTION,
            proofs.SECTION,
        ):
            page = standalone.keep_section(old, page, heading)
        DOCS.write_text(page)


if __name__ == "__main__":
    sys.exit(main())
