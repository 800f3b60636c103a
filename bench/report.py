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
    "vault_ratio": 0.6,  # vault encrypt/s (and decrypt/s) ÷ health/s, same server, same run
    "rotation_seconds": 300.0,  # keys rotate over 1,000,000 data keys on PostgreSQL
    "dsar_ratio": 2.0,  # run_request ÷ the hand-written SQL, one subject, access and erasure
    "retention_ratio": 0.5,  # sweeper rows/s ÷ hand-written batched DELETE rows/s, same run
    "retention_longest_ms": 200.0,  # the sweeper's longest single transaction
    "banner_gzip_bytes": 15_000,  # banner.js without any TCF part
    "banner_first_layer_ms": 100.0,  # DOMContentLoaded to the first layer, median of 20 loads
}
DSAR_TARGET_CUSTOMERS = 1_000_000
RETENTION_TARGET_ROWS = 10_000_000
SECTION_TITLES = {
    "dsar": "## Data subject requests (PostgreSQL)",
    "retention": "## Retention sweep (PostgreSQL)",
    "banner": "## Banner (headless Chromium)",
}
ROTATION_TARGET_KEYS = 1_000_000
LOAD_FIGURES = ("health", "decisions", "vault_encrypt", "vault_decrypt", "consents")


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


def machine_text(m: dict[str, Any]) -> str:
    """``machine()`` (as measured, or as a run kept it) in one phrase for a section's first line."""
    return (
        f"machine: {m['nproc']} CPUs (nproc), {m['cpu_model']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
        f"Python {platform.python_version()}"
    )


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


def _load_cell(fig: dict[str, Any] | None, always_status: bool = False) -> str:
    if not fig:
        return "not measured"
    cell = f"{fig['rps']:,.0f} req/s; p50 {fig['p50_ms']:.2f} ms, p99 {fig['p99_ms']:.2f} ms"
    if fig["errors"]:
        cell += f"; **{fig['errors']:,} errors** ({fig['non_2xx']:,} non-2xx)"
    elif always_status:
        cell += f"; {fig['requests']:,} requests, 0 non-2xx"
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
    vault = entry.get("vault") or {}
    for name in ("encrypt", "decrypt"):
        out[f"vault_{name}"] = None
        if _valid(health) and _valid(entry.get(f"vault_{name}")) and vault.get(f"{name}_ratio") is not None:
            out[f"vault_{name}"] = vault[f"{name}_ratio"] >= TARGETS["vault_ratio"]
    return out


def evaluate_rotation(entry: dict[str, Any]) -> dict[str, bool | None]:
    """The rotation target (under 5 minutes for 1,000,000 keys, with every key re-wrapped and the
    sample unwrapping) judged on the default batch size run; None when not measured at full size."""
    runs = entry.get("runs") or []
    if not runs:
        return {"rotation": None}
    first = runs[0]
    correct = first.get("all_on_current") and first.get("sample", {}).get("ok")
    if not correct:
        return {"rotation": False}
    if entry["keys"] < ROTATION_TARGET_KEYS:
        return {"rotation": None}
    return {"rotation": first["seconds"] < TARGETS["rotation_seconds"]}


def evaluate_dsar(entry: dict[str, Any]) -> dict[str, bool | None]:
    """Service ≤ 2× the hand-written SQL, for access and for erasure (not judged with --quick)."""
    single = entry.get("single") or {}
    out: dict[str, bool | None] = {}
    for kind in ("access", "erasure"):
        ratio = (single.get(kind) or {}).get("ratio")
        out[f"{kind}_ratio"] = None if ratio is None else ratio <= TARGETS["dsar_ratio"]
    check = single.get("erasure_check")
    out["erasure_check"] = (
        None
        if not check
        else check["customer_rows"] == 0 and check["item_rows"] == 0 and check["orders_kept_cleared"] == 2
    )
    throughput = entry.get("throughput") or {}
    if throughput.get("seconds") is not None:
        out["queued_all_completed"] = throughput.get("completed") == throughput.get("requests")
    return out


def evaluate_retention(entry: dict[str, Any]) -> dict[str, bool | None]:
    """Sweeper ≥ 0.5× the hand-written DELETE's rows/s and its longest transaction < 200 ms; the
    end state must be the same in every database (9 in 10 rows left, none due)."""
    sweeper = entry.get("sweeper") or {}
    out: dict[str, bool | None] = {"ratio": None, "longest_transaction": None, "end_state": None}
    if entry.get("ratio") is not None:
        out["ratio"] = entry["ratio"] >= TARGETS["retention_ratio"]
    if sweeper.get("longest_transaction_ms") is not None:
        out["longest_transaction"] = sweeper["longest_transaction_ms"] < TARGETS["retention_longest_ms"]
    if entry.get("end_state_ok") is not None:
        out["end_state"] = bool(entry["end_state_ok"])
    return out


def evaluate_banner(entry: dict[str, Any]) -> dict[str, bool | None]:
    if entry.get("status") != "ok":
        return {"gzip": None, "first_layer": None}
    return {
        "gzip": entry["gzip_bytes"] <= TARGETS["banner_gzip_bytes"],
        "first_layer": entry["first_layer_ms"]["median"] <= TARGETS["banner_first_layer_ms"],
    }


def _banner_section(entry: dict[str, Any], results: dict[str, Any]) -> list[str]:
    lines = [SECTION_TITLES["banner"], ""]
    lines += [
        f"Measured {results['date']} by `{results['command']}` on the machine above "
        f"(commit {results.get('commit', 'unknown')}).",
        "",
    ]
    if entry.get("status") != "ok":
        return lines + [f"Not measured: {entry.get('error', entry.get('status'))}", ""]
    ev = evaluate_banner(entry)
    first, base, offer = entry["first_layer_ms"], entry["baseline_ms"], entry.get("offer") or {}
    revalidated = offer.get("revalidated_status")
    lines += [
        "| figure | value | target |",
        "| --- | --- | --- |",
        f"| `banner.js` size | {entry['raw_bytes']:,} bytes, **{entry['gzip_bytes']:,} gzip** (level 9) | "
        f"≤ {TARGETS['banner_gzip_bytes']:,.0f} gzip {_met(ev['gzip'])} |",
        f"| first layer after DOMContentLoaded, `/demo`, empty profile, no cache | **median "
        f"{first['median']:.1f} ms** (p90 {first['p90']:.1f}, min {first['min']:.1f}, max {first['max']:.1f}; "
        f"{entry['loads']} loads) | ≤ {TARGETS['banner_first_layer_ms']:.0f} ms {_met(ev['first_layer'])} |",
        f"| baseline: one `fetch('/health')` + a frame, same page without the banner | median "
        f"{base['median']:.1f} ms (p90 {base['p90']:.1f}, min {base['min']:.1f}, max {base['max']:.1f}) | — |",
        f"| first layer ÷ baseline | **{entry['ratio']:.2f}** | — |",
        f"| the site's offer `GET /v1/public/sites/<key>` | ETag {'yes' if offer.get('etag') else 'no'}, "
        f"`Cache-Control: {offer.get('cache_control') or 'none'}`"
        + (f", revalidation answers {revalidated}" if revalidated else "")
        + " | one cacheable request |",
        "",
        "Headless Debian Chromium through selenium; gunicorn with 2 workers × 4 threads on SQLite; the",
        "banner and baseline loads alternate. The baseline is the floor of any banner that asks its",
        "server before it shows: the ratio says what the banner adds to that round trip (below 1: the",
        "deferred banner script asks for the site's offer before DOMContentLoaded, the baseline only at it).",
        "",
    ]
    return lines


def _spread_cell(spread: dict[str, Any], count: int | None) -> str:
    return (
        f"median {spread['median_transaction_ms']:.1f} ms, p90 {spread['p90_transaction_ms']:.1f} ms, "
        f"longest {spread['longest_transaction_ms']:.1f} ms (#{spread['longest_at']:,} of {count:,}), "
        f"{spread['over_200ms']:,} of 200 ms or more"
    )


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met: yes" if ok else "**met: no**")


def _retention_section(entry: dict[str, Any], results: dict[str, Any]) -> list[str]:
    rows, expired = entry["rows"], entry.get("expired", entry["rows"] // 10)
    m, v = results["machine"], results["versions"]
    judged = not entry.get("quick") and rows >= RETENTION_TARGET_ROWS
    lines = [SECTION_TITLES["retention"], ""]
    lines += [
        f"- Date: {entry.get('date') or results['date']}; command: "
        f"`{entry.get('command') or results['command']}`"
        + (f" (commit {results['commit']})" if results.get("commit") else ""),
        f"- Machine: {m['nproc']} CPUs (nproc), {m['cpu_model']}, {m['ram_gib']} GiB RAM, Linux "
        f"{m['kernel']}; Python {v['python']}, {entry.get('version') or 'PostgreSQL (not reached)'}",
        "",
        f"A temporary PostgreSQL database with `events(id bigint PRIMARY KEY, customer_id bigint, "
        f"payload text, created_at timestamp)` and an index on `created_at`: {rows:,} rows from "
        "`INSERT … SELECT generate_series`, every 10th id (so spread over the whole id range) created "
        f"3–4 years ago — {expired:,} rows older than the 2-year cutoff — the others within the last "
        "600 days; primary key and index built after the data, then `VACUUM ANALYZE`. It is "
        "cloned with `CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY` once per contender, so each "
        "starts from the same files. The contenders run one after another on one otherwise idle "
        "server (first baseline, then the sweeper, then the other baseline).",
        "",
        "- Baseline, hand-written: `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
        "created_at <= :cutoff LIMIT n)`, one transaction each (psycopg, one connection, commit after "
        "each), until a DELETE removes nothing; run with "
        + " and ".join(f"n = {b:,}" for b in entry.get("baseline_batches") or [])
        + ", each in its own clone; the faster of them is the baseline.",
        "- The sweeper: the clone registered as a sql store (`save_store`, collection `events`, "
        "`erase: delete`) and a rule `{period: P2Y, trigger: since_field created_at, action: delete}` "
        "(`put_rule`) in a fresh SQLite service database (`consent_service.migrate.upgrade`); "
        "`runs.run_now(ctx, dry_run=False, store='shop')` in-process, timed from call to return "
        "(run bookkeeping, audit log entry and all), adaptive batch size (about "
        f"{int(1000 * (entry.get('sweeper') or {}).get('target_batch_seconds', 0.1))} ms per "
        "transaction). Its longest transaction is the report's `longest_transaction_ms` (wall time "
        "of the longest `sweep_batch`, one statement on PostgreSQL: `DELETE … WHERE id IN (SELECT id "
        "… WHERE <due> AND id > :last ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED) AND <due> "
        "RETURNING id`). Before it, a `dry_run=True` preview is timed on its own.",
        "",
        "The sweeper walks forward by primary key, so each batch reads one stretch of the key index "
        "and the last batch does not scan the table again. The due rows here are spread evenly over "
        "the ids (every 10th); where they are rare in a long stretch of ids, one batch reads that "
        "whole stretch and takes longer.",
        "",
    ]
    if not judged:
        lines += [
            f"`--quick` or `--retention-rows`: {rows:,} rows instead of {RETENTION_TARGET_ROWS:,}; "
            "the targets are shown but not judged.",
            "",
        ]
    if entry["status"] != "ok":
        lines += [f"**{entry['status']}**: {entry.get('error', '')}", ""]
    seed = entry.get("seed")
    if seed:
        clones = entry.get("clones") or []
        lines += [
            f"Seed: {rows:,} rows in {seed['seconds']:.1f} s (insert {seed['insert_s']:.1f} s, primary "
            f"key and index {seed['index_s']:.1f} s, `VACUUM ANALYZE` {seed['vacuum_s']:.1f} s); database "
            f"{seed['size_mb']:,.0f} MB, payload {seed['payload_bytes']:.0f} bytes on average. "
            + (
                "Clones (`CREATE DATABASE … TEMPLATE`): "
                + ", ".join(f"{c['seconds']:.1f} s ({c['for']})" for c in clones)
                + "."
                if clones
                else ""
            ),
            "",
        ]
    ev = evaluate_retention(entry)
    sweeper = entry.get("sweeper") or {}
    runs = entry.get("baseline_runs") or []
    best = entry.get("baseline") or {}
    if runs or sweeper.get("seconds") is not None:
        lines += ["| Measure | Result | Target | Status |", "|---|---|---|---|"]
        for run in runs:
            chosen = " — **the baseline**" if run is best or run == best else ""
            lines.append(
                f"| hand-written `DELETE … LIMIT {run['batch_size']:,}`{chosen} | {run['deleted']:,} rows "
                f"in {run['seconds']:.2f} s, **{run['rows_per_s']:,.0f} rows/s**; "
                f"{run['transactions']:,} transactions: {_spread_cell(run, run['transactions'])} | — | — |"
            )
        if sweeper.get("seconds") is not None:
            batch_rows = sweeper.get("batch_rows") or {}
            lines.append(
                f"| `runs.run_now` | {sweeper['deleted']:,} rows in {sweeper['seconds']:.2f} s, "
                f"**{sweeper['rows_per_s']:,.0f} rows/s**; {sweeper['batches']:,} batches"
                + (
                    f" (rows per batch: median {batch_rows['median']:,}, largest {batch_rows['max']:,})"
                    if batch_rows
                    else ""
                )
                + f", run {sweeper['state']}, errors {len(sweeper.get('errors') or [])}"
                + (
                    f"; time per batch (transaction and bookkeeping, from the progress calls): "
                    f"{_spread_cell(sweeper['batch_interval'], sweeper['batches'])}"
                    if sweeper.get("batch_interval")
                    else ""
                )
                + " | — | — |"
            )
        if entry.get("ratio") is not None:
            lines.append(
                f"| sweeper ÷ baseline rows/s | {entry['ratio']:.2f} ({sweeper['rows_per_s']:,.0f} ÷ "
                f"{best['rows_per_s']:,.0f}, baseline batch {best['batch_size']:,}) "
                f"| ≥ {TARGETS['retention_ratio']:.1f} | {_met(ev['ratio'])}"
                + ("" if judged else " (not judged)")
                + " |"
            )
        if sweeper.get("longest_transaction_ms") is not None:
            lines.append(
                f"| sweeper's longest single transaction | {sweeper['longest_transaction_ms']:.1f} ms "
                f"| < {TARGETS['retention_longest_ms']:.0f} ms | {_met(ev['longest_transaction'])}"
                + ("" if judged else " (not judged)")
                + " |"
            )
        if sweeper.get("dry_run_seconds") is not None:
            lines.append(
                f"| `run_now(dry_run=True)` preview (due count) | {sweeper['dry_run_seconds']:.2f} s, "
                f"{sweeper['dry_run']['candidates']:,} due | — (measured) | — |"
            )
        states = entry.get("end_state") or {}
        if states:
            left = ", ".join(
                f"{label}: {s['rows']:,} rows, {s['due_left']:,} due" for label, s in states.items()
            )
            lines.append(
                f"| end state (rows left, rows at or before the cutoff; ids compared by count, sum, "
                f"min, max) | {left} | {entry.get('expected_rows', 0):,} rows, 0 due, the same ids in "
                f"all | {_met(ev['end_state'])} |"
            )
        lines.append("")
    if entry.get("skipped"):
        lines += [f"Not run for lack of time: {', '.join(entry['skipped'])}.", ""]
    last = [
        label
        for label, spread, count in [
            (f"`DELETE … LIMIT {r['batch_size']:,}`", r, r["transactions"]) for r in runs
        ]
        + ([("the sweeper", sweeper.get("batch_interval") or {}, sweeper.get("batches"))] if sweeper else [])
        if spread.get("longest_at") and spread["longest_at"] == count
    ]
    if last:
        lines += [
            f"The longest transaction of {', '.join(last)} was the last one: the batch that finds fewer "
            "rows than its limit (or none), so it reads the rest of the table to be sure nothing is "
            "left. On this data PostgreSQL plans `WHERE created_at <= :cutoff LIMIT n` as a "
            "sequential scan (10 % of the rows qualify; seen with `EXPLAIN ANALYZE` while building "
            "this benchmark, not re-checked by each run); the other batches stay short, presumably "
            "because synchronized scans start each one where the previous one stopped.",
            "",
        ]
    lines += [
        "Options: `--no-retention` leaves the step out of `make bench`, `--retention-only` runs it "
        "alone and replaces only this section of the page; `--retention-rows` (default 10,000,000; "
        "`--quick` 1,000,000), `--retention-baseline-batches` (default 5000,20000).",
        "",
    ]
    for problem in entry.get("cleanup_problems") or []:
        lines += [f"Cleanup problem: {problem}.", ""]
    return lines


def _dsar_section(entry: dict[str, Any]) -> list[str]:
    customers = entry["customers"]
    lines = [SECTION_TITLES["dsar"], ""]
    lines.append(
        f"A shop in its own temporary PostgreSQL database: {customers:,} `customers(id, email, name)` "
        f"(index on email), {2 * customers:,} `orders(id, customer_id → customers.id, shipping_address)` "
        f"(index on customer_id), {4 * customers:,} `order_items(id, order_id → orders.id, product)` (index "
        "on order_id), filled with `INSERT … SELECT generate_series`, indexes and foreign keys added "
        "afterwards, then `VACUUM ANALYZE`. It is registered (`save_store`) as a sql store in the "
        "service database (another temporary PostgreSQL database, migrated with "
        "`consent_service.migrate.upgrade`, key file from `KeyMaterial.generate()`): customers found "
        "by `email`, `erase: delete`; orders by reference, `erase: update` with `customer_id` and "
        "`shipping_address` nullified (the order itself is kept); order_items by reference, "
        "`erase: delete`."
        + (
            f" `--quick`: {customers:,} customers instead of {DSAR_TARGET_CUSTOMERS:,} and "
            f"{entry.get('queued_requests', 0):,} queued requests; the 2× target is not judged."
            if entry.get("quick") or customers < DSAR_TARGET_CUSTOMERS
            else ""
        )
    )
    lines.append("")
    if entry.get("version"):
        lines += [f"Server: {entry['version']}.", ""]
    if entry["status"] != "ok":
        lines += [f"**{entry['status']}**: {entry.get('error', '')}", ""]
    if entry.get("seed_seconds") is not None:
        lines += [f"Shop seeded and indexed in {entry['seed_seconds']:.1f} s.", ""]
    judged = not entry.get("quick") and customers >= DSAR_TARGET_CUSTOMERS
    ev = evaluate_dsar(entry)
    single = entry.get("single") or {}
    if single.get("access") and single.get("erasure"):
        n = single["repeats"]
        lines += [
            f"One subject at a time, median of {n} customers each (after one warm-up of each kind): "
            "a request is opened and DPO-verified (`open_request`, `{method: dpo}`; median "
            f"{single['open_verify_ms']:.1f} ms, not counted), then `run_request` is timed in-process. "
            "The hand-written SQL runs on other customers of the same shop in the same loop, on one "
            "connection kept open (as an application would), and again on a fresh connection each "
            "time: access is the three SELECTs (customer by email → orders → items); erasure is "
            "`DELETE` items, `UPDATE` orders, `DELETE` the customer in one transaction.",
            "",
            "| Measure | run_request | Hand-written SQL (open connection) | Ratio | Target | Status "
            "| SQL with a new connection |",
            "|---|---|---|---|---|---|---|",
        ]
        for kind in ("access", "erasure"):
            f = single[kind]
            status = _status(ev[f"{kind}_ratio"]) if judged else "not judged (--quick)"
            lines.append(
                f"| {kind.capitalize()}, one subject (7 rows) | {f['service_ms']:.1f} ms | {f['sql_ms']:.2f} ms "
                f"| {f['ratio']:.1f}× | ≤ {TARGETS['dsar_ratio']:.0f}× | {status} "
                f"| {f.get('sql_connect_ms', 0):.1f} ms |"
            )
        check = single.get("erasure_check")
        if check:
            lines.append(
                f"| After the service's erasure: customer rows, item rows, orders kept with customer and "
                f"address cleared | {check['customer_rows']}, {check['item_rows']}, "
                f"{check['orders_kept_cleared']} | — | — | 0, 0, 2 | {_status(ev['erasure_check'])} | — |"
            )
        lines += [
            "",
            "Per-run times (ms): "
            + "; ".join(
                f"{kind} service {', '.join(f'{x:.1f}' for x in single[kind]['service_runs_ms'])}, "
                f"SQL {', '.join(f'{x:.2f}' for x in single[kind]['sql_runs_ms'])}"
                for kind in ("access", "erasure")
            )
            + ".",
            "",
            "What `run_request` does beyond the SQL: it moves the request to `in_progress` and back in "
            "their own transactions with audit-log entries for each transition and store outcome; "
            "unseals the store's connection and the request's identities (envelope encryption) and "
            "opens a new SQLAlchemy engine and connection to the shop for each run; reads every "
            "collection by the declared traversal and, for erasure, re-reads the rows before writing "
            "(idempotent re-runs); writes a `dsar_store_runs` row and, for erasure, a proof-of-erasure "
            "report (`dsar_reports`), then crypto-shreds the subject (data key destroyed, gate "
            "answers `erased`); for access it builds the package (JSON, HTML, CSV) and seals it under "
            "the subject's key. The hand-written SQL does none of this.",
            "",
        ]
    t = entry.get("throughput") or {}
    if t.get("seconds") is not None:
        status = _status(ev.get("queued_all_completed"))
        lines += [
            f"Queued erasures: {t['requests']:,} erasure requests for different customers opened and "
            f"DPO-verified in-process with `CONSENT_BROKER_URL={t['broker']}` (queue `{t['queue']}`, purged "
            f"before and after) and `jobs.install(ctx)`, so each is enqueued after commit "
            f"({t['open_seconds']:.1f} s, {t['open_per_s']:,.0f} requests/s). Then "
            f"`{t['command']}` is started and the service database polled every 0.25 s until all are "
            "`completed`; the time includes the workers' start-up. On start each worker process also "
            "runs `recover`, which re-enqueues every `verified` request, so each request gets up to "
            "two more messages; the duplicates find the request taken (advisory lock) or done.",
            "",
            "| Measure | Result | Target | Status |",
            "|---|---|---|---|",
            f"| {t['requests']:,} queued erasures, 2 worker processes | {t['seconds']:.1f} s, "
            f"**{t['requests_per_s']:.1f} requests/s** | — (measured) | {_status(None)} |",
        ]
        if t.get("steady_requests_per_s") is not None:
            lines.append(
                f"| after the first completion ({t['first_completed_s']:.1f} s in) | "
                f"{t['steady_requests_per_s']:.1f} requests/s | — | n/a |"
            )
        states = ", ".join(f"{k}: {v:,}" for k, v in sorted((t.get("states") or {}).items()))
        lines.append(f"| final states | {states} | all completed | {status} |")
        lines.append("")
        if t.get("timed_out"):
            lines += ["**Stopped at the step's time bound before all requests completed.**", ""]
        lines += ["The workers' output is in `bench/results/<run>/dsar-worker.txt`.", ""]
    for problem in entry.get("cleanup_problems") or []:
        lines += [f"Cleanup problem: {problem}.", ""]
    return lines


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
        f"| decisions ÷ health | {ratio:.3f} (rounds: {', '.join(f'{x:.2f}' for x in entry.get('ratio_rounds', []))}) "
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
        f"{k.replace('_', ' ')} {entry[k]['other_cpu_pct']:.0f}%"
        for k in LOAD_FIGURES
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
        (entry[k].get("other_cpu_pct", 0) for k in LOAD_FIGURES if entry.get(k)),
        default=0,
    )
    if busy > 10:
        lines += [
            f"**Other processes used up to {busy:.0f}% of the CPUs during these runs**, so the rates and "
            "the throughput ratio are disturbed (see the per-round ratios); the server CPU per request "
            "is not, which is why its ratio is shown as a proxy.",
            "",
        ]
    lines += _vault_section(entry, ev)
    for note in entry.get("notes") or []:
        lines += [f"Note: {note}.", ""]
    return lines


def _ratio_cell(ratio: float | None, rounds: list[float]) -> str:
    if ratio is None:
        return "not measured"
    return f"{ratio:.3f} (rounds: {', '.join(f'{x:.2f}' for x in rounds)})"


def _vault_section(entry: dict[str, Any], ev: dict[str, bool | None]) -> list[str]:
    """Vault encrypt/decrypt under load, and the in-process cost of sealing the consent proof."""
    vault, proof = entry.get("vault"), entry.get("proof_cost")
    if not vault and not proof:
        return []
    lines = ["#### Vault and proof encryption", ""]
    if vault:
        lines += [
            f"Vault tokens (`POST /v1/vault/encrypt/batch`, one e-mail address each) were made for "
            f"{vault.get('tokens', 0):,} seeded subjects that granted the newsletter; a probe "
            f"`POST /v1/vault/decrypt` for the newsletter answered {vault.get('probe', {}).get('status', '?')} "
            "before the load. Encrypt cycles through all seeded subjects; decrypt cycles through those "
            "tokens, so every answer should be a 200 with the value (and an access-log entry).",
            "",
            "| Measure | Result | Target | Status |",
            "|---|---|---|---|",
            f"| `POST /v1/vault/encrypt` | {_load_cell(entry.get('vault_encrypt'), always_status=True)} | — | — |",
            f"| `POST /v1/vault/decrypt` | {_load_cell(entry.get('vault_decrypt'), always_status=True)} | — | — |",
            f"| vault encrypt ÷ health | {_ratio_cell(vault.get('encrypt_ratio'), vault.get('encrypt_ratio_rounds', []))} "
            f"| ≥ {TARGETS['vault_ratio']:.2f} | {_status(ev.get('vault_encrypt'))} |",
            f"| vault decrypt ÷ health | {_ratio_cell(vault.get('decrypt_ratio'), vault.get('decrypt_ratio_rounds', []))} "
            f"| ≥ {TARGETS['vault_ratio']:.2f} | {_status(ev.get('vault_decrypt'))} |",
        ]
        for name in ("encrypt", "decrypt"):
            cpu = vault.get(f"{name}_cpu_ratio")
            if cpu:
                lines.append(
                    f"| health ÷ {name} server CPU per request | {cpu:.2f} "
                    f"({entry['health']['server_cpu_ms_per_req']:.2f} ÷ "
                    f"{entry[f'vault_{name}']['server_cpu_ms_per_req']:.2f} ms) "
                    f"| ≥ {TARGETS['vault_ratio']:.2f} (proxy) | {_status(cpu >= TARGETS['vault_ratio'])} (proxy) |"
                )
        lines.append("")
        decrypt = entry.get("vault_decrypt")
        if decrypt:
            ok = decrypt["requests"] - decrypt["non_2xx"]
            lines.append(
                f"Decrypt status mix: {decrypt['requests']:,} answers, {decrypt['non_2xx']:,} of them "
                f"non-2xx (wrk counts every status ≥ 400), so {ok:,} "
                f"({100 * ok / decrypt['requests'] if decrypt['requests'] else 0:.1f}%) were successful 200s"
                + (
                    f"; {decrypt['errors'] - decrypt['non_2xx']:,} socket errors or timeouts"
                    if decrypt["errors"] > decrypt["non_2xx"]
                    else ""
                )
                + "."
            )
        log = vault.get("access_log") or {}
        if "ok" in log:
            lines.append(
                f"Afterwards the vault access log held {log.get('events_checked', 0):,} entries and its "
                f"hash chain {'verified' if log['ok'] else '**did not verify**: ' + str(log.get('problem'))} "
                f"(`GET /v1/vault/access-log/verify`, {log.get('seconds', 0):.1f} s)."
            )
        elif log:
            lines.append(f"`GET /v1/vault/access-log/verify` answered {log.get('status')}.")
        lines.append("")
    if proof:
        sealed, plain = proof["sealed"], proof["plaintext"]
        consents = entry.get("consents")
        lines += [
            f"Consent-write cost of proof encryption, measured in-process (no HTTP) on a fresh database: "
            f"`record_consent` with one analytics decision for a new device id and a proof (ip, "
            f"user_agent, url), {sealed['calls']:,} calls with the proof sealed as the service does and "
            f"{plain['calls']:,} with `consent_service.ledger.service.seal` replaced in the bench process "
            f"by a function returning the plaintext (the service has no such switch), alternating in "
            f"{proof['rounds']} rounds after 50 warm-up calls each.",
            "",
            "| Measure | Result |",
            "|---|---|",
            f"| consent write, proof sealed | {sealed['per_s']:,.0f} writes/s "
            f"(rounds: {', '.join(f'{x:,.0f}' for x in sealed['per_s_rounds'])}); "
            f"{sealed['cpu_ms_per_call']:.2f} ms CPU per write in the bench process |",
            f"| consent write, proof in plaintext (bench-only patch) | {plain['per_s']:,.0f} writes/s "
            f"(rounds: {', '.join(f'{x:,.0f}' for x in plain['per_s_rounds'])}); "
            f"{plain['cpu_ms_per_call']:.2f} ms CPU per write |",
            f"| sealed ÷ plaintext rate | {_cost_cell(proof)} |",
            f"| one proof seal on its own (AES-256-GCM) | {proof.get('seal_us', 0):.1f} µs"
            + (
                f" ({proof['seal_us'] / 10 / sealed['cpu_ms_per_call']:.2f}% of the CPU of one write)"
                if proof.get("seal_us") and sealed["cpu_ms_per_call"]
                else ""
            )
            + " |",
            "| `POST /v1/consents` over HTTP, for context | "
            + (
                f"{consents['rps']:,.0f} req/s (from the table above; its body carries no proof, the "
                "service still seals the empty one)"
                if consents
                else "not measured"
            )
            + " |",
            "",
        ]
        if proof.get("note"):
            lines += [f"Proof cost: {proof['note']}.", ""]
    return lines


def _cost_cell(proof: dict[str, Any]) -> str:
    """The sealed ÷ plaintext ratio, read against how much the rounds of one mode vary."""
    ratio = proof.get("ratio")
    if not ratio:
        return "n/a"
    rounds = proof["sealed"]["per_s_rounds"] + proof["plaintext"]["per_s_rounds"]
    mean = sum(rounds) / len(rounds)
    spread = (max(rounds) - min(rounds)) / 2 / mean if mean else 0.0
    if abs(1 - ratio) <= spread:
        return (
            f"{ratio:.3f}: no measurable cost; the difference is within the round-to-round "
            f"variation (±{100 * spread:.0f}%)"
        )
    return f"{ratio:.3f}: sealing the proof costs {100 * (1 - ratio):.1f}% of the write rate"


def _rotation_section(entry: dict[str, Any]) -> list[str]:
    keys = entry["keys"]
    lines = ["## Key rotation (PostgreSQL)", ""]
    lines.append(
        f"`consent-service keys rotate` over {keys:,} data keys on a temporary PostgreSQL database "
        "(migrated with `consent_service.migrate.upgrade`, a key file from `KeyMaterial.generate()`), "
        "run as a subprocess with `CONSENT_DATABASE_URL`, `CONSENT_KEY_FILE` and `CONSENT_DATA_DIR`, "
        "its progress on stderr captured."
        + (
            f" `--quick`: {keys:,} keys instead of {ROTATION_TARGET_KEYS:,}; the 5-minute target is "
            "for 1,000,000 and is not judged."
            if keys < ROTATION_TARGET_KEYS
            else ""
        )
    )
    lines.append("")
    if entry.get("version"):
        lines += [f"Server: {entry['version']}.", ""]
    if entry["status"] != "ok":
        lines += [f"**{entry['status']}**: {entry.get('error', '')}", ""]
    if entry.get("seed_seconds") is not None:
        lines += [
            f"Seeded {keys:,} subjects and their data keys in {entry['seed_seconds']:.1f} s "
            f"({entry['seed_keys_per_s']:,.0f}/s): random 256-bit data keys wrapped in the bench process "
            'with `seal(kek, dek, b"dek|" + subject_id)` as `Crypto.new_data_key` does, loaded with '
            "PostgreSQL `COPY` (psycopg 3), then `ANALYZE`.",
            "",
        ]
    runs = entry.get("runs") or []
    if runs:
        ev = evaluate_rotation(entry)
        lines += ["| Measure | Result | Target | Status |", "|---|---|---|---|"]
        for i, run in enumerate(runs):
            label = f"`keys rotate --batch-size {run['batch_size']}`" + (
                " (default)" if run["batch_size"] == 1000 else ""
            )
            target = f"< {TARGETS['rotation_seconds'] / 60:.0f} min" if i == 0 else "—"
            status = _status(ev["rotation"]) if i == 0 else "—"
            lines.append(
                f"| {label} | {run['seconds']:.1f} s, {run['keys_per_s']:,.0f} keys/s | {target} | {status} |"
            )
        for run in runs:
            sample = run["sample"]
            versions = ", ".join(f"version {v}: {n:,}" for v, n in sorted(run["versions"].items()))
            lines.append(
                f"| after batch size {run['batch_size']}: keys by master key version | {versions} | "
                f"all {keys:,} on version {sample['current_version']} | {_status(bool(run['all_on_current']))} |"
            )
            lines.append(
                f"| after batch size {run['batch_size']}: sampled keys unwrapped with the new keyring | "
                f"{sample['unwrapped']:,} of {sample['sampled']:,} equal to the seeded key | all "
                f"| {_status(bool(sample['ok']))} |"
            )
        lines.append("")
        progress = ", ".join(f"{run['progress_lines']} (batch size {run['batch_size']})" for run in runs)
        lines.append(
            f"Progress lines on stderr (`re-wrapped N/{keys:,} data keys (P%)`, one per 10%): {progress}; "
            "the full output of each run is in `bench/results/<run>/rotate-<batch size>.txt`."
        )
        if len(runs) > 1:
            lines.append(
                "The runs follow one another on the same keys (version 1 → 2 → 3), with `VACUUM ANALYZE "
                "subject_keys` in between so each starts without the previous run's dead rows."
            )
            best = min(runs, key=lambda r: r["seconds"])
            if best is not runs[0]:
                gain = 1 - best["seconds"] / runs[0]["seconds"]
                lines.append(
                    f"`--batch-size {best['batch_size']}` was {100 * gain:.0f}% faster than the default; "
                    + ("worth using for large rotations." if gain >= 0.15 else "not clearly better.")
                )
        if entry.get("skipped_batch_sizes"):
            lines.append(
                f"Not run for lack of time: batch sizes {', '.join(map(str, entry['skipped_batch_sizes']))}."
            )
        lines.append("")
    for problem in entry.get("cleanup_problems") or []:
        lines += [f"Cleanup problem: {problem}.", ""]
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
        f"{s['duration']:.0f} s per figure; health, decisions, vault encrypt and vault decrypt alternate "
        f"in {s.get('rounds', 1)} rounds of "
        f"{s['duration'] / s.get('rounds', 1):.0f} s (rates over all rounds, p50 the median round, p99 the "
        f"worst round); batch: {s['batch_size']:,} subject ids per request, median of "
        f"{s['batch_repeats']} sequential requests after one warm-up",
        "",
        "Targets: decisions ÷ health ≥ 0.75 (the gate costs little more than a health check);",
        "`POST /v1/consents` ≥ 2,000/s with p99 < 25 ms on SQLite; batch ≥ 200,000 subjects/s;",
        "vault encrypt ÷ health and vault decrypt ÷ health ≥ 0.60 each; `keys rotate` over 1,000,000",
        "data keys on PostgreSQL in under 5 minutes; one data subject request (access, erasure) against a",
        "1,000,000-customer shop at most 2× the hand-written SQL; the retention sweeper deleting",
        "1,000,000 expired rows out of 10,000,000 at ≥ 0.5× the rows/s of a hand-written batched",
        "DELETE, with no transaction of 200 ms or more. The cost of sealing the consent proof",
        "and the queued-erasure throughput have no target: they are measured so that nobody has to guess.",
        "",
        "## Results",
        "",
    ]
    for entry in results["backends"]:
        lines += _backend_section(entry)
    if results.get("rotation"):
        lines += _rotation_section(results["rotation"])
    if results.get("dsar"):
        lines += _dsar_section(results["dsar"])
    if results.get("retention"):
        lines += _retention_section(results["retention"], results)
    if results.get("banner"):
        lines += _banner_section(results["banner"], results)
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    lines += [
        "## Running it",
        "",
        "`make bench` runs both backends and the key rotation in about 7–10 minutes and never more",
        "than 20 (`--time-limit`, default 1200 s; it was 570 s before the vault, proof-cost and",
        "rotation steps). `.venv/bin/python -m bench.run --quick` measures 3 s per figure with 10,000",
        "seeded subjects and rotates 100,000 keys; `--no-rotation` leaves the rotation out",
        "(`--rotation-keys` and `--rotation-batch-sizes` change it); `--backend sqlite` or",
        "`--backend postgresql` runs one backend (the rotation needs PostgreSQL). The data subject",
        "request step (PostgreSQL and Redis db 13; `--no-dsar` skips it, `--dsar-only` runs it alone,",
        "`--dsar-customers`, `--dsar-requests`; `--quick` uses 100,000 customers and 200 requests)",
        "adds about 2–4 minutes. The retention sweep step (PostgreSQL; `--no-retention` skips it,",
        "`--retention-only` runs it alone, `--retention-rows`; `--quick` uses 1,000,000 rows) adds",
        "about 1.5–2 minutes. The banner step (headless Chromium; `--no-banner` skips it,",
        "`--banner-only` runs it alone, `--banner-loads`) adds about half a minute. PostgreSQL is",
        "reached through the admin URL in `CONSENT_BENCH_POSTGRES_URL` (default",
        "`postgresql+psycopg://postgres@127.0.0.1:5432/postgres`, local hosts only); the bench creates",
        "a temporary database there for each step (load, proof cost, rotation) and drops it at the",
        "end. Load comes from `wrk` (installed with apt-get when missing and running as root) or else",
        "from a Python load generator (`bench.pyload`, also forced with `--python-load`).",
        "Everything runs on 127.0.0.1; gunicorn and `keys rotate` are stopped and temporary",
        "directories and databases are removed even when a step fails.",
        "",
        "Reading the figures: the decisions ÷ health ratio compares two rates of the same server in the",
        "same run, measured in alternating rounds; on a machine that other work shares, the per-round",
        "ratios show how much it moved, and the server CPU per request (from /proc, gunicorn master and",
        "workers) gives the same comparison without the contention.",
        "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def merge(existing: str, results: dict[str, Any]) -> str:
    """The page with only the sections of the steps in ``results`` (a run of one step alone)
    replaced, or added before "## Notes"; every other section is left exactly as it was."""
    sections: dict[str, list[str]] = {}
    if results.get("dsar"):
        dsar_lines = _dsar_section(results["dsar"])
        dsar_lines[2:2] = [
            f"Measured {results['date']} by `{results['command']}` on the machine above "
            f"(commit {results.get('commit', 'unknown')}); the other sections come from earlier runs.",
            "",
        ]
        sections["dsar"] = dsar_lines
    if results.get("retention"):
        sections["retention"] = _retention_section(results["retention"], results)
    if results.get("banner"):
        sections["banner"] = _banner_section(results["banner"], results)
    lines = existing.rstrip("\n").split("\n")
    for key, new in sections.items():
        title = SECTION_TITLES[key]
        if title in lines:
            start = lines.index(title)
            end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
            lines[start:end] = new
            continue
        anchor = next((lines.index(t) for t in ("## Notes", "## Running it") if t in lines), len(lines))
        lines[anchor:anchor] = new
    return "\n".join(lines).rstrip() + "\n"
