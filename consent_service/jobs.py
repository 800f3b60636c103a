"""The task queue (Dramatiq): which broker, the actors, the embedded worker and recovery.

Wiring, like ``context.py``: the broker is chosen here and only here, from ``CONSENT_BROKER_URL``:

- unset: the *embedded* queue. A Dramatiq ``StubBroker`` and a small ``dramatiq.Worker`` (two
  threads) started lazily in the process that enqueues (a gunicorn worker, the CLI) and stopped
  at exit. Jobs live in memory only, so starting it (and ``consent-service worker``) re-enqueues
  every executable request left ``verified`` or ``in_progress`` (``recover``);
- ``redis://…``: ``RedisBroker``; ``amqp://…``: ``RabbitmqBroker``. ``consent-service worker``
  consumes the queue (``work``); the API and the CLI only enqueue.

Actors: ``execute_request(request_id)`` runs ``run_request`` (actor "worker"), ``deliver_outbox()``,
``retention_run(run_id)`` runs a created retention run (never retried: the next run resumes),
``ledger_verification(verification_id)`` a verification of the whole ledger (never retried either).
The retention schedule (``schedule_retention``, every ``CONSENT_RETENTION_INTERVAL``) is checked by
``work`` on each round, and in embedded mode by a daemon thread of the serving process. What
follows the ledger (``ledger_thread``: the Merkle tree, the consent counts, checkpoints) has its
own daemon thread in the same places.
A run that ends ``failed`` (a store was down) raises ``RunFailed`` so that Dramatiq's Retries
middleware retries it with exponential backoff, at most ``MAX_RETRIES`` times; after that the
request stays ``failed`` (with its ``failure_reason``) for a DPO to retry. A failure no run can
mend (the subject was shredded: ``retryable`` false) is not retried. ``run_request`` is resumable and idempotent per
store, and one run per request at a time is enforced (``consent_service.locks``: across threads
and processes), so a duplicate or redelivered message does no harm.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from consent_service import locks
from consent_service.config import Config
from consent_service.context import Context
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.requests import EXECUTED, SCHEDULER
from consent_service.errors import Conflict, NotFound
from consent_service.ledger.verification import VERIFIER
from consent_service.ledger_thread import CHECKPOINTER, ensure_checkpointer
from consent_service.retention.runs import RUNNER
from consent_service.wiring import bootstrap

log = logging.getLogger(__name__)

MAX_RETRIES = 5
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 5 * 60_000
TIME_LIMIT_MS = 6 * 3600_000  # a large erasure may take long; never cut a run in the middle
EMBEDDED_THREADS = 2
SCHEDULE_CHECK_SECONDS = 30.0  # the embedded schedule; an outbox retry waits at least 30 s


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
        self.retention_run = dramatiq.Actor(
            _retention_run,
            broker=broker,
            actor_name="retention_run",
            queue_name=queue,
            priority=20,
            # a run is resumable by starting another: never retried, never cut short
            options={"max_retries": 0, "time_limit": TIME_LIMIT_MS},
        )
        self.ledger_verification = dramatiq.Actor(
            _ledger_verification,
            broker=broker,
            actor_name="ledger_verification",
            queue_name=queue,
            priority=20,
            options={"max_retries": 0, "time_limit": TIME_LIMIT_MS},
        )
        self.worker: dramatiq.Worker | None = None


_lock = threading.Lock()
_queues: dict[tuple[str, str], _Queue] = {}
_worker_ctx: Context | None = None
_embedded_ctx: dict[str, Context] = {}  # request id -> the enqueuing context (embedded mode only)


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


def _execute_request(request_id: str) -> None:
    from consent_service.dsar.execution import run_request

    ctx = _embedded_ctx.get(request_id) or _context()
    with locks.exclusive(ctx.db, f"dsar-run|{request_id}") as mine:
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
    if state == "failed" and result.get("retryable", True):
        raise RunFailed(f"request {request_id} failed; retried with backoff")
    _embedded_ctx.pop(request_id, None)
    log.info("request %s: %s", request_id, state)


def _deliver_outbox() -> None:
    from consent_service.dsar.outbox import deliver

    deliver(_context())


def _retention_run(run_id: str) -> None:
    from consent_service.retention.runs import execute_run

    ctx = _embedded_ctx.pop(run_id, None) or _context()
    try:
        run = execute_run(ctx, run_id)
    except (Conflict, NotFound) as exc:  # another run holds the lock, or a duplicate message
        log.info("retention run %s not run: %s", run_id, exc.detail)
        return
    log.info("retention run %s: %s %s", run_id, run["state"], run["report"].get("totals"))


def enqueue_retention(ctx: Context, run_id: str) -> None:
    """Queue a created retention run (starts the embedded worker first when there is no broker)."""
    queue = queue_for(ctx.config)
    if not ctx.config.broker_url:
        _embedded_ctx[run_id] = ctx
        _start_embedded(ctx, queue)
    queue.retention_run.send(run_id)


def _ledger_verification(verification_id: str) -> None:
    from consent_service.ledger.verification import execute

    ctx = _embedded_ctx.pop(verification_id, None) or _context()
    try:
        done = execute(ctx, verification_id)
    except (Conflict, NotFound) as exc:  # another one holds the lock, or a duplicate message
        log.info("ledger verification %s not run: %s", verification_id, exc.detail)
        return
    log.info("ledger verification %s: %s, ok=%s", verification_id, done["state"], done["ok"])


def enqueue_verification(ctx: Context, verification_id: str) -> None:
    """Queue a created ledger verification (starts the embedded worker first when there is no broker)."""
    queue = queue_for(ctx.config)
    if not ctx.config.broker_url:
        _embedded_ctx[verification_id] = ctx
        _start_embedded(ctx, queue)
    queue.ledger_verification.send(verification_id)


def retention_interval(config: Config) -> dt.timedelta | None:
    """``CONSENT_RETENTION_INTERVAL`` as a time span; None when scheduled runs are off."""
    from consent_service.durations import add_duration

    if config.retention_interval.strip().lower() in ("", "off", "0", "none"):
        return None
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return add_duration(start, config.retention_interval) - start


def schedule_retention(ctx: Context) -> str | None:
    """Queue a run when the last one started at least one interval ago; returns its id."""
    from consent_service.retention.runs import create_run, due_for_schedule

    interval = retention_interval(ctx.config)
    if interval is None or not due_for_schedule(ctx, interval):
        return None
    try:
        run = create_run(ctx, dry_run=False, store=None, started_by="schedule")
    except Conflict:
        return None  # a run is going on
    enqueue_retention(ctx, run["id"])
    return str(run["id"])


def housekeeping(ctx: Context) -> None:
    """One round of the periodic work: queue a retention run when one is due, send the outbox
    messages that are due (new ones and retries after a failure), send the consent webhooks that
    are due (``dsar.consent_hooks``), purge expired access packages, unconfirmed double opt-in
    links past their retention (``optin.service.purge``), expired preference-centre sign-in
    links (``preferences.service.purge_signin_links``) and the portal's used proofs of work that
    expired (``dsar.portal.purge_challenges``)."""
    from consent_service.dsar import consent_hooks
    from consent_service.dsar.outbox import deliver
    from consent_service.dsar.package import purge_expired
    from consent_service.dsar.portal import purge_challenges
    from consent_service.optin.service import purge as purge_optin
    from consent_service.preferences.service import purge_signin_links

    scheduled = schedule_retention(ctx)
    if scheduled:
        log.info("queued retention run %s", scheduled)
    counts = deliver(ctx)
    if any(counts.values()):
        log.info("outbox: %s", counts)
    batches = consent_hooks.deliver(ctx)
    if any(batches.values()):
        log.info("consent webhooks: %s", batches)
    purged = purge_expired(ctx)
    if purged:
        log.info("purged %d expired access package(s)", purged)
    unconfirmed = purge_optin(ctx)
    if unconfirmed:
        log.info("purged %d unconfirmed double opt-in link(s)", unconfirmed)
    signins = purge_signin_links(ctx)
    if signins:
        log.info("purged %d expired sign-in link(s) of the preference centre", signins)
    # the proof of work's expiry is the wall clock's (the altcha library checks it so)
    challenges = purge_challenges(ctx, dt.datetime.now(dt.UTC))
    if challenges:
        log.info("purged %d used proof(s) of work of the portal", challenges)


def _scheduler(ctx: Context, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        try:
            housekeeping(ctx)
        except Exception:  # noqa: BLE001 - the schedule must survive a database hiccup
            log.exception("periodic work (retention schedule, outbox, packages) failed; trying again later")


def start_scheduler(ctx: Context, every: float = SCHEDULE_CHECK_SECONDS) -> threading.Event:
    """The embedded in-process schedule: a daemon thread doing ``housekeeping`` every ``every`` s."""
    stop = threading.Event()
    threading.Thread(target=_scheduler, args=(ctx, stop, every), name="housekeeping", daemon=True).start()
    atexit.register(stop.set)
    return stop


def enqueue_request(ctx: Context, request_id: str) -> None:
    """Queue a run of ``request_id`` (starts the embedded worker first when there is no broker)."""
    queue = queue_for(ctx.config)
    if not ctx.config.broker_url:
        _embedded_ctx[request_id] = ctx
        _start_embedded(ctx, queue)
    queue.execute_request.send(request_id)


def install(ctx: Context) -> Context:
    """Wire the queue into ``ctx``: verified requests, retention runs and ledger verifications are
    then enqueued.

    Without a broker (the embedded queue) this process also does the periodic ``housekeeping``
    (the retention schedule, outbox delivery and retries, package expiry) and follows the ledger
    (``ledger_thread.ledger_round``: the tree, the counts' catch-up, checkpoints); not in tests, which start
    ``start_scheduler`` and ``start_checkpointer`` themselves. With a broker, ``consent-service
    worker`` does both."""
    ctx.caches.setdefault(SCHEDULER, enqueue_request)
    ctx.caches.setdefault(RUNNER, enqueue_retention)
    ctx.caches.setdefault(VERIFIER, enqueue_verification)
    if not ctx.config.broker_url and not ctx.config.testing:
        with _lock:
            if "housekeeping" not in ctx.caches:
                ctx.caches["housekeeping"] = start_scheduler(ctx)
        ensure_checkpointer(ctx)
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
    """Consume the queue with ``threads`` threads; every ``interval`` s queue a retention run when
    one is due, deliver the outbox and purge expired access packages, until ``stop``."""

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
    checkpointer = ensure_checkpointer(ctx)
    try:
        while not stop.is_set():
            housekeeping(ctx)
            stop.wait(interval)
    finally:
        if checkpointer is not None:
            checkpointer.set()
            ctx.caches.pop(CHECKPOINTER, None)
        worker.stop()
        if ctx.config.broker_url:
            queue.broker.close()


def purge(config: Config) -> None:
    """Drop every message waiting in the configured queue (tests, operators)."""
    queue = queue_for(config)
    broker: Any = queue.broker
    broker.flush_all()
