"""Imports from other platforms: rows/s of validation and of the full import, against recording
the same kind of decisions one by one through ``record_consent`` in the same run.

``python -m bench.imports [--rows N] [--validate-rows M] [--baseline K] [--backend sqlite|postgresql]``:
a fresh backend prepared with the real CLI (``bench.backends``); a generic-mapping CSV of N rows
(one decision each, ``tests.integration.import_files``) validated alone, imported in full, and
imported again (every decision found as already imported); a CSV of M rows validated alone, with
the process's max RSS before and after (the file is streamed, memory must not grow with it);
and K decisions recorded through ``record_consent`` as the baseline. Checks the ledger holds
exactly N more events after the import and none more after the re-run. Writes the "Imports"
section of docs/benchmarks.md and bench/results/<stamp>/imports.json; removes the backend even
on failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import backends, report, standalone

SECTION = "## Imports"


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _events(ctx: Any) -> int:
    with ctx.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one())


def measure(backend: backends.Backend, rows: int, validate_rows: int, baseline: int) -> dict[str, Any]:
    from consent_service.config import Config
    from consent_service.imports import mapping, service
    from consent_service.ledger.service import DecisionInput, RecordConsent, record_consent
    from consent_service.subjects.service import IdentityRef
    from consent_service.wiring import bootstrap
    from tests.integration.import_files import write_export

    backends.prepare(backend)
    ctx = bootstrap(Config(data_dir=backend.data_dir, database_url=backend.database_url))
    generic = mapping.load("generic")
    work = Path(tempfile.mkdtemp(prefix="consent-bench-imports-"))
    try:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        path = write_export("generic", rows, work / "import.csv", start)

        def opener() -> Any:
            return path.open("rb")

        def run(call: Any) -> tuple[Any, float]:
            began = time.perf_counter()
            result = call()
            return result, time.perf_counter() - began

        _, validate_s = run(lambda: service.validate(ctx, opener, "csv", generic))
        before = _events(ctx)
        first, import_s = run(
            lambda: service.import_consents(
                ctx, opener, file_format="csv", mapping=generic, actor_type="system", actor_id="bench"
            )
        )
        after = _events(ctx)
        again, rerun_s = run(
            lambda: service.import_consents(
                ctx, opener, file_format="csv", mapping=generic, actor_type="system", actor_id="bench"
            )
        )
        if after - before != rows or first.written != rows or again.written or _events(ctx) != after:
            raise RuntimeError(
                f"import wrote {after - before} events for {rows} rows; re-run wrote {again.written}"
            )

        big = write_export("generic", validate_rows, work / "validate.csv", start)
        rss_before = _max_rss_mib()
        _, big_s = run(lambda: service.validate(ctx, lambda: big.open("rb"), "csv", generic))
        rss_after = _max_rss_mib()
        big.unlink()

        def record_all() -> None:
            for n in range(baseline):
                record_consent(
                    ctx,
                    RecordConsent(
                        decisions=[DecisionInput("purpose", "analytics", n % 4 != 0)],
                        channel="api",
                        method="custom",
                        actor_type="system",
                        actor_id="bench",
                        subject=IdentityRef("email", f"baseline{n}@example.org"),
                        proof={"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
                    ),
                )

        _, baseline_s = run(record_all)
        return {
            "backend": backend.name,
            "version": backend.version,
            "rows": rows,
            "validate_rows_per_s": rows / validate_s,
            "import_rows_per_s": rows / import_s,
            "import_seconds": import_s,
            "rerun_rows_per_s": rows / rerun_s,
            "validate_big_rows": validate_rows,
            "validate_big_rows_per_s": validate_rows / big_s,
            "max_rss_mib_before": rss_before,
            "max_rss_mib_after": rss_after,
            "baseline_decisions": baseline,
            "baseline_rows_per_s": baseline / baseline_s,
        }
    finally:
        ctx.db.dispose()
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()


def section(results: list[dict[str, Any]], stamp: str, command: str) -> str:
    m = report.machine()
    lines = [
        SECTION,
        "",
        f"Measured by `{command}` (`bench.imports`), {stamp} UTC; machine: {m['nproc']} CPUs (nproc), "
        f"{m['cpu_model']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}, Python {platform.python_version()}.",
        "A generic-mapping CSV (one e-mail subject and one decision per row, IP and user agent as proof) "
        "validated alone, imported (validation pass, then writing in transactions of 1,000: new subjects, "
        "encrypted proofs, chained events, projection, idempotency keys) and imported again (every "
        "decision found as imported before). Baseline, in the same run: the same kind of decision recorded "
        "one call at a time through `record_consent`, the live write path. The ledger was checked to hold "
        "exactly one new event per row after the import and none more after the re-run.",
        "",
        "| Backend | Rows | Validation | Full import | Re-run (nothing written) | Baseline `record_consent` | Import ÷ baseline | Validation of a larger file, max RSS before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['version']} | {r['rows']:,} | {r['validate_rows_per_s']:,.0f} rows/s | "
            f"{r['import_rows_per_s']:,.0f} rows/s ({r['import_seconds']:.1f} s) | "
            f"{r['rerun_rows_per_s']:,.0f} rows/s | {r['baseline_rows_per_s']:,.0f} decisions/s "
            f"({r['baseline_decisions']:,}) | {r['import_rows_per_s'] / r['baseline_rows_per_s']:.1f}× | "
            f"{r['validate_big_rows']:,} rows at {r['validate_big_rows_per_s']:,.0f} rows/s, "
            f"{r['max_rss_mib_before']:.0f} → {r['max_rss_mib_after']:.0f} MiB |"
        )
    lines += [
        "",
        "The file is streamed and written in batches, so memory does not grow with it (max RSS above). "
        "The write rate does fall as the database grows: every row adds a subject, an identity, a "
        "key, an event, a proof key, a projection row and an idempotency key, most under random "
        "keys, each into a larger index than the row before. The baseline is recorded "
        "after the import, on the grown database, so the ratio compares the two paths at the "
        "same size. Rates are whole-run averages over the row count shown, not extrapolations.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--validate-rows", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"), dest="backends")
    args = parser.parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    results = standalone.each_backend(
        args.backends, lambda backend: measure(backend, args.rows, args.validate_rows, args.baseline)
    )
    out = standalone.keep_results("imports", stamp, results)
    standalone.write_section(section(results, stamp, standalone.command("bench.imports", argv)), SECTION)
    print(f"wrote docs/benchmarks.md and {out}")


if __name__ == "__main__":
    main()
