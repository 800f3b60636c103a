"""The ledger's Merkle tree (``ledger.tree``) on SQLite and PostgreSQL: its leaves are the events'
canonical bytes, its roots equal the RFC's MTH of them at every size it signed, every inclusion
and consistency proof it gives verifies with the RFC's algorithms (``consent_verify.merkle``), runs of any
size and extensions racing each other add each leaf once, its checkpoints open with its verifier
key, a shred changes no leaf, and the API answers the proofs and refuses bad arguments with a
problem."""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

import pytest
from sqlalchemy import select, text

from consent_service import create_app
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import chain, tree
from consent_service.ledger.models import LedgerEvent, LedgerTreeCheckpoint
from consent_verify import merkle
from consent_verify import note as tlog
from tests.integration.consent_writes import write


def grow(ctx: Context, visits: int, first: int = 0) -> str:
    """Banner visits and API consents by ``visits`` people (several events each)."""
    site_key = str(seed(ctx)["site"]["site_key"]) if first == 0 else ""
    for i in range(first, first + visits):
        write(
            ctx,
            site_key or _site(ctx),
            ("consent", i, [("newsletter", i % 2 == 0), ("ads", True)], "api", "de"),
        )
    return site_key


def _site(ctx: Context) -> str:
    from consent_service.registry.models import Site

    with ctx.uow(write=False) as uow:
        return str(uow.session.scalars(select(Site.site_key)).first())


def leaves(ctx: Context) -> list[bytes]:
    """The leaf hashes worked out here from the stored events: SHA-256(0x00 ‖ the bytes whose
    SHA-256 is the event's chain hash)."""
    out = []
    with ctx.uow(write=False) as uow:
        for event in uow.session.scalars(select(LedgerEvent).order_by(LedgerEvent.seq)):
            data = chain.canonical_bytes(
                {c.key: getattr(event, c.key) for c in LedgerEvent.__table__.columns}
            )
            assert hashlib.sha256(data).hexdigest() == event.hash
            out.append(hashlib.sha256(b"\x00" + data).digest())
    return out


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_the_tree_holds_the_events_and_every_proof_verifies(any_ctx: Context) -> None:
    ctx = any_ctx
    grow(ctx, 20)
    assert tree.extend(ctx, batch=7) == len(leaves(ctx))  # several runs, tiles of 16 crossed
    expected = leaves(ctx)
    n = len(expected)
    assert n > 2 * tree.WIDTH
    with ctx.uow(write=False) as uow:
        assert tree.size(uow.session) == n
        signed = {c.size: bytes(c.root) for c in uow.session.scalars(select(LedgerTreeCheckpoint))}
        for size in range(1, n + 1):
            assert tree.root_of(uow.session, size) == merkle.root(expected[:size])
    assert signed and all(root == merkle.root(expected[:size]) for size, root in signed.items())
    root = merkle.root(expected)
    for seq in range(1, n + 1):
        proof = tree.inclusion(ctx, seq)
        assert b64(proof["leaf_hash"]) == expected[seq - 1]
        assert merkle.verify_inclusion(
            seq - 1, n, expected[seq - 1], [b64(h) for h in proof["inclusion_path"]], root
        )
    for old in range(1, n + 1, 5):
        answer = tree.consistency(ctx, old, n)
        assert merkle.verify_consistency(
            old, n, merkle.root(expected[:old]), root, [b64(h) for h in answer["consistency_path"]]
        )
    note = tree.latest_checkpoint(ctx)
    text, names = tlog.open_note(note, [tlog.parse_verifier_key(tree.verifier_key(ctx))])
    assert names == [tree.origin(ctx)]
    checkpoint = tlog.parse_checkpoint(text)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (tree.origin(ctx), n, root)


def test_a_tree_grown_in_steps_equals_one_grown_at_once_and_a_shred_changes_no_leaf(any_ctx: Context) -> None:
    ctx = any_ctx
    grow(ctx, 3)
    tree.extend(ctx)
    first = leaves(ctx)
    early = tree.inclusion(ctx, 2)
    write(ctx, _site(ctx), ("erase", 0))  # crypto-shreds a subject, appends a shredded event
    grow(ctx, 30, first=3)
    tree.extend(ctx, batch=5)
    now = leaves(ctx)
    assert now[: len(first)] == first  # the shred rewrote nothing
    with ctx.uow(write=False) as uow:
        assert tree.root_of(uow.session, len(now)) == merkle.root(now)
    again = tree.inclusion(ctx, 2, early["tree_size"])
    assert again["inclusion_path"] == early["inclusion_path"] and again["root_hash"] == early["root_hash"]


def test_extensions_racing_each_other_add_each_leaf_once(any_ctx: Context) -> None:
    ctx = any_ctx
    grow(ctx, 25)
    start = threading.Barrier(3)
    added: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            added.append(tree.extend(ctx, batch=3))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    expected = leaves(ctx)
    assert sum(added) == len(expected)
    with ctx.uow(write=False) as uow:
        assert tree.size(uow.session) == len(expected)
        assert tree.root_of(uow.session, len(expected)) == merkle.root(expected)


@pytest.mark.postgres
def test_the_ledger_thread_leaves_a_run_to_the_process_doing_it(pg_ctx: Context) -> None:
    """With the state row held by another process's run, ``wait=False`` returns at once and
    adds nothing; the run that waits adds each leaf once, after the holder is done."""
    ctx = pg_ctx
    grow(ctx, 3)
    expected = leaves(ctx)
    holder = ctx.db.engine.connect()
    try:
        holder.execute(text("SELECT size FROM ledger_tree_state WHERE id = 1 FOR UPDATE"))
        added: list[int] = []
        skipping = threading.Thread(target=lambda: added.append(tree.extend(ctx, wait=False)), daemon=True)
        skipping.start()
        skipping.join(timeout=10)
        assert added == [0], "it waited for the holder instead of leaving the run to it"
    finally:
        holder.rollback()
        holder.close()
    assert tree.extend(ctx, wait=False) == len(expected)
    assert tree.extend(ctx) == 0
    with ctx.uow(write=False) as uow:
        assert tree.root_of(uow.session, len(expected)) == merkle.root(expected)


@pytest.fixture
def client(ctx: Context) -> Any:
    return create_app(context=ctx).test_client()


def test_the_api_serves_the_checkpoint_the_key_and_the_proofs(ctx: Context, client: Any) -> None:
    """All of it without credentials: hashes and signed checkpoints, for anyone holding a receipt."""
    seed(ctx)
    empty = client.get("/v1/ledger/checkpoint")
    assert empty.status_code == 404 and empty.mimetype == "application/problem+json"
    grow(ctx, 4, first=1)
    tree.extend(ctx)
    expected = leaves(ctx)
    n = len(expected)
    note = client.get("/v1/ledger/checkpoint")
    key = client.get("/v1/ledger/key")
    assert note.status_code == key.status_code == 200 and note.mimetype == "text/plain"
    text, _ = tlog.open_note(
        note.get_data(as_text=True), [tlog.parse_verifier_key(key.get_data(as_text=True).strip())]
    )
    assert tlog.parse_checkpoint(text).size == n

    with ctx.uow(write=False) as uow:
        event_id = uow.session.scalar(select(LedgerEvent.id).where(LedgerEvent.seq == 3))
    # no credentials: a receipt's holder (a banner has none) asks for the proofs
    by_seq = client.get(f"/v1/ledger/proofs/inclusion?seq=3&size={n}")
    by_id = client.get(f"/v1/ledger/proofs/inclusion?event={event_id}")
    assert by_seq.status_code == by_id.status_code == 200
    assert by_seq.get_json() == by_id.get_json()
    proof = by_seq.get_json()
    assert proof["checkpoint"] == note.get_data(as_text=True)
    assert merkle.verify_inclusion(
        2, n, expected[2], [b64(h) for h in proof["inclusion_path"]], merkle.root(expected)
    )
    consistent = client.get(f"/v1/ledger/proofs/consistency?from=2&to={n}").get_json()
    assert merkle.verify_consistency(
        2,
        n,
        merkle.root(expected[:2]),
        merkle.root(expected),
        [b64(h) for h in consistent["consistency_path"]],
    )

    for url in (
        f"/v1/ledger/proofs/inclusion?seq={n + 1}",
        f"/v1/ledger/proofs/inclusion?seq=1&size={n + 1}",
        "/v1/ledger/proofs/inclusion?seq=1&event=x",
        "/v1/ledger/proofs/inclusion",
        "/v1/ledger/proofs/inclusion?seq=0",
        f"/v1/ledger/proofs/consistency?from={n}&to=2",
        "/v1/ledger/proofs/consistency?from=1",
    ):
        bad = client.get(url)
        assert bad.status_code == 422 and bad.mimetype == "application/problem+json", url
    unknown = client.get("/v1/ledger/proofs/inclusion?event=no-such-event")
    assert unknown.status_code == 404
