"""The task queue (Dramatiq): which broker, the actors, the embedded worker and recovery.

Wiring, like ``context.py``: the broker is chosen here and only here, from ``CONSENT_BROKER_URL``:

- unset: the *embedded* queue. A Dramatiq ``StubBroker`` and a small ``dramatiq.Worker`` (two
  threads) started lazily in the process that enqueues (a gunicorn worker, the CLI) and stopped
  at exit. Jobs live in memory only, so starting it (and ``consent-service worker``) re-enqueues
  every executable request left ``verified`` or ``in_progress`` (``recover``);
- ``redis://…``: ``RedisBroker``; ``amqp://…``: ``RabbitmqBroker``. ``consent-service worker``
  consumes the queue (``work``); the API and the CLI only enqueue.

Actors: ``execute_request(request_id)`` runs ``run_request`` (actor "worker"), ``deliver_outbox()``.
A run that ends ``failed`` (a store was down) raises ``RunFailed`` so that Dramatiq's Retries
middleware retries it with exponential backoff, at most ``MAX_RETRIES`` times; after that the
request stays ``failed`` for a DPO to retry. ``run_request`` is resumable and idempotent per
store, and one run per request at a time is enforced (a PostgreSQL advisory lock, or a
process-local lock on SQLite), so a duplicate or redelivered message does no harm.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select, text

from consent_service.config import Config
from consent_service.context import Context, bootstrap
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.requests import EXECUTED, SCHEDULER
from consent_service.errors import Conflict, NotFound

log = logging.getLogger(__name__)

MAX_RETRIES = 5
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 5 * 60_000
TIME_LIMIT_MS = 6 * 3600_000  # a large erasure may take long; never cut a run in the middle
EMBEDDED_THREADS = 2


class RunFailed(Exception):
    """A run ended ``failed``; raised so that Dramatiq retries it with backoff."""


class _Queue:
    """One broker with the actors declared on it."""

    def __init__(self, broker: dramatiq.Broker, queue: str) -> None:
        self.broker = broker
        options = {"max_retries": MAX_RETRIES, "min_backoff": MIN_BACKOFF_MS, "max_backoff": MAX_BACKOFF_MS}
        self.execute_request = dramatiq.Actor(
            _execute_request,
            broker=broker,
            actor_name="execute_request",
            queue_name=queue,
            priority=0,
            options=options | {"time_limit": TIME_LIMIT_MS},
        )
        self.deliver_outbox = dramatiq.Actor(
            _deliver_outbox,
            broker=broker,
            actor_name="deliver_outbox",
            queue_name=queue,
            priority=10,
            options=options,
        )
        self.worker: dramatiq.Worker | None = None


_lock = threading.Lock()
_queues: dict[tuple[str, str], _Queue] = {}
_worker_ctx: Context | None = None
_embedded_ctx: dict[str, Context] = {}  # request id -> the enqueuing context (embedded mode only)
_running: dict[str, threading.Lock] = {}


def make_broker(url: str) -> dramatiq.Broker:
    """The broker for ``url``: empty → in-memory stub, ``redis://`` → Redis, ``amqp://`` → RabbitMQ."""
    if not url:
        return StubBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"CONSENT_BROKER_URL: unsupported scheme in {url.split('://')[0]!r}")


def queue_for(config: Config) -> _Queue:
    """The process's queue for this configuration (created once)."""
    key = (config.broker_url, config.broker_queue)
    with _lock:
        if key not in _queues:
            _queues[key] = _Queue(make_broker(config.broker_url), config.broker_queue)
        return _queues[key]


def _context() -> Context:
    """The worker's context, built once per process from the environment."""
    global _worker_ctx
    with _lock:
        if _worker_ctx is None:
            _worker_ctx = bootstrap(Config.from_env())
        return _worker_ctx


@contextmanager
def _exclusive(ctx: Context, request_id: str) -> Iterator[bool]:
    """Hold the run of ``request_id``: yields False when another thread or process runs it."""
    if ctx.db.is_sqlite:
        with _lock:
            lock = _running.setdefault(request_id, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    number = int.from_bytes(
        hashlib.sha256(f"dsar-run|{request_id}".encode()).digest()[:8], "big", signed=True
    )
    with ctx.db.engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:n)"), {"n": number}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                conn.commit()


def _execute_request(request_id: str) -> None:
    from consent_service.dsar.execution import run_request

    ctx = _embedded_ctx.get(request_id) or _context()
    with _exclusive(ctx, request_id) as mine:
        if not mine:
            log.info("request %s is being run elsewhere; this message is a duplicate", request_id)
            return
        try:
            result = run_request(ctx, request_id, actor="worker")
        except (Conflict, NotFound) as exc:  # done, rejected or gone: nothing to run (duplicate message)
            log.info("request %s not run: %s", request_id, exc.detail)
            _embedded_ctx.pop(request_id, None)
            return
    state = result["request"]["state"]
    if state == "failed":
        raise RunFailed(f"request {request_id} failed; retried with backoff")
    _embedded_ctx.pop(request_id, None)
    log.info("request %s: %s", request_id, state)


def _deliver_outbox() -> None:
    from consent_service.dsar.outbox import deliver

    deliver(_context())


def enqueue_request(ctx: Context, request_id: str) -> None:
    """Queue a run of ``request_id`` (starts the embedded worker first when there is no broker)."""
    queue = queue_for(ctx.config)
    if not ctx.config.broker_url:
        _embedded_ctx[request_id] = ctx
        _start_embedded(ctx, queue)
    queue.execute_request.send(request_id)


def install(ctx: Context) -> Context:
    """Wire the queue into ``ctx``: verified requests are then enqueued after commit."""
    ctx.caches.setdefault(SCHEDULER, enqueue_request)
    return ctx


def recover(ctx: Context) -> list[str]:
    """Re-enqueue every executable request left ``verified`` or ``in_progress``; returns their ids."""
    with ctx.uow(write=False) as uow:
        ids = list(
            uow.session.scalars(
                select(DsarRequest.id).where(
                    DsarRequest.state.in_(("verified", "in_progress")), DsarRequest.type.in_(EXECUTED)
                )
            )
        )
    for request_id in ids:
        enqueue_request(ctx, request_id)
    return ids


def _start_embedded(ctx: Context, queue: _Queue) -> None:
    with _lock:
        if queue.worker is not None:
            return
        queue.worker = dramatiq.Worker(queue.broker, worker_threads=EMBEDDED_THREADS, worker_timeout=100)
        queue.worker.start()
        atexit.register(queue.worker.stop)
    recover(ctx)


def work(ctx: Context, *, threads: int, stop: threading.Event, interval: float = 10.0) -> None:
    """Consume the queue with ``threads`` threads; every ``interval`` s deliver the outbox and purge
    expired access packages, until ``stop``."""
    from consent_service.dsar.outbox import deliver
    from consent_service.dsar.package import purge_expired

    global _worker_ctx
    _worker_ctx = ctx
    queue = queue_for(ctx.config)
    if ctx.config.broker_url:
        worker = dramatiq.Worker(queue.broker, worker_threads=threads, worker_timeout=100)
        worker.start()
        recover(ctx)
    else:
        with _lock:
            if queue.worker is None:
                queue.worker = dramatiq.Worker(queue.broker, worker_threads=threads, worker_timeout=100)
                queue.worker.start()
        worker = queue.worker
        recover(ctx)
    try:
        while not stop.is_set():
            counts = deliver(ctx)
            if any(counts.values()):
                log.info("outbox: %s", counts)
            purged = purge_expired(ctx)
            if purged:
                log.info("purged %d expired access package(s)", purged)
            stop.wait(interval)
    finally:
        worker.stop()
        if ctx.config.broker_url:
            queue.broker.close()


def purge(config: Config) -> None:
    """Drop every message waiting in the configured queue (tests, operators)."""
    queue = queue_for(config)
    broker: Any = queue.broker
    broker.flush_all()
