"""The proof benchmark's shortcut (``bench.proofs``): a tree written directly as tiles from leaf
hashes is, byte for byte, the tree ``ledger.tree.extend`` stores for real events with those leaf
hashes, and gives the same roots, proofs and checkpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from bench import proofs, stats
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import chain, tree
from consent_service.ledger.models import LedgerEvent, LedgerTreeCheckpoint, LedgerTreeTile


def _tiles(ctx: Context) -> dict[tuple[int, int], bytes]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(select(LedgerTreeTile.level, LedgerTreeTile.idx, LedgerTreeTile.hashes))
        return {(level, idx): bytes(data) for level, idx, data in rows}


def _leaves(ctx: Context) -> list[bytes]:
    columns = list(LedgerEvent.__table__.columns)
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(select(*columns).order_by(LedgerEvent.seq)).mappings()
        return [hashlib.sha256(b"\x00" + chain.canonical_bytes(row)).digest() for row in rows]


def _answers(ctx: Context, n: int) -> list[Any]:
    """Roots, inclusion proofs (with the checkpoint of n) and consistency proofs across the tree."""
    seqs = sorted({1, 2, 15, 16, 17, 255, 256, 257, n // 2, n - 1, n})
    with ctx.uow(write=False) as uow:
        roots = [tree.root_of(uow.session, size) for size in seqs]
    return [
        roots,
        [tree.inclusion(ctx, seq) for seq in seqs],
        [tree.consistency(ctx, a, b) for a in seqs for b in seqs if a <= b],
    ]


@pytest.mark.parametrize("n", [1_000, 4_097])
def test_tiles_written_from_leaf_hashes_equal_the_tree_extend_builds(any_ctx: Context, n: int) -> None:
    ctx = any_ctx
    seed(ctx)
    purposes, sites = stats.register_extras(ctx)
    with ctx.uow(write=False) as uow:
        before = int(uow.session.execute(text("SELECT seq FROM ledger_head")).scalar_one())
    stats.seed_ledger(ctx, n - before, purposes, sites, chained=True, exact=True)
    assert tree.extend(ctx, batch=997) == n  # runs that end inside tiles, as the ledger thread's do
    leaves = _leaves(ctx)
    assert len(leaves) == n
    extended = _tiles(ctx)
    expected = _answers(ctx, n)

    assert {(level, idx): data for level, idx, data in proofs.build_tiles(leaves)} == extended

    with ctx.uow() as uow:  # the same database with its tree emptied, then written directly
        uow.session.execute(delete(LedgerTreeTile))
        uow.session.execute(delete(LedgerTreeCheckpoint))
        uow.session.execute(text("UPDATE ledger_tree_state SET size = 0 WHERE id = 1"))
        uow.commit()
    written = proofs.write_tree(ctx, iter(leaves), n)
    assert written["tiles"] == len(extended)
    assert _tiles(ctx) == extended
    assert _answers(ctx, n) == expected
    assert tree.extend(ctx) == 0  # the ledger thread finds nothing left to add


def test_the_synthetic_leaves_make_proofs_that_verify(any_ctx: Context) -> None:
    ctx = any_ctx
    n = 4_097
    proofs.write_tree(ctx, proofs.leaf_hashes(n), n)
    timed = proofs.in_process(ctx, n, calls=50, warmup=2)
    assert timed["checked"] == {"inclusion": 50, "consistency": 50, "root": timed["checked"]["root"]}
    assert timed["inclusion"]["calls"] == 50


def test_many_paths_at_once_read_their_tiles_in_several_statements_and_verify(any_ctx: Context) -> None:
    """An export's page asks for more tiles than one statement reads (``tree.TILES_PER_READ``)."""
    from consent_verify import merkle

    ctx = any_ctx
    n = 4_097
    leaves = list(proofs.leaf_hashes(n))
    proofs.write_tree(ctx, iter(leaves), n)
    indexes = list(range(0, n, 7))
    assert len({i // tree.WIDTH for i in indexes}) > tree.TILES_PER_READ  # several reads of tiles
    with ctx.uow(write=False) as uow:
        paths = tree.inclusion_paths(uow.session, indexes, n)
    root = merkle.root(leaves)
    assert all(merkle.verify_inclusion(i, n, leaves[i], p, root) for i, p in zip(indexes, paths, strict=True))
