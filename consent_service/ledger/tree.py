"""The ledger's Merkle tree (RFC 9162 §2.1), stored as tiles, extended as the ledger grows, and the
signed checkpoints and proofs made from it.

The leaves are the ledger's events in seq order (leaf index = seq - 1); a leaf's bytes are the
event's canonical encoding (``chain.canonical_bytes``, what its chain hash is taken of), so that
crypto-shredding, which destroys keys and never rewrites an event, leaves every leaf as it was.

Storage (``ledger_tree_tiles``), in the style of c2sp.org/tlog-tiles with tiles of height
``HEIGHT``: the tile (level L, index t) holds the hashes of the complete nodes of tree level
``HEIGHT * L`` with node indexes ``t * WIDTH`` to ``t * WIDTH + WIDTH - 1``, 32 bytes each;
only the rightmost tile of a level is partial. Any complete aligned subtree's hash is at most
``WIDTH`` stored hashes away (``_subtree``), so the root and every proof need O(log n) tiles,
read in one query (``_tiles``), and O(log n) hashes.

How it follows the ledger: ``ledger_tree_state.size`` counts the events that are leaves.
``extend`` reads the events after it (a run of at most ``BATCH`` seqs up to the head it read;
seqs are committed in order under the head lock, so none can appear below the head later),
hashes their leaves and stores them, holding the state row so that two processes extending at
once never add a leaf twice (on PostgreSQL for the whole run, which no consent
write waits for, and the ledger thread skips a run another process is doing; on SQLite the run
is read first and applied in a short writing transaction only if the size has not moved). In
the same transaction it signs a checkpoint of the new size (``ledger_tree_checkpoints``): c2sp.org/tlog-checkpoint text (origin ``CONSENT_LOG_ORIGIN``,
size, base64 root) in a c2sp.org/signed-note signed with the service's Ed25519 key, whose
verifier key is ``verifier_key``. The service's ledger thread extends the tree every round
(``ledger_thread.ledger_round``), then asks the witnesses to cosign the latest checkpoint
(``cosigning``); the checkpoints served carry the cosignatures stored for them.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, Connection, and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.errors import InvalidInput, NotFound
from consent_service.ledger import chain, cosigning, counts
from consent_service.ledger.models import LedgerEvent, LedgerTreeCheckpoint, LedgerTreeTile
from consent_verify import merkle
from consent_verify import note as tlog

HEIGHT = 4  # tree levels per tile level
WIDTH = 1 << HEIGHT  # hashes per full tile
HASH = 32
BATCH = 5_000  # seqs per run of ``extend``

_STATE = text("SELECT size FROM ledger_tree_state WHERE id = 1")
_STATE_FOR_UPDATE = text("SELECT size FROM ledger_tree_state WHERE id = 1 FOR UPDATE")
_STATE_SKIP_LOCKED = text("SELECT size FROM ledger_tree_state WHERE id = 1 FOR UPDATE SKIP LOCKED")
_GROWN = text("UPDATE ledger_tree_state SET size = :size WHERE id = 1")
_EVENT_COLUMNS = [c for c in LedgerEvent.__table__.columns if c.key != "hash"]

Tiles = dict[tuple[int, int], bytes]


def size(session: Session | Connection) -> int:
    """How many ledger events are leaves of the tree."""
    return int(session.execute(_STATE).scalar_one())


def origin(ctx: Context) -> str:
    """The log's origin line (``CONSENT_LOG_ORIGIN``), also the name of its signing key; by
    default the host (and port) of ``CONSENT_PUBLIC_URL`` followed by ``/consent-ledger``."""
    if ctx.config.log_origin:
        return ctx.config.log_origin
    return f"{urlsplit(ctx.config.public_url).netloc or 'localhost'}/consent-ledger"


def verifier_key(ctx: Context) -> str:
    """The log's verifier key in the c2sp.org/signed-note format."""
    return tlog.verifier_key(origin(ctx), ctx.signer.public_key())


# Reading -------------------------------------------------------------------------------------


def _tile_of(level: int, index: int) -> tuple[int, int, int, int]:
    """(tile level, tile index, first position, count) of the stored hashes under the complete
    aligned subtree (level, index)."""
    tile_level, rest = divmod(level, HEIGHT)
    first = index << rest
    return tile_level, first // WIDTH, first % WIDTH, 1 << rest


def _subtree(tiles: Tiles) -> merkle.Subtree:
    def subtree(level: int, index: int) -> bytes:
        tile_level, tile, first, count = _tile_of(level, index)
        data = tiles.get((tile_level, tile), b"")
        if len(data) < (first + count) * HASH:
            raise RuntimeError(f"the tree has no complete subtree ({level}, {index})")
        return merkle.root([data[i * HASH : (i + 1) * HASH] for i in range(first, first + count)])

    return subtree


_TILE_STATEMENTS: dict[int, Any] = {}


def _tiles_statement(count: int) -> Any:
    """The statement reading ``count`` tiles (at most ``TILES_PER_READ``) by primary key, built
    once per count: an OR of (level, idx) pairs, which every database answers from the primary
    key (a row-value IN list is read as a scan by SQLite)."""
    statement = _TILE_STATEMENTS.get(count)
    if statement is None:
        t = LedgerTreeTile
        pairs = [and_(t.level == bindparam(f"l{i}"), t.idx == bindparam(f"i{i}")) for i in range(count)]
        statement = _TILE_STATEMENTS[count] = select(t.level, t.idx, t.hashes).where(or_(*pairs))
    return statement


TILES_PER_READ = 64  # a proof needs fewer; more (an export's page) are read in several statements


def _tiles(session: Session | Connection, wanted: Iterable[tuple[int, int]]) -> Tiles:
    keys = sorted({_tile_of(level, index)[:2] for level, index in wanted})
    tiles: Tiles = {}
    for start in range(0, len(keys), TILES_PER_READ):
        chunk = keys[start : start + TILES_PER_READ]
        params = {}
        for i, (level, idx) in enumerate(chunk):
            params[f"l{i}"], params[f"i{i}"] = level, idx
        rows = session.execute(_tiles_statement(len(chunk)), params)
        tiles.update({(lv, ix): bytes(data) for lv, ix, data in rows})
    return tiles


def _with_tiles(
    session: Session | Connection, make: Callable[[merkle.Subtree], Any], wanted: Iterable[tuple[int, int]]
) -> Any:
    """``make(subtree)`` with the tiles under ``wanted`` (the subtrees it will ask for, as
    ``merkle``'s ``*_needed`` name them) read in one query."""
    return make(_subtree(_tiles(session, wanted)))


def root_of(session: Session, tree_size: int) -> bytes:
    """MTH of the first ``tree_size`` leaves (``tree_size`` at most the tree's size)."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    return bytes(
        _with_tiles(
            session, lambda sub: merkle.range_hash(0, tree_size, sub), merkle.range_needed(0, tree_size)
        )
    )


def inclusion_paths(session: Session, indexes: Sequence[int], tree_size: int) -> list[list[bytes]]:
    """PATH(index, D[tree_size]) of each of ``indexes``, from one read of the stored tiles
    (``tree_size`` at most the tree's size)."""
    return list(
        _with_tiles(
            session,
            lambda sub: [merkle.inclusion_proof(index, tree_size, sub) for index in indexes],
            [needed for index in indexes for needed in merkle.inclusion_needed(index, tree_size)],
        )
    )


def consistency_path(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) from the stored tiles (``new_size`` at most the tree's size)."""
    return list(
        _with_tiles(
            session,
            lambda sub: merkle.consistency_proof(old_size, new_size, sub),
            merkle.consistency_needed(old_size, new_size),
        )
    )


# Extending -----------------------------------------------------------------------------------


def _leaves(session: Session, after: int, upto: int) -> list[bytes]:
    rows = session.execute(
        select(*_EVENT_COLUMNS)
        .where(LedgerEvent.seq > after, LedgerEvent.seq <= upto)
        .order_by(LedgerEvent.seq)
    )
    leaves = []
    expected = after
    for row in rows:
        expected += 1
        if row.seq != expected:
            raise RuntimeError(f"the ledger has no event {expected} below its head")
        event: Any = row._mapping  # a view of the row, no copy
        leaves.append(merkle.leaf_hash(chain.canonical_bytes(event)))
    if expected != upto:
        raise RuntimeError(f"the ledger has no event {expected + 1} below its head")
    return leaves


def _append(session: Session, old_size: int, leaves: list[bytes]) -> None:
    """Store ``leaves`` after the first ``old_size``: each level's rightmost tile grows, and each
    tile that fills adds its root to the level above."""
    new_nodes, start, level = leaves, old_size, 0
    t = LedgerTreeTile
    while new_nodes:
        first_tile = start // WIDTH
        held = b""
        if start % WIDTH:
            held = session.execute(select(t.hashes).where(t.level == level, t.idx == first_tile)).scalar_one()
        data = bytes(held) + b"".join(new_nodes)
        filled: list[bytes] = []
        for offset in range(0, len(data), WIDTH * HASH):
            chunk = data[offset : offset + WIDTH * HASH]
            index = first_tile + offset // (WIDTH * HASH)
            if offset == 0 and held:
                session.execute(update(t).where(t.level == level, t.idx == index).values(hashes=chunk))
            else:
                session.add(LedgerTreeTile(level=level, idx=index, hashes=chunk))
            if len(chunk) == WIDTH * HASH:
                filled.append(merkle.root([chunk[i * HASH : (i + 1) * HASH] for i in range(WIDTH)]))
        session.flush()
        new_nodes, start, level = filled, first_tile, level + 1


def _sign(ctx: Context, session: Session, tree_size: int, now: dt.datetime) -> None:
    root = root_of(session, tree_size)
    note = tlog.sign_note(
        tlog.checkpoint_body(origin(ctx), tree_size, root), origin(ctx), ctx.signer.ed25519_private_key()
    )
    session.add(LedgerTreeCheckpoint(size=tree_size, root=root, note=note, created_at=now))


def extend(ctx: Context, batch: int = BATCH, *, wait: bool = True) -> int:
    """Add the ledger's events after the tree's size as leaves, in runs of at most ``batch``
    seqs, each signed as a checkpoint; returns how many leaves this call added.

    ``wait=False`` (the ledger thread of every serving process): when another process is
    growing the tree right now, return at once instead of doing the same work after it. On
    PostgreSQL a run is one transaction that holds the tree's state row from the
    start (``FOR UPDATE SKIP LOCKED``, or waiting for it with ``wait``): consent writers never
    touch that row, so holding it while the run's events are read and hashed delays no write,
    and no two processes hash the same run. On SQLite, where any writing transaction holds off
    every writer, a run is read first and applied in a short writing transaction that goes on
    only if the tree's size has not moved (the loser reads again; with ``wait=False`` it stops).
    """
    sqlite = ctx.db.is_sqlite
    added = 0
    while True:
        if sqlite:
            with ctx.uow(write=False) as uow:
                have = size(uow.session)
                head = counts.head_seq(uow.session)
                if head <= have:
                    return added
                upto = min(head, have + batch)
                leaves = _leaves(uow.session, have, upto)
            with ctx.uow() as uow:
                if size(uow.session) != have:  # another process extended it meanwhile
                    if not wait:
                        return added
                    continue
                _grow(ctx, uow.session, have, upto, leaves)
                uow.commit()
        else:
            with ctx.uow() as uow:
                session = uow.session
                state = session.execute(_STATE_FOR_UPDATE if wait else _STATE_SKIP_LOCKED).scalar()
                if state is None:  # another process holds the state row: it is growing the tree
                    return added
                have = int(state)
                head = counts.head_seq(session)
                if head <= have:
                    return added
                upto = min(head, have + batch)
                _grow(ctx, session, have, upto, _leaves(session, have, upto))
                uow.commit()
        added += upto - have


def _grow(ctx: Context, session: Session, have: int, upto: int, leaves: list[bytes]) -> None:
    _append(session, have, leaves)
    session.execute(_GROWN, {"size": upto})
    _sign(ctx, session, upto, ctx.now())


# Checkpoints and proofs ----------------------------------------------------------------------


def latest_checkpoint(ctx: Context) -> str:
    """The signed note of the latest checkpoint with the witnesses' cosignatures stored for it
    (``cosigning.cosigned_note``); NotFound while the tree is empty."""
    with ctx.uow(write=False) as uow:
        latest = uow.session.scalars(
            select(LedgerTreeCheckpoint.size).order_by(LedgerTreeCheckpoint.size.desc()).limit(1)
        ).first()
        note = cosigning.cosigned_note(uow.session, latest) if latest is not None else None
    if note is None:
        raise NotFound("the log has no checkpoint yet: its tree is empty")
    return note


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# The tree's size now and the checkpoint of the size asked for (default: that size) with its
# cosignatures, in one statement: a proof is then two round trips (this, and its tiles).
_SIZE_AND_CHECKPOINT = text(
    "SELECT s.size, c.note, w.witness, w.key_id, w.line FROM ledger_tree_state s "
    "LEFT JOIN ledger_tree_checkpoints c ON c.size = COALESCE(:want, s.size) "
    "LEFT JOIN ledger_tree_cosignatures w ON w.size = c.size WHERE s.id = 1 ORDER BY w.witness"
).bindparams(bindparam("want", type_=BigInteger()))


def _in_range(have: int, tree_size: int | None, name: str) -> int:
    """``tree_size`` (default ``have``, the tree's size now) if it is a size of the tree."""
    if have == 0:
        raise NotFound("the log's tree is empty: no event is in a checkpoint yet")
    if tree_size is None:
        return have
    if not 1 <= tree_size <= have:
        raise InvalidInput(
            f"'{name}' is out of range", errors={name: [f"a tree size from 1 to {have}, the log's size now"]}
        )
    return tree_size


def inclusion(ctx: Context, seq: int, tree_size: int | None = None) -> dict[str, Any]:
    """The audit path of the event ``seq`` in the tree of ``tree_size`` leaves (default: the
    tree's size now), with its leaf hash and that tree's root (all base64), the checkpoint of
    that size with its cosignatures if the log signed one, and whether witnesses' cosignatures
    make it witnessed (``witnessed``, ``cosigners``).

    Read outside a transaction (``Database.immutable_reads``), in two statements: the size and
    the checkpoint, then the tiles. That is consistent because what a tree of ``n`` leaves
    reads never changes once the size ``n`` is committed: its tiles' first hashes, and its
    signed checkpoint, were written in that same transaction (cosignatures may be added later)."""
    with ctx.db.immutable_reads() as conn:
        rows = conn.execute(_SIZE_AND_CHECKPOINT, {"want": tree_size}).all()
        n = _in_range(int(rows[0].size), tree_size, "size")
        if not 1 <= seq <= n:
            raise InvalidInput(
                "'seq' is not in that tree", errors={"seq": [f"an event from 1 to {n} (the tree's leaves)"]}
            )
        index = seq - 1
        path, leaf, root = _with_tiles(  # the path, the leaf and the root from one read of tiles
            conn,
            lambda sub: (merkle.inclusion_proof(index, n, sub), sub(0, index), merkle.range_hash(0, n, sub)),
            [*merkle.inclusion_needed(index, n), (0, index), *merkle.range_needed(0, n)],
        )
    return {
        "seq": seq,
        "leaf_index": index,
        "tree_size": n,
        "leaf_hash": _b64(leaf),
        "root_hash": _b64(root),
        "inclusion_path": [_b64(h) for h in path],
        **cosigning.checkpoint_view(ctx.config, rows),
    }


def receipt_inclusion(session: Session, events: Iterable[Any]) -> dict[str, Any] | None:
    """What a receipt's ``inclusion`` holds for ``events`` (mappings with every stored column):
    the latest checkpoint with its cosignatures, its size, and per event its leaf bytes and audit
    path to that checkpoint's root (base64); ``None`` while an event is not yet a leaf."""
    events = list(events)
    rows = session.execute(_SIZE_AND_CHECKPOINT, {"want": None}).all()
    n, checkpoint = int(rows[0].size), cosigning.note_of(rows)
    if not events or max(int(e["seq"]) for e in events) > n or checkpoint is None:
        return None  # (every size the tree grew to is signed in the same transaction)
    indexes = [int(event["seq"]) - 1 for event in events]
    leaves = [
        {
            "eventId": event["id"],
            "leafIndex": index,
            "leaf": _b64(chain.canonical_bytes(event)),
            "inclusionPath": [_b64(h) for h in path],
        }
        for event, index, path in zip(events, indexes, inclusion_paths(session, indexes, n), strict=True)
    ]
    return {"checkpoint": checkpoint, "treeSize": n, "leaves": leaves}


def consistency(ctx: Context, old_size: int, new_size: int) -> dict[str, Any]:
    """The consistency proof between the trees of ``old_size`` and ``new_size`` leaves, with
    both roots (base64); read as ``inclusion`` is, outside a transaction."""
    with ctx.db.immutable_reads() as conn:
        new = _in_range(size(conn), new_size, "to")
        if not 1 <= old_size <= new:
            raise InvalidInput("'from' is out of range", errors={"from": [f"a tree size from 1 to {new}"]})
        path, old_root, new_root = _with_tiles(  # from one read of tiles
            conn,
            lambda sub: (
                merkle.consistency_proof(old_size, new, sub),
                merkle.range_hash(0, old_size, sub),
                merkle.range_hash(0, new, sub),
            ),
            [
                *merkle.consistency_needed(old_size, new),
                *merkle.range_needed(0, old_size),
                *merkle.range_needed(0, new),
            ],
        )
    return {
        "from_": old_size,
        "to": new,
        "old_root_hash": _b64(old_root),
        "new_root_hash": _b64(new_root),
        "consistency_path": [_b64(h) for h in path],
    }


def event_seq(ctx: Context, event_id: str) -> int:
    """The seq of the event with id ``event_id``; NotFound if there is none."""
    with ctx.uow(write=False) as uow:
        seq = uow.session.scalar(select(LedgerEvent.seq).where(LedgerEvent.id == event_id))
    if seq is None:
        raise NotFound(f"no event {event_id!r} in the ledger")
    return int(seq)
