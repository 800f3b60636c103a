"""The worker supervisor: one or more worker processes (Dramatiq threads plus the periodic
outbox delivery), stopped together on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os

import click

from consent_service.cli.base import _context


def _work(threads: int, interval: float) -> None:
    """One worker process: Dramatiq worker threads plus the periodic outbox delivery."""
    import signal
    import threading

    from consent_service import logs
    from consent_service.jobs import work

    ctx = _context()
    logs.configure(ctx.config.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        work(ctx, threads=threads, stop=stop, interval=interval)
    except KeyboardInterrupt:
        stop.set()
    click.echo("worker stopped", err=True)


def supervise(processes: int, threads: int, interval: float) -> None:
    """Run ``processes`` worker processes (spawned, so each wires its own context) until they end
    or Ctrl-C, which is passed on to each so it finishes the messages it holds; one process runs
    in this one."""
    if processes == 1:
        _work(threads, interval)
        return
    import multiprocessing
    import signal

    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=_work, args=(threads, interval), daemon=True) for _ in range(processes)]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join()
    except KeyboardInterrupt:
        for child in children:
            if child.pid is not None:
                os.kill(child.pid, signal.SIGINT)
        for child in children:
            child.join(timeout=30)
    click.echo("worker stopped", err=True)
