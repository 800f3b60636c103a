"""Witnesses' cosignatures on the Merkle tree's checkpoints (c2sp.org/tlog-witness and
c2sp.org/tlog-cosignature).

``CONSENT_LOG_WITNESSES`` lists the witnesses, each as its cosigner verifier key and the URL of
its ``add-checkpoint``; ``CONSENT_LOG_WITNESS_QUORUM`` (k, default all n) says how many
cosignatures make a checkpoint *witnessed*. A witness cosigns a checkpoint only after checking
that the tree it last cosigned is a prefix of the new one, so a witnessed checkpoint is one that
k independent parties saw extend the history they saw before: the log cannot show another
history to someone else without every one of them refusing it.

``cosign_round`` (called by the ledger thread after the tree grew, outside any consent write)
posts the latest checkpoint to each due witness with the consistency proof from the size that
witness last cosigned (``ledger_tree_witnesses.size``; none from 0). A 409 names the size the
witness holds: the round retries once with a proof from there. A cosignature is stored
(``ledger_tree_cosignatures``) only after it verified with the witness's configured key; any
other answer, a refused address (``outbound``), a timeout or a cosignature that does not verify
stores nothing, records the error and waits before the next try (5 s doubling, at most an
hour). Only the latest checkpoint is asked for: older ones keep what they got.

``note_of`` / ``cosigned_note`` is a checkpoint's note with its stored cosignature lines after
the log's signature, as ``GET /v1/ledger/checkpoint``, the inclusion proofs and receipts serve
it; ``checkpoint_view`` adds whether it is witnessed and by whom; ``status`` reports on each
witness.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service import outbound
from consent_service.config import Config
from consent_service.context import Context
from consent_service.ledger.models import LedgerTreeCheckpoint, LedgerTreeCosignature, LedgerTreeWitness
from consent_service.ledger.witness import mark_attempt
from consent_verify import note as tlog

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
MAX_ANSWER = 64 * 1024  # bytes read of a witness's answer
_SIZE = re.compile(r"(0|[1-9][0-9]*)\n")


@dataclass(frozen=True)
class ConfiguredWitness:
    """One entry of ``CONSENT_LOG_WITNESSES``: the witness's key and its add-checkpoint URL."""

    verifier: tlog.Verifier
    url: str

    @property
    def name(self) -> str:
        return self.verifier.name


def configured(config: Config) -> list[ConfiguredWitness]:
    """The witnesses of ``CONSENT_LOG_WITNESSES`` (their keys were checked at start)."""
    return [ConfiguredWitness(tlog.parse_verifier_key(vkey), url) for vkey, url in config.log_witnesses]


def quorum(config: Config) -> int:
    """How many cosignatures make a checkpoint witnessed: ``CONSENT_LOG_WITNESS_QUORUM`` or all."""
    return config.log_witness_quorum or len(config.log_witnesses)


# Reading -------------------------------------------------------------------------------------


# The checkpoint of one size and its cosignatures, in one statement compiled once (a proof
# reads it on every request).
_CHECKPOINT = text(
    "SELECT c.note, s.witness, s.key_id, s.line FROM ledger_tree_checkpoints c "
    "LEFT JOIN ledger_tree_cosignatures s ON s.size = c.size WHERE c.size = :size ORDER BY s.witness"
)


def note_of(rows: Sequence[Any]) -> str | None:
    """The signed note of a checkpoint with every cosignature stored for it after the log's
    signature, from the rows of the checkpoint joined with its cosignatures (columns ``note``,
    ``witness``, ``key_id``, ``line``); None for no row or a null ``note``: no checkpoint."""
    rows = [row for row in rows if row.note is not None]
    return rows[0].note + "".join(row.line for row in rows if row.witness is not None) if rows else None


def checkpoint_view(config: Config, rows: Sequence[Any]) -> dict[str, Any]:
    """A checkpoint as served, from the rows of ``note_of``: ``checkpoint`` (``note_of``);
    ``witnessed``, at least the quorum of the configured witnesses cosigned it (never with none
    configured); ``cosigners``, which of them did, by name."""
    keys = {w.name: w.verifier.key_id.hex() for w in configured(config)} if config.log_witnesses else {}
    cosigners = [
        row.witness
        for row in rows
        if row.note is not None and row.witness is not None and keys.get(row.witness) == row.key_id
    ]
    return {
        "checkpoint": note_of(rows),
        "witnessed": bool(keys) and len(cosigners) >= quorum(config),
        "cosigners": cosigners,
    }


def cosigned_note(session: Session, size: int) -> str | None:
    """``note_of`` the checkpoint of ``size``: None if the log signed no checkpoint of that size."""
    return note_of(session.execute(_CHECKPOINT, {"size": size}).all())


def status(ctx: Context) -> dict[str, Any]:
    """The latest checkpoint's size and witnessing, and per configured witness the size it
    last cosigned, its failed attempts in a row and its last error."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        latest = session.scalar(select(LedgerTreeCheckpoint.size).order_by(LedgerTreeCheckpoint.size.desc()))
        rows = {r.name: r for r in session.scalars(select(LedgerTreeWitness))}
        view = checkpoint_view(
            ctx.config, session.execute(_CHECKPOINT, {"size": latest}).all() if latest is not None else []
        )
        return {
            "size": latest,
            "quorum": quorum(ctx.config),
            "witnessed": view["witnessed"],
            "cosigners": view["cosigners"],
            "witnesses": [
                {
                    "name": w.name,
                    "url": w.url,
                    "cosigned_size": rows[w.name].size if w.name in rows else 0,
                    "attempts": rows[w.name].attempts if w.name in rows else 0,
                    "last_error": rows[w.name].last_error if w.name in rows else None,
                }
                for w in configured(ctx.config)
            ],
        }


# Asking the witnesses ------------------------------------------------------------------------


class _Refused(Exception):  # noqa: N818 - it is what the witness did
    """The witness gave no valid cosignature; ``size`` is its size if it told it."""

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


def _body(ctx: Context, old: int, size: int, note: str) -> bytes:
    from consent_service.ledger import tree  # tree serves cosigned notes from this module

    proof = tree.consistency(ctx, old, size)["consistency_path"] if old else []
    return ("".join([f"old {old}\n", *(line + "\n" for line in proof), "\n", note])).encode("utf-8")


def _post(url: str, body: bytes, policy: outbound.Policy) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with outbound.urlopen(request, policy, timeout=TIMEOUT_S) as response:
            return int(response.status), bytes(response.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:  # a 4xx or 5xx: its status and body
        with exc:
            return exc.code, bytes(exc.read(MAX_ANSWER))
    except (OSError, ValueError) as exc:  # URLError, timeouts, RefusedURL
        raise _Refused(f"{type(exc).__name__}: {exc}") from None


def _verified(witness: ConfiguredWitness, note: str, answer: bytes) -> tuple[str, int]:
    """(line, time) of the witness's cosignature in its answer, verified with its key."""
    try:
        lines = answer.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        raise _Refused("the witness answered 200 with a body that is not UTF-8") from None
    prefix = f"{tlog.DASH} {witness.name} "
    for line in lines:
        if not line.startswith(prefix) or not line.endswith("\n"):
            continue
        try:
            raw = base64.b64decode(line[len(prefix) :].strip(), validate=True)
        except binascii.Error:
            continue
        if raw[:4] != witness.verifier.key_id:
            continue
        try:
            opened = tlog.verify_note(note + line, [witness.verifier])
        except ValueError as exc:
            raise _Refused(f"the witness's cosignature does not verify with its key: {exc}") from None
        timestamp = opened.signers.get(witness.name)
        if timestamp is None:
            raise _Refused("the witness's answer holds no cosignature/v1 of its key")
        return line, timestamp
    raise _Refused("the witness answered 200 without a cosignature of its configured key")


def _ask(ctx: Context, witness: ConfiguredWitness, old: int, size: int, note: str) -> tuple[str, int]:
    """The witness's verified cosignature line and time on the checkpoint of ``size``."""
    policy = outbound.Policy.from_config(ctx.config)
    for retry in (False, True):
        status, answer = _post(witness.url, _body(ctx, old, size, note), policy)
        if status == 200:
            return _verified(witness, note, answer)
        text = answer[:300].decode("utf-8", "replace").strip()
        matched = _SIZE.fullmatch(answer.decode("ascii", "replace")) if status == 409 else None
        if matched is None:
            raise _Refused(
                f"the witness answered {status} to the checkpoint of size {size} with a proof from {old}: {text}",
                size=old if retry else None,  # after a 409, the size it said it holds
            )
        theirs = int(matched.group(1))
        if theirs == old:  # the size sent, another root: it holds another history
            raise _Refused(f"the witness holds another tree of size {old} (409)", size=theirs)
        if theirs > size:
            raise _Refused(
                f"the witness cosigned a tree of size {theirs}, larger than the log's latest ({size})",
                size=theirs,
            )
        if retry:
            raise _Refused(f"the witness's size moved from {old} to {theirs} meanwhile (409)", size=theirs)
        old = theirs
    raise AssertionError("unreachable")


def _due(ctx: Context, witness: ConfiguredWitness, size: int) -> int | None:
    """The size the witness last cosigned, if it is due to be asked about the checkpoint of
    ``size`` (its row is created at first use); None when it waits or already cosigned it.
    Read first: a writing transaction (which on SQLite holds off consent writes) only at first use."""
    now = ctx.now()
    with ctx.uow(write=False) as uow:
        row = uow.session.get(LedgerTreeWitness, witness.name)
        if row is not None:
            if row.next_attempt_at > now:
                return None
            if row.size == size and uow.session.get(LedgerTreeCosignature, (size, witness.name)) is not None:
                return None
            return int(row.size)
    with ctx.uow() as uow:
        session = uow.session
        row = session.get(LedgerTreeWitness, witness.name)
        if row is None:
            row = LedgerTreeWitness(
                name=witness.name, size=0, attempts=0, next_attempt_at=now, last_error=None
            )
            session.add(row)
            uow.commit()
        if row.next_attempt_at > now:
            return None
        return int(row.size)


def _record(ctx: Context, witness: ConfiguredWitness, *, size: int | None, error: str | None) -> None:
    now = ctx.now()
    with ctx.uow() as uow:
        row = uow.session.get(LedgerTreeWitness, witness.name)
        assert row is not None
        if size is not None:
            row.size = size
        mark_attempt(row, now, error)
        uow.commit()


def _store(ctx: Context, witness: ConfiguredWitness, size: int, line: str, timestamp: int) -> None:
    try:
        with ctx.uow() as uow:
            if uow.session.get(LedgerTreeCosignature, (size, witness.name)) is None:
                uow.session.add(
                    LedgerTreeCosignature(
                        size=size,
                        witness=witness.name,
                        key_id=witness.verifier.key_id.hex(),
                        timestamp=timestamp,
                        line=line,
                    )
                )
                uow.commit()
    except IntegrityError:
        pass  # another process stored the same witness's cosignature of this size meanwhile


def cosign_round(ctx: Context) -> dict[str, int | str]:
    """Ask every due witness to cosign the latest checkpoint; per witness asked, the size it
    cosigned or the error (also recorded in ``ledger_tree_witnesses``)."""
    witnesses = configured(ctx.config)
    if not witnesses:
        return {}
    with ctx.uow(write=False) as uow:
        latest = uow.session.scalars(
            select(LedgerTreeCheckpoint).order_by(LedgerTreeCheckpoint.size.desc()).limit(1)
        ).first()
        if latest is None:
            return {}
        size, note = int(latest.size), latest.note
    results: dict[str, int | str] = {}
    for witness in witnesses:
        old = _due(ctx, witness, size)
        if old is None:
            continue
        try:
            if old > size:
                raise _Refused(
                    f"the witness cosigned a tree of size {old}, larger than the log's latest ({size})"
                )
            line, timestamp = _ask(ctx, witness, old, size, note)
        except _Refused as exc:
            log.warning("witness %s did not cosign the checkpoint of size %s: %s", witness.name, size, exc)
            _record(ctx, witness, size=exc.size, error=str(exc))
            results[witness.name] = str(exc)
            continue
        _store(ctx, witness, size, line, timestamp)
        _record(ctx, witness, size=size, error=None)
        results[witness.name] = size
    return results
