"""Group commit: the consent writes of one process share a transaction, its head lock and its commit.

A write that needs the ledger head (``ledger.service.record_consent``) hands its database work
to ``submit`` as a *job*: a function of (session, head) that writes its events after ``head``
and returns the new head with its result. Jobs queue in the process's ``Sequencer``. The first
thread to find no leader becomes the leader; the others wait on their job's event (no polling).
The leader takes up to ``MAX_BATCH`` queued jobs and, in ONE write unit of work:

1. takes the ledger head (``lock_head``: ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
   unit of work's writer lock and ``BEGIN IMMEDIATE``);
2. runs each job, in order, inside its own SAVEPOINT, giving it the head the previous job left;
   the jobs' events get consecutive sequence numbers and chain on each other as if they had
   been written one after the other (a batch of one job needs no savepoint: the transaction is
   its own, and is rolled back instead of committed when the job fails);
3. commits once: one fsync (SQLite WAL, PostgreSQL WAL flush) for the whole batch;
4. wakes every job's thread with its result. What needs no database (signing the receipt,
   waking the ledger thread) runs afterwards in the job's own thread, in parallel.

Failures:

- a job that raises an error of its own (a ``DomainError`` such as an erased subject or an
  unknown purpose, or any other exception that is not a database error, e.g. a ``within``
  callback's "already done") has its savepoint rolled back: nothing of it is written, the head
  stays where it was for the next job, and the error is raised in that job's thread only;
- a database error (``SQLAlchemyError``: a failed statement, a failed commit, a lost
  connection) or anything else that breaks the transaction fails the whole batch: nothing of it
  is written and every job's thread raises that error.

Leadership is handed over after the batch that finished the leader's own job: if jobs are
queued, the first of them is woken as the next leader (its job leads its batch), else the
sequencer is idle and the next ``submit`` leads. So a thread serves at most the batches up to
its own job's, and a failure anywhere never leaves a leader behind (``finally``).

What this does not do: batch across processes. gunicorn's workers each have their own
sequencer; they still take turns on the head lock (PostgreSQL's row lock, SQLite's writer
lock), but each turn now carries every write its process had queued, so the commits per
second no longer bound the writes per second. The jobs run with the submitting thread's
``contextvars`` (the request id in logs) and must not touch the web framework's request state:
they get their inputs as plain values.

A job must not write to the ledger itself (no ``submit``, ``ctx.uow()`` for writing, from inside
a job): it already runs in the batch's transaction.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from consent_service.context import Context

log = logging.getLogger(__name__)

MAX_BATCH = 64
CACHE_KEY = "ledger.sequencer"

Head = tuple[int, str]
# (session, head) -> (the head after the job's events, the job's result)
Job = Callable[[Session, Head], tuple[Head, Any]]

_HEAD = text("SELECT seq, hash FROM ledger_head WHERE id = 1")
_HEAD_FOR_UPDATE = text("SELECT seq, hash FROM ledger_head WHERE id = 1 FOR UPDATE")
_creating = threading.Lock()
_in_job = threading.local()


def lock_head(session: Session) -> Head:
    """The ledger head (seq, hash), locked for this transaction.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the one head row. SQLite: the writing unit of work
    began with ``BEGIN IMMEDIATE`` and already holds the database write lock.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    row = session.execute(_HEAD if sqlite else _HEAD_FOR_UPDATE).one()
    return int(row[0]), row[1]


class _Queued:
    __slots__ = ("job", "context", "woken", "done", "result", "error")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.context = contextvars.copy_context()
        self.woken = threading.Event()  # set when done, or when this thread is to lead
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class Sequencer:
    """One process's queue of ledger write jobs and its leader; see the module docstring.

    ``batches``, ``jobs``, ``largest_batch`` and ``failed_batches`` count what it did (batches
    run, jobs in them, the most jobs one batch held, batches that wrote nothing)."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._queue: deque[_Queued] = deque()
        self._leading = False  # a thread leads, or was woken to lead; the queue is theirs
        self.batches = 0
        self.jobs = 0
        self.largest_batch = 0
        self.failed_batches = 0

    def counters(self) -> dict[str, int]:
        return {
            "batches": self.batches,
            "jobs": self.jobs,
            "largest_batch": self.largest_batch,
            "failed_batches": self.failed_batches,
        }

    @property
    def queued(self) -> int:
        """Jobs waiting for a batch (not those of the batch running)."""
        with self._lock:
            return len(self._queue)

    def submit(self, ctx: Context, job: Job) -> Any:
        """Run ``job`` in the next batch; its result once the batch committed, or its error."""
        if getattr(_in_job, "active", False):
            raise RuntimeError("a ledger write job cannot submit another (it would wait for itself)")
        queued = _Queued(job)
        with self._lock:
            self._queue.append(queued)
            lead = not self._leading
            self._leading = True
        if not lead:
            queued.woken.wait()
        if not queued.done:  # no leader was active, or the last one handed over to this job
            self._lead(ctx, queued)
        if queued.error is not None:
            raise queued.error
        return queued.result

    def _lead(self, ctx: Context, own: _Queued) -> None:
        try:
            while not own.done:
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
                try:
                    self._run(ctx, batch)
                finally:
                    for queued in batch:
                        queued.done = True
                        if queued is not own:
                            queued.woken.set()
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].woken.set()  # not done: it wakes as the next leader
                else:
                    self._leading = False

    def _run(self, ctx: Context, batch: list[_Queued]) -> None:
        self.batches += 1
        self.jobs += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        try:
            with ctx.uow() as uow:
                session = uow.session
                head = lock_head(session)
                # a job alone needs no savepoint: if it fails, the transaction is its own
                alone = len(batch) == 1
                for queued in batch:
                    _in_job.active = True
                    try:
                        with contextlib.nullcontext() if alone else session.begin_nested():
                            head, queued.result = queued.context.run(queued.job, session, head)
                    except SQLAlchemyError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - the job's own error: its savepoint rolled back
                        queued.error = exc
                    finally:
                        _in_job.active = False
                if alone and batch[0].error is not None:
                    return  # nothing to commit: closing the unit of work rolls its writes back
                uow.commit()
        except BaseException as exc:
            self.failed_batches += 1
            for queued in batch:
                queued.result, queued.error = None, exc
            if not isinstance(exc, Exception):
                raise
            log.warning(
                "a ledger write batch of %d failed and wrote nothing: %s", len(batch), type(exc).__name__
            )
        else:
            log.debug("ledger write batch committed: %d jobs", len(batch))


def sequencer(ctx: Context) -> Sequencer:
    """This process's sequencer for ``ctx`` (a process forked from one that had it starts anew)."""
    current = ctx.caches.get(CACHE_KEY)
    if current is None or current.pid != os.getpid():
        with _creating:
            current = ctx.caches.get(CACHE_KEY)
            if current is None or current.pid != os.getpid():
                current = ctx.caches[CACHE_KEY] = Sequencer()
    return current


def submit(ctx: Context, job: Job) -> Any:
    """Run ``job`` (session, head) -> (new head, result) in this process's next write batch."""
    return sequencer(ctx).submit(ctx, job)
