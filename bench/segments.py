"""Segment export: how fast ``GET /v1/segments/<purpose>`` pages through a whole purpose.

``python -m bench.segments [--subjects N] [--backend sqlite|postgresql] [--limit L] [--seed record|import]``:
a fresh backend prepared with the real CLI (``bench.backends``), N subjects seeded through
``record_consent`` (3 in 4 grant the newsletter; ``--seed import``: the same decisions brought in
by the import service from a generated CSV, each subject named by its ``customer_id``, which
seeds a million subjects in minutes rather than half an hour), then the newsletter segment exported by
following ``next_cursor`` through the API (the app in-process, the Flask test client: no HTTP
socket, but routing, auth, schema and JSON as served), once with subject ids only and once
with ``identity=customer_id`` (each identity decrypted). The export must list exactly the
subjects seeded with the grant. Writes the "Segment export" section of docs/benchmarks.md and
bench/results/<stamp>/segments.json; removes the backend even on failure.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import platform
import resource
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import backends, report, standalone

SECTION = "## Segment export"


def export(
    client: Any, headers: dict[str, str], limit: int, identity: str | None
) -> tuple[list[str], list[str], float, int]:
    """(subject ids in export order, their ``identity`` values when asked for, seconds, pages)
    for one full export of the newsletter segment."""
    ids: list[str] = []
    values: list[str] = []
    cursor, pages = None, 0
    started = time.perf_counter()
    while True:
        query: dict[str, Any] = {"limit": limit}
        if cursor:
            query["cursor"] = cursor
        if identity:
            query["identity"] = identity
        response = client.get(f"/v1/segments/{backends.SEED_PURPOSE}", headers=headers, query_string=query)
        if response.status_code != 200:
            raise RuntimeError(
                f"segment page failed: {response.status_code} {response.get_data(as_text=True)}"
            )
        page = response.get_json()
        pages += 1
        ids += [item["subject_id"] for item in page["items"]]
        if identity:
            values += [item["identity"] for item in page["items"] if item.get("identity")]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, values, time.perf_counter() - started, pages


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_by_import(ctx: Any, backend: backends.Backend, count: int) -> int:
    """Import ``count`` subjects ``bench-<n>`` (customer_id; 3 in 4 grant the newsletter) from a
    generated generic-mapping CSV; returns how many granted. The file is written to a
    temporary folder and removed."""
    from consent_service.imports import mapping, service

    work = Path(tempfile.mkdtemp(prefix="consent-bench-segments-"))
    path = work / "seed.csv"
    started = time.perf_counter()
    try:
        when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["identity_type", "identity", "purpose", "decision", "recorded_at", "method"])
            for n in range(count):
                decision = "denied" if n % 4 == 3 else "granted"
                writer.writerow(
                    ["customer_id", f"bench-{n}", backends.SEED_PURPOSE, decision, when, "custom"]
                )
        report = service.import_consents(
            ctx,
            lambda: path.open("rb"),
            file_format="csv",
            mapping=mapping.load("generic"),
            actor_type="system",
            actor_id="bench",
        )
    finally:
        path.unlink(missing_ok=True)
        work.rmdir()
    if report.written != count:
        raise RuntimeError(f"the seed import wrote {report.written} of {count} decisions")
    backend.seed_seconds = time.perf_counter() - started
    backend.seed_note = (
        f"seeded by importing a generated CSV ({count / backend.seed_seconds:,.0f} rows/s), "
        "not through record_consent"
    )
    return sum(1 for n in range(count) if n % 4 != 3)


def measure(
    backend: backends.Backend, subjects: int, limit: int, budget: float, how: str = "record"
) -> dict[str, Any]:
    from consent_service import create_app
    from consent_service.config import Config
    from consent_service.wiring import bootstrap

    backends.prepare(backend)
    if how == "record":
        backends.seed(backend, subjects, budget)
    ctx = bootstrap(Config(data_dir=backend.data_dir, database_url=backend.database_url))
    try:
        granted = len(backend.granted_ids)
        if how == "import":
            granted = seed_by_import(ctx, backend, subjects)
            backend.subject_ids = [f"bench-{n}" for n in range(subjects)]  # customer ids, for the count
        client = create_app(context=ctx).test_client()
        headers = {"Authorization": f"Bearer {backend.token}"}
        rss_before = _max_rss_mib()
        runs = {}
        for name, identity in (("ids", None), ("identities", "customer_id")):
            ids, values, seconds, pages = export(client, headers, limit, identity)
            if how == "record":
                complete = set(backend.granted_ids) <= set(ids)
            elif identity:  # imported: every granted customer id, and no refused one
                wanted = {f"bench-{n}" for n in range(subjects) if n % 4 != 3}
                complete = {v for v in values if v.startswith("bench-")} == wanted
            else:
                complete = len(ids) >= granted
            if not complete or len(set(ids)) != len(ids):
                raise RuntimeError(
                    f"the {name} export missed granted subjects: {len(ids)} listed, {granted} granted"
                )
            runs[name] = {
                "rows": len(ids),
                "seconds": seconds,
                "pages": pages,
                "rows_per_s": len(ids) / seconds,
            }
        return {
            "backend": backend.name,
            "version": backend.version,
            "seeded": len(backend.subject_ids),
            "granted": granted,
            "seed": how,
            "seed_seconds": backend.seed_seconds,
            "seed_note": backend.seed_note,
            "limit": limit,
            "runs": runs,
            "max_rss_mib_before": rss_before,
            "max_rss_mib_after": _max_rss_mib(),
        }
    finally:
        ctx.db.dispose()


def section(results: list[dict[str, Any]], stamp: str, command: str) -> str:
    m = report.machine()
    lines = [
        SECTION,
        "",
        f"Measured by `{command}` (`bench.segments`), {stamp} UTC; machine: {m['nproc']} CPUs (nproc), "
        f"{m['cpu_model']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}, Python {platform.python_version()}.",
        "Subjects seeded through `record_consent` (or, where the note says so, imported; 3 in 4 "
        "grant the newsletter); the newsletter segment "
        "exported through the API in-process (Flask test client) by following `next_cursor`; every "
        "export checked to list every granted subject once (the demo data adds one more). No target: measured so that nobody has "
        "to guess.",
        "",
        "| Backend | Subjects | In segment | Page size | Export (ids) | Export (identity=customer_id) | Max RSS before → after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ids, idents = r["runs"]["ids"], r["runs"]["identities"]
        lines.append(
            f"| {r['version']} | {r['seeded']:,} | {r['granted']:,} | {r['limit']} | "
            f"{ids['rows_per_s']:,.0f} rows/s ({ids['seconds']:.1f} s, {ids['pages']} pages) | "
            f"{idents['rows_per_s']:,.0f} rows/s ({idents['seconds']:.1f} s) | "
            f"{r['max_rss_mib_before']:.0f} → {r['max_rss_mib_after']:.0f} MiB |"
        )
    notes = [r["seed_note"] for r in results if r["seed_note"]]
    lines += ["", *(f"Note: {n}." for n in notes)] if notes else []
    lines += [
        "",
        "A page reads at most ten subject ids per item asked for and holds only that page; the "
        "service holds no more than a page at a time. The max RSS is the benchmark process's "
        "own, which also keeps every exported id to check the export, so it grows with the "
        "segment. Rates are whole-export averages over the subjects shown, not extrapolations.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.segments", description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"), dest="backends")
    parser.add_argument("--limit", type=int, default=1000, help="page size")
    parser.add_argument("--seed-budget", type=float, default=900.0, help="seconds for seeding per backend")
    parser.add_argument(
        "--seed", choices=("record", "import"), default="record", help="how the subjects are seeded"
    )
    args = parser.parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    results = standalone.each_backend(
        args.backends,
        lambda backend: measure(backend, args.subjects, args.limit, args.seed_budget, args.seed),
    )
    out = standalone.keep_results("segments", stamp, results)
    standalone.write_section(section(results, stamp, standalone.command("bench.segments", argv)), SECTION)
    print(f"SQLite {sqlite3.sqlite_version}; wrote docs/benchmarks.md and {out}")


if __name__ == "__main__":
    main()
