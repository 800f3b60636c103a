"""``consent-service serve`` and ``worker``: the HTTP service (gunicorn) and the job worker."""

from __future__ import annotations

import os
import sys

import click

from consent_service.cli.base import _config, _fail, _redact, main
from consent_service.cli.supervisor import supervise


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="threads per worker; above 1 an idle browser connection cannot hold a worker",
)
def serve(bind: str, workers: int, threads: int) -> None:
    """Serve the API with gunicorn."""
    # Browsers open connections ahead of need and keep them idle; a synchronous worker waits on
    # such a connection until it times out, so with 2 workers a page could hang for 30 s.
    args = [
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "--logger-class",
        "consent_service.logs.GunicornLogger",  # JSON lines without personal data or secrets
        "consent_service.wsgi:app",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *args])


@main.command()
@click.option("--interval", default=10.0, show_default=True, help="seconds between outbox rounds")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(min=1))
def worker(interval: float, processes: int, threads: int) -> None:
    """Run queued subject requests and retention runs (CONSENT_BROKER_URL, or the embedded queue),
    deliver the outbox and start scheduled retention runs."""
    config = _config()
    where = _redact(config.broker_url) if config.broker_url else "the embedded in-process queue"
    if processes > 1 and not config.broker_url:
        _fail("--processes needs a broker (CONSENT_BROKER_URL); the embedded queue lives in one process")
    click.echo(
        f"worker: {processes} process(es) x {threads} thread(s) on {where}; outbox every {interval:g} s",
        err=True,
    )
    supervise(processes, threads, interval)
