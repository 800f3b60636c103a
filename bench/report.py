"""Machine facts and the Markdown report (docs/benchmarks.md) from one run's results."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

TARGETS = {
    "ratio": 0.75,  # decisions/s ÷ health/s, same server, same run
    "consents_rps": 2000.0,  # on SQLite
    "consents_p99_ms": 25.0,  # on SQLite
    "batch_subjects_per_s": 200_000.0,
}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    ram_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "cpu_model": model or "unknown",
        "ram_gib": round(ram_gib, 1),
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
    }


def git_commit(repo: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        )
        commit = done.stdout.strip() or "unknown"
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit + (" plus uncommitted changes" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _status(ok: bool | None, informational: bool = False) -> str:
    if ok is None:
        return "n/a"
    text = "met" if ok else "**not met**"
    return f"{text} (info)" if informational else text


def _load_cell(fig: dict[str, Any] | None) -> str:
    if not fig:
        return "not measured"
    cell = f"{fig['rps']:,.0f} req/s; p50 {fig['p50_ms']:.2f} ms, p99 {fig['p99_ms']:.2f} ms"
    if fig["errors"]:
        cell += f"; **{fig['errors']:,} errors** ({fig['non_2xx']:,} non-2xx)"
    return cell


def _valid(fig: dict[str, Any] | None) -> bool:
    return bool(fig) and fig["requests"] > 0 and fig["errors"] <= 0.01 * fig["requests"]  # type: ignore[index]


def evaluate(entry: dict[str, Any]) -> dict[str, bool | None]:
    """Which targets one backend met (None: not measured or the run had too many errors)."""
    health, decisions, consents, batch = (entry.get(k) for k in ("health", "decisions", "consents", "batch"))
    out: dict[str, bool | None] = {"ratio": None, "consents_rps": None, "consents_p99": None, "batch": None}
    if _valid(health) and _valid(decisions):
        out["ratio"] = entry["ratio"] >= TARGETS["ratio"]
    if _valid(consents):
        out["consents_rps"] = consents["rps"] >= TARGETS["consents_rps"]  # type: ignore[index]
        out["consents_p99"] = consents["p99_ms"] < TARGETS["consents_p99_ms"]  # type: ignore[index]
    if batch:
        out["batch"] = batch["subjects_per_s"] >= TARGETS["batch_subjects_per_s"]
    return out


def _processes(n: int) -> str:
    return "1 process" if n == 1 else f"{n} processes in parallel"


def _backend_section(entry: dict[str, Any]) -> list[str]:
    title = {"sqlite": "SQLite (embedded default)", "postgresql": "PostgreSQL"}.get(
        entry["name"], entry["name"]
    )
    lines = [f"### {title}", ""]
    if entry.get("version"):
        lines.append(f"Server: {entry['version']}.")
    if entry["status"] != "ok":
        lines += ["", f"**{entry['status']}**: {entry.get('error', '')}", ""]
    seed = entry.get("seed")
    if seed:
        lines.append(
            f"Seeded {seed['subjects']:,} subjects (newsletter granted for 3 in 4, analytics granted; "
            f"one `record_consent` call each, {_processes(entry.get('seed_processes', 1))}) in {seed['seconds']:.1f} s "
            f"({seed['subjects'] / seed['seconds'] if seed['seconds'] else 0:,.0f}/s)."
            + (f" {seed['note']}." if seed.get("note") else "")
        )
    lines.append("")
    if not any(entry.get(k) for k in ("health", "decisions", "consents", "batch")):
        return lines
    ev = evaluate(entry)
    info = entry["name"] != "sqlite"
    ratio = entry.get("ratio")
    batch = entry.get("batch")
    batch_cell = "not measured"
    if batch:
        batch_cell = (
            f"{batch['subjects_per_s']:,.0f} subjects/s (median {batch['median_s'] * 1000:.0f} ms "
            f"for {batch['subjects']:,} ids, {len(batch['times_s'])} requests)"
        )
    lines += [
        "| Measure | Result | Target | Status |",
        "|---|---|---|---|",
        f"| `GET /health` (baseline) | {_load_cell(entry.get('health'))} | — | — |",
        f"| `POST /v1/decisions` | {_load_cell(entry.get('decisions'))} | — | — |",
        f"| decisions ÷ health | {ratio:.2f} (rounds: {', '.join(f'{x:.2f}' for x in entry.get('ratio_rounds', []))}) "
        f"| ≥ {TARGETS['ratio']:.2f} | {_status(ev['ratio'])} |"
        if ratio is not None
        else f"| decisions ÷ health | not measured | ≥ {TARGETS['ratio']:.2f} | n/a |",
        (
            f"| health ÷ decisions server CPU per request | {entry['cpu_ratio']:.2f} "
            f"({entry['health']['server_cpu_ms_per_req']:.2f} ÷ {entry['decisions']['server_cpu_ms_per_req']:.2f} ms) "
            f"| ≥ {TARGETS['ratio']:.2f} (proxy) | {_status(entry['cpu_ratio'] >= TARGETS['ratio'])} (proxy) |"
            if entry.get("cpu_ratio")
            else "| health ÷ decisions server CPU per request | not measured | — | n/a |"
        ),
        f"| `POST /v1/consents` (1 decision, new subject) | {_load_cell(entry.get('consents'))} "
        f"| ≥ {TARGETS['consents_rps']:,.0f} req/s{' (SQLite target)' if info else ''} "
        f"| {_status(ev['consents_rps'], info)} |",
        "| `POST /v1/consents` p99 | "
        + (f"{entry['consents']['p99_ms']:.2f} ms" if entry.get("consents") else "not measured")
        + f" | < {TARGETS['consents_p99_ms']:.0f} ms{' (SQLite target)' if info else ''} "
        f"| {_status(ev['consents_p99'], info)} |",
        f"| `POST /v1/decisions/batch` | {batch_cell} | ≥ {TARGETS['batch_subjects_per_s']:,.0f} subjects/s "
        f"| {_status(ev['batch'])} |",
        "",
    ]
    cpu = [
        f"{label} {entry[k]['server_cpu_ms_per_req']:.2f} ms"
        for k, label in (("health", "health"), ("decisions", "decisions"), ("consents", "consents"))
        if entry.get(k) and entry[k].get("server_cpu_ms_per_req")
    ]
    if cpu:
        line = f"Server CPU per request (gunicorn master + workers): {', '.join(cpu)}"
        if entry.get("cpu_ratio"):
            line += f"; health ÷ decisions CPU = {entry['cpu_ratio']:.2f} (the ratio free of CPU contention)"
        lines += [line + ".", ""]
    other = [
        f"{k} {entry[k]['other_cpu_pct']:.0f}%"
        for k in ("health", "decisions", "consents")
        if entry.get(k) and "other_cpu_pct" in entry[k]
    ]
    if other:
        lines += [
            "Share of all CPUs used by other processes during each run"
            + (" (including the PostgreSQL server)" if entry["name"] == "postgresql" else "")
            + f": {', '.join(other)}.",
            "",
        ]
    if batch and batch.get("reasons"):
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(batch["reasons"].items()))
        lines += [f"Batch answers: {reasons}.", ""]
    busy = max(
        (entry[k].get("other_cpu_pct", 0) for k in ("health", "decisions", "consents") if entry.get(k)),
        default=0,
    )
    if busy > 10:
        lines += [
            f"**Other processes used up to {busy:.0f}% of the CPUs during these runs**, so the rates and "
            "the throughput ratio are disturbed (see the per-round ratios); the server CPU per request "
            "is not, which is why its ratio is shown as a proxy.",
            "",
        ]
    for note in entry.get("notes") or []:
        lines += [f"Note: {note}.", ""]
    return lines


def markdown(results: dict[str, Any]) -> str:
    m, v, s = results["machine"], results["versions"], results["settings"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python -m bench.run`); this page is rewritten by every run, the raw",
        "figures of each run are kept in `bench/results/` (not in git). A benchmark, not a test: nothing",
        "here is asserted by `make test`.",
        "",
        f"- Date: {results['date']} (run took {results.get('elapsed_s', 0):.0f} s"
        + (", `--quick`" if results.get("quick") else "")
        + ")",
        f"- Command: `{results['command']}`"
        + (f" (commit {results['commit']})" if results.get("commit") else ""),
        f"- Machine: {m['nproc']} CPUs (nproc), {m['cpu_model']}, {m['ram_gib']} GiB RAM, "
        f"Linux {m['kernel']}",
        f"- Versions: Python {v['python']}, SQLite {v['sqlite']}, "
        f"{v.get('postgresql') or 'PostgreSQL not measured'}, gunicorn {v['gunicorn']}, "
        f"load generator {results['load_tool']}",
        f"- Server: gunicorn, {s['workers']} sync workers, access log off, on 127.0.0.1; "
        f"the load generator runs on the same machine as a separate process",
        f"- Load: {s['connections']} connections, {s['threads']} threads, {s['warmup']:.0f} s warm-up then "
        f"{s['duration']:.0f} s per figure; health and decisions alternate in {s.get('rounds', 1)} rounds of "
        f"{s['duration'] / s.get('rounds', 1):.0f} s (rates over all rounds, p50 the median round, p99 the "
        f"worst round); batch: {s['batch_size']:,} subject ids per request, median of "
        f"{s['batch_repeats']} sequential requests after one warm-up",
        "",
        "Targets: decisions ÷ health ≥ 0.75 (the gate costs little more than a health check);",
        "`POST /v1/consents` ≥ 2,000/s with p99 < 25 ms on SQLite; batch ≥ 200,000 subjects/s.",
        "",
        "## Results",
        "",
    ]
    for entry in results["backends"]:
        lines += _backend_section(entry)
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    lines += [
        "## Running it",
        "",
        "`make bench` runs both backends in about 3–6 minutes and never more than 10 (`--time-limit`,",
        "default 570 s). `.venv/bin/python -m bench.run --quick` measures 3 s per figure with 10,000",
        "seeded subjects; `--backend sqlite` or `--backend postgresql` runs one backend. PostgreSQL is",
        "reached through the admin URL in `CONSENT_BENCH_POSTGRES_URL` (default",
        "`postgresql+psycopg://postgres@127.0.0.1:5432/postgres`, local hosts only); the bench creates a",
        "temporary database there and drops it at the end. Load comes from `wrk` (installed with",
        "apt-get when missing and running as root) or else from a Python load generator (`bench.pyload`,",
        "also forced with `--python-load`).",
        "Everything runs on 127.0.0.1; gunicorn is stopped and temporary directories and databases are",
        "removed even when a step fails.",
        "",
        "Reading the figures: the decisions ÷ health ratio compares two rates of the same server in the",
        "same run, measured in alternating rounds; on a machine that other work shares, the per-round",
        "ratios show how much it moved, and the server CPU per request (from /proc, gunicorn master and",
        "workers) gives the same comparison without the contention.",
        "",
    ]
    return "\n".join(lines).rstrip() + "\n"
