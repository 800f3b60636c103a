"""What the benchmarks run on their own (``bench.segments``, ``bench.imports``) share: one
measurement per backend asked for, the raw results kept under bench/results/, and their section
of docs/benchmarks.md replaced without touching the rest of the page."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import backends

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def each_backend(
    names: list[str] | None,
    measure: Callable[[backends.Backend], dict[str, Any]],
    make: Callable[[str], backends.Backend] | None = None,
) -> list[dict[str, Any]]:
    """``measure`` on each backend named (default SQLite), made by ``make`` (default: a fresh
    temporary one), each cleaned up after (a kept one stays); the results."""
    results = []
    for name in names or ["sqlite"]:
        if make is not None:
            backend = make(name)
        elif name == "sqlite":
            backend = backends.sqlite_backend()
        else:
            backend = backends.postgres_backend(os.environ.get("CONSENT_BENCH_POSTGRES_URL", DEFAULT_PG))
        try:
            results.append(measure(backend))
            print(json.dumps(results[-1], indent=2, default=str))
        finally:
            for problem in backend.cleanup():
                print(problem)
    return results


def keep_results(name: str, stamp: str, results: list[dict[str, Any]]) -> Path:
    """Write ``<name>.json`` into this run's folder of bench/results/; the folder."""
    out = backends.REPO / "bench" / "results" / stamp.replace(" ", "T").replace(":", "")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2, default=str))
    return out


def command(module: str, argv: list[str] | None) -> str:
    """The command line the section names, as it was run."""
    return " ".join(["python", "-m", module, *(argv if argv is not None else sys.argv[1:])])


def _find(doc: str, heading: str) -> tuple[int, int] | None:
    """Where the section starts and ends in the page (None when it has none)."""
    start = doc.find(heading)
    if start < 0:
        return None
    end = doc.find("\n## ", start + len(heading))
    return start, (end + 1 if end >= 0 else len(doc))


def put_section(doc: str, text: str, heading: str) -> str:
    """The page with the section replaced by ``text`` (or appended), the rest as it is."""
    where = _find(doc, heading)
    if where is None:
        return doc.rstrip("\n") + "\n\n" + text
    return doc[: where[0]] + text + doc[where[1] :]


def keep_section(old: str, new: str, heading: str) -> str:
    """``new`` (a page ``make bench`` rewrote) with the section carried over from ``old``: a
    benchmark run on its own (segment export, imports) must not lose its figures to a full run."""
    where = _find(old, heading)
    if where is None or _find(new, heading):
        return new
    return put_section(new, old[where[0] : where[1]], heading)


def write_section(text: str, heading: str) -> None:
    """Replace (or append) the section ``heading`` of docs/benchmarks.md with ``text``."""
    path = backends.REPO / "docs" / "benchmarks.md"
    path.write_text(put_section(path.read_text(), text, heading))
