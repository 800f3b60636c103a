"""Witnesses cosign the Merkle tree's checkpoints (``ledger.cosigning``) on SQLite and PostgreSQL,
with real witnesses of ``consent_verify.witness`` on local HTTP ports (the command
``consent-service-witness`` in its own process, or the same code in a thread): the checkpoint
served carries each cosignature after the log's signature and it verifies with the witness's
key; the tree grows and the witness follows it by consistency proofs; the quorum counts the
configured witnesses that cosigned (one of two down: k=1 witnessed, k=2 not); a witness with
another history refuses, and the log stores nothing for it and records why, as it does for a
cosignature that does not verify and a witness on a refused address."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from consent_service import create_app
from consent_service.context import Context
from consent_service.ledger import cosigning, tree
from consent_service.ledger.models import LedgerTreeCosignature
from consent_service.ledger_thread import ledger_round
from consent_service.wiring import bootstrap
from consent_verify import note as tlog
from consent_verify import witness as w
from tests.integration.test_checkpoints import closed_port_url
from tests.integration.test_ledger_tree import grow

ROOT = Path(__file__).parents[2]


class Embedded:
    """A witness of the context's log served on a free 127.0.0.1 port in a thread."""

    def __init__(self, ctx: Context, folder: Path, name: str) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.vkey = tlog.cosigner_key(name, self.key.public_key())
        self.state = folder / f"{name.replace('/', '_')}.json"
        self.witness = w.Witness(name, self.key, tree.origin(ctx), tree.verifier_key(ctx), self.state)
        self.httpd = w.server(self.witness, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/add-checkpoint"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Any]:
    made: list[Embedded] = []

    def make(ctx: Context, name: str = "witness.example/w1") -> Embedded:
        made.append(Embedded(ctx, tmp_path, name))
        return made[-1]

    yield make
    for one in made:
        one.close()


def with_witnesses(ctx: Context, *witnesses: tuple[str, str], quorum: int = 0, **overrides: Any) -> Context:
    return bootstrap(
        ctx.config.with_overrides(log_witnesses=witnesses, log_witness_quorum=quorum, **overrides)
    )


def verified(note: str, ctx: Context, *vkeys: str) -> dict[str, int | None]:
    verifiers = [tlog.parse_verifier_key(tree.verifier_key(ctx))] + [
        tlog.parse_verifier_key(v) for v in vkeys
    ]
    return tlog.verify_note(note, verifiers).signers


def checkpoint_size(note: str) -> int:
    return tlog.parse_checkpoint(note.split("\n\n")[0] + "\n").size


def stored(ctx: Context) -> list[tuple[int, str]]:
    with ctx.uow(write=False) as uow:
        c = LedgerTreeCosignature
        return [(r.size, r.witness) for r in uow.session.scalars(select(c).order_by(c.size, c.witness))]


def by_name(ctx: Context) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in cosigning.status(ctx)["witnesses"]}


@pytest.fixture
def command_witness(ctx: Context, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``consent-service-witness keygen`` and ``serve`` in their own process, on a free port:
    (its verifier key, its URL, its state file)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "consent_verify.witness"]
    key_file, state = tmp_path / "witness.key", tmp_path / "witness-state.json"
    made = subprocess.run(
        [*command, "keygen", "--name", "witness.example/cmd", "--out", str(key_file)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    vkey = made.stdout.strip()
    serving = subprocess.Popen(
        [*command, "serve", "--key", str(key_file), "--log-key", tree.verifier_key(ctx)]
        + ["--state", str(state), "--bind", "127.0.0.1:0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serving.stderr is not None
        url = ""
        for _ in range(5):
            found = re.search(r"listening on (http://\S+)", serving.stderr.readline())
            if found:
                url = found.group(1)
                break
        assert url, "the witness did not start"
        drain = threading.Thread(target=serving.stderr.read, daemon=True)  # keep its pipe drained
        drain.start()
        yield vkey, url, state
    finally:
        serving.terminate()
        serving.wait(timeout=10)
        if serving.stderr is not None:
            drain.join(timeout=10)
            serving.stderr.close()


def test_the_command_s_witness_cosigns_the_checkpoint_served_and_follows_the_tree(
    ctx: Context, command_witness: tuple[str, str, Path]
) -> None:
    vkey, url, state = command_witness
    log = with_witnesses(ctx, (vkey, url))
    grow(log, 3)
    tree.extend(log)
    first = tree.latest_checkpoint(log)
    size = checkpoint_size(first)
    assert cosigning.cosign_round(log) == {"witness.example/cmd": size}
    served = create_app(context=log).test_client().get("/v1/ledger/checkpoint")
    assert served.status_code == 200 and served.mimetype == "text/plain"
    note = served.get_data(as_text=True)
    assert note.startswith(first) and note != first  # the log's signature, then the cosignature
    signers = verified(note, log, vkey)
    assert list(signers) == [tree.origin(log), "witness.example/cmd"]
    assert isinstance(signers["witness.example/cmd"], int)
    grow(log, 2, first=3)
    tree.extend(log)
    ledger_round(log)  # the ledger thread's round asks the witness too, with a proof from `size`
    grown = tree.latest_checkpoint(log)
    new_size = checkpoint_size(grown)
    assert new_size > size and "witness.example/cmd" in verified(grown, log, vkey)
    assert stored(log) == [(size, "witness.example/cmd"), (new_size, "witness.example/cmd")]
    assert state.read_text().count(f'"size": {new_size}') == 1  # the witness's own record
    assert by_name(log)["witness.example/cmd"]["cosigned_size"] == new_size
    assert cosigning.cosign_round(log) == {}  # nothing new: nothing asked
    log.db.dispose()


def test_the_quorum_counts_the_witnesses_that_cosigned(any_ctx: Context, embedded: Any) -> None:
    up, down = embedded(any_ctx), closed_port_url()
    down_vkey = tlog.cosigner_key("witness.example/down", Ed25519PrivateKey.generate().public_key())
    one = with_witnesses(any_ctx, (up.vkey, up.url), (down_vkey, down), quorum=1)
    grow(one, 3)
    tree.extend(one)
    results = cosigning.cosign_round(one)
    size = tree.inclusion(one, 1)["tree_size"]
    assert results["witness.example/w1"] == size and "URLError" in str(results["witness.example/down"])
    proof = tree.inclusion(one, 1)
    assert proof["witnessed"] is True and proof["cosigners"] == ["witness.example/w1"]
    assert "witness.example/w1" in verified(proof["checkpoint"], one, up.vkey)
    report = cosigning.status(one)
    assert report["witnessed"] is True and report["quorum"] == 1 and report["size"] == size
    assert by_name(one)["witness.example/down"]["attempts"] == 1
    assert "URLError" in by_name(one)["witness.example/down"]["last_error"]
    assert cosigning.cosign_round(one) == {}  # the one down waits before it is asked again
    two = with_witnesses(any_ctx, (up.vkey, up.url), (down_vkey, down))  # k = all = 2
    assert tree.inclusion(two, 1)["witnessed"] is False
    assert cosigning.status(two)["witnessed"] is False and cosigning.status(two)["quorum"] == 2
    nobody = with_witnesses(any_ctx)
    assert tree.inclusion(nobody, 1)["witnessed"] is False  # no witness configured: not witnessed
    for made in (one, two, nobody):
        made.db.dispose()


def _forge_state(path: Path, origin: str, size: int) -> None:
    root = base64.b64encode(bytes(range(32))).decode()
    path.write_text(json.dumps({"logs": {origin: {"size": size, "root": root}}}))


def test_a_witness_with_another_history_refuses_and_nothing_is_stored(
    any_ctx: Context, embedded: Any
) -> None:
    grow(any_ctx, 3)
    tree.extend(any_ctx)
    size = tree.inclusion(any_ctx, 1)["tree_size"]
    smaller, same = embedded(any_ctx, "witness.example/smaller"), embedded(any_ctx, "witness.example/same")
    _forge_state(smaller.state, tree.origin(any_ctx), size - 2)  # it cosigned a tree the log never had
    _forge_state(same.state, tree.origin(any_ctx), size)  # ... or one of the same size, another root
    log = with_witnesses(any_ctx, (smaller.vkey, smaller.url), (same.vkey, same.url))
    results = cosigning.cosign_round(log)
    assert "422" in str(results["witness.example/smaller"])  # 409 "size - 2", then a proof from there
    assert "another tree of size" in str(results["witness.example/same"])
    assert stored(log) == []
    assert "\u2014 witness" not in tree.latest_checkpoint(log)  # the log's signature alone
    rows = by_name(log)
    assert rows["witness.example/smaller"]["cosigned_size"] == size - 2  # what the 409 said it holds
    assert "422" in rows["witness.example/smaller"]["last_error"]
    assert rows["witness.example/same"]["attempts"] == 1
    assert cosigning.status(log)["witnessed"] is False
    assert smaller.witness.state()[tree.origin(any_ctx)][0] == size - 2  # it kept its own record
    log.db.dispose()


class WrongCosigner(BaseHTTPRequestHandler):
    """A witness that answers 200 with a line of its key over another checkpoint."""

    key = Ed25519PrivateKey.generate()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        other = tlog.sign_note(tlog.checkpoint_body("x", 1, bytes(32)), "x", self.key)
        line = tlog.cosign(other, "witness.example/liar", self.key, 1).splitlines(keepends=True)[-1]
        body = line.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_cosignature_that_does_not_verify_is_not_stored(ctx: Context) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), WrongCosigner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        vkey = tlog.cosigner_key("witness.example/liar", WrongCosigner.key.public_key())
        log = with_witnesses(ctx, (vkey, f"http://127.0.0.1:{server.server_address[1]}/add-checkpoint"))
        grow(log, 2)
        tree.extend(log)
        assert "does not verify" in str(cosigning.cosign_round(log)["witness.example/liar"])
        assert stored(log) == []
        log.db.dispose()
    finally:
        server.shutdown()
        server.server_close()


def test_a_witness_on_a_refused_address_is_not_called(ctx: Context, embedded: Any) -> None:
    up = embedded(ctx)
    guarded = with_witnesses(ctx, (up.vkey, up.url), outbound_allow_networks="")
    grow(guarded, 2)
    tree.extend(guarded)
    assert "RefusedURL" in str(cosigning.cosign_round(guarded)["witness.example/w1"])
    assert stored(guarded) == [] and not up.state.exists()
    guarded.db.dispose()


def test_the_command_reports_whether_the_latest_checkpoint_is_witnessed(
    ctx: Context, embedded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from consent_service.cli import main

    up = embedded(ctx)
    grow(ctx, 2)
    tree.extend(ctx)
    env = {
        "CONSENT_DATA_DIR": str(ctx.config.data_dir),
        "CONSENT_DATABASE_URL": ctx.db.url,
        "CONSENT_MASTER_KEYS": ctx.config.master_keys,
        "CONSENT_OUTBOUND_ALLOW_NETWORKS": ctx.config.outbound_allow_networks,
        "CONSENT_LOG_WITNESSES": f"{up.vkey}={up.url}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = CliRunner().invoke(main, ["ledger", "witnesses"])
    assert before.exit_code == 1 and json.loads(before.stdout)["witnessed"] is False
    after = CliRunner().invoke(main, ["ledger", "witnesses", "--cosign"])
    assert after.exit_code == 0, after.output
    report = json.loads(after.stdout)
    assert report["witnessed"] is True and report["cosigners"] == ["witness.example/w1"]
    assert report["witnesses"] == [
        {
            "name": "witness.example/w1",
            "url": up.url,
            "cosigned_size": report["size"],
            "attempts": 0,
            "last_error": None,
        }
    ]


def test_a_receipt_carries_the_cosignatures_and_the_verifier_counts_its_quorum(
    ctx: Context, embedded: Any
) -> None:
    from consent_service.ledger import receipts
    from consent_service.ledger.models import LedgerEvent
    from consent_verify.receipt import verify

    first, second = embedded(ctx, "witness.example/w1"), embedded(ctx, "witness.example/w2")
    log = with_witnesses(ctx, (first.vkey, first.url), (second.vkey, second.url), quorum=1)
    grow(log, 2)
    tree.extend(log)
    cosigning.cosign_round(log)
    with log.uow(write=False) as uow:
        event_id = uow.session.scalar(select(LedgerEvent.id).where(LedgerEvent.seq == 1))
    receipt = receipts.receipt_of_event(log, event_id)
    log_key = tlog.parse_verifier_key(tree.verifier_key(log))
    witnesses = [tlog.parse_verifier_key(first.vkey), tlog.parse_verifier_key(second.vkey)]
    assert verify(receipt, log_key, witnesses, quorum=2).ok
    stranger = tlog.parse_verifier_key(
        tlog.cosigner_key("witness.example/w3", Ed25519PrivateKey.generate().public_key())
    )
    assert verify(receipt, log_key, [witnesses[0], stranger], quorum=1).ok
    assert not verify(receipt, log_key, [witnesses[0], stranger], quorum=2).ok  # one of two known
    log.db.dispose()
