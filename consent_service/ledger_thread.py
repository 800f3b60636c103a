"""The ledger's follower thread: what follows the ledger once events are written, every
``CHECKPOINT_POLL_SECONDS`` and soon after each local write (``ledger_round``): the Merkle tree
grows and signs a checkpoint of its new size, the consent counts catch up, the hash chain's
checkpoints are signed when due and delivered to witnesses, and the tree's witnesses cosign its
latest checkpoint. Started by ``jobs`` in the serving process (embedded queue) or in
``consent-service worker`` (with a broker), one per context.

Wiring, like ``jobs``: it calls the ledger's service functions and holds no rule of its own.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any

from consent_service.config import Config
from consent_service.context import Context

log = logging.getLogger(__name__)

CHECKPOINT_POLL_SECONDS = 2.0
# After a write woke the thread, the round waits until this long after the last one began, so
# that the writes of that moment share one run of the tree and one checkpoint: a receipt's
# event is in a checkpoint within about this long plus a round, and a busy process signs at
# most a couple of checkpoints a second.
TREE_GAP_SECONDS = 0.5
CHECKPOINTER = "checkpoint-schedule"  # ctx.caches key: the thread runs (its stop event)
_lock = threading.Lock()


def checkpoints_enabled(config: Config) -> bool:
    return config.checkpoint_events > 0 or config.checkpoint_seconds > 0


def checkpoint_round(ctx: Context) -> dict[str, Any] | None:
    """Sign a checkpoint if one is due, then deliver checkpoints to the witnesses."""
    from consent_service.ledger.checkpoints import auto_checkpoint
    from consent_service.ledger.witness import deliver_checkpoints

    doc = auto_checkpoint(ctx)
    if ctx.config.witness_urls:
        deliver_checkpoints(ctx)
    return doc


def ledger_round(ctx: Context) -> None:
    """What follows the ledger, once: the Merkle tree grows by the events written since and signs
    a checkpoint of its new size (``ledger.tree.extend``), the consent counts catch up with them
    (``ledger.stats.catch_up``), then a checkpoint round of the hash chain when those are on, and
    last the witnesses are asked to cosign the tree's latest checkpoint (``ledger.cosigning``),
    after the rest so that a slow witness delays nothing else. Each part survives the others'
    failure (a database hiccup, a witness down): the next round tries again."""
    from consent_service.ledger import tree
    from consent_service.ledger.cosigning import cosign_round
    from consent_service.ledger.stats import catch_up

    try:
        tree.extend(ctx, wait=False)  # another process growing it now does this run
    except Exception:  # noqa: BLE001 - the tree grows in the next round
        log.exception("adding the new ledger events to the Merkle tree failed; trying again later")
    try:
        catch_up(ctx, wait=False)  # another process counting now does this run
    except Exception:  # noqa: BLE001 - the counts catch up in the next round
        log.exception("counting the new ledger events failed; trying again later")
    if checkpoints_enabled(ctx.config):
        try:
            checkpoint_round(ctx)
        except Exception:  # noqa: BLE001 - checkpoints must survive a database hiccup
            log.exception("making a ledger checkpoint failed; trying again later")
    if ctx.config.log_witnesses:
        try:
            cosign_round(ctx)
        except Exception:  # noqa: BLE001 - the witnesses are asked again in the next round
            log.exception("asking the witnesses to cosign the tree's checkpoint failed; trying again later")


def _checkpointer(ctx: Context, stop: threading.Event, wake: threading.Event, every: float) -> None:
    began = 0.0
    while not stop.is_set():
        if wake.wait(every):
            stop.wait(max(0.0, began + TREE_GAP_SECONDS - time.monotonic()))
        wake.clear()
        if stop.is_set():
            return
        began = time.monotonic()
        ledger_round(ctx)


def start_checkpointer(ctx: Context, every: float | None = None) -> threading.Event:
    """The ledger's follower: a daemon thread doing ``ledger_round`` every ``every`` s (at most
    ``CHECKPOINT_POLL_SECONDS``) and soon after a write in this process (``TREE_GAP_SECONDS``
    after the round before at the earliest). Set the returned event to stop it."""
    from consent_service.ledger.checkpoints import NUDGE

    if every is None:
        every = min(CHECKPOINT_POLL_SECONDS, float(ctx.config.checkpoint_seconds or CHECKPOINT_POLL_SECONDS))
    stop = threading.Event()
    with _lock:
        wake = ctx.caches.setdefault(NUDGE, threading.Event())
    threading.Thread(
        target=_checkpointer, args=(ctx, stop, wake, every), name="ledger-checkpoints", daemon=True
    ).start()
    atexit.register(stop.set)
    return stop


def ensure_checkpointer(ctx: Context) -> threading.Event | None:
    """Start the checkpoint thread for ``ctx`` unless one runs; returns its stop event if started."""
    with _lock:
        if CHECKPOINTER in ctx.caches:
            return None
        ctx.caches[CHECKPOINTER] = True
    stop = ctx.caches[CHECKPOINTER] = start_checkpointer(ctx)
    return stop
