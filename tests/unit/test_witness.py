"""The witness of c2sp.org/tlog-witness (``consent_verify.witness``): it cosigns a log's first
checkpoint and each one a consistency proof shows grows the last it cosigned, and refuses, with
the protocol's status, a bad proof (422), a wrong old size (409 and its size), a smaller tree, a
checkpoint of another key (403) or origin (404) and a malformed body (400), keeping its state in
a JSON file; its key file and command."""

from __future__ import annotations

import base64
import configparser
import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_verify import merkle
from consent_verify import note as tlog
from consent_verify import witness as w

ORIGIN = "example.org/consent-ledger"
NOW = 1_765_000_000


class Log:
    """A log of ``n`` made-up leaves that signs its checkpoints with its own key."""

    def __init__(self, seed: bytes = b"entry", origin: str = ORIGIN) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.origin = origin
        self.seed = seed
        self.vkey = tlog.verifier_key(origin, self.key.public_key())

    def leaves(self, n: int) -> list[bytes]:
        return [merkle.leaf_hash(self.seed + str(i).encode()) for i in range(n)]

    def checkpoint(self, n: int) -> str:
        return tlog.sign_note(
            tlog.checkpoint_body(self.origin, n, merkle.root(self.leaves(n))), self.origin, self.key
        )

    def proof(self, old: int, new: int) -> list[bytes]:
        leaves = self.leaves(new)
        return merkle.consistency_proof(
            old, new, lambda level, index: merkle.root(leaves[index << level : (index + 1) << level])
        )

    def body(self, old: int, new: int, proof: list[bytes] | None = None) -> bytes:
        if proof is None:
            proof = self.proof(old, new) if old else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return f"old {old}\n{lines}\n{self.checkpoint(new)}".encode()


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def witness_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def witness(log: Log, witness_key: Ed25519PrivateKey, tmp_path: Path) -> w.Witness:
    return w.Witness("witness.example/w1", witness_key, ORIGIN, log.vkey, tmp_path / "state.json")


def cosigned(log: Log, n: int, answer: bytes, witness: w.Witness) -> int | None:
    """The time of the witness's cosignature on the log's checkpoint of size n, from its answer."""
    note = log.checkpoint(n) + answer.decode()
    opened = tlog.verify_note(
        note, [tlog.parse_verifier_key(witness.vkey), tlog.parse_verifier_key(log.vkey)]
    )
    assert list(opened.signers) == [ORIGIN, "witness.example/w1"]  # the log's signature first
    return opened.signers["witness.example/w1"]


def test_the_first_checkpoint_and_each_that_grows_it_are_cosigned(log: Log, witness: w.Witness) -> None:
    status, answer = witness.add_checkpoint(log.body(0, 5), NOW)
    assert (
        status == 200 and answer.startswith("\u2014 witness.example/w1 ".encode()) and answer.endswith(b"\n")
    )
    assert cosigned(log, 5, answer, witness) == NOW
    assert witness.state() == {ORIGIN: (5, merkle.root(log.leaves(5)))}
    for old, new in ((5, 8), (8, 21), (21, 21), (21, 64)):
        status, answer = witness.add_checkpoint(log.body(old, new), NOW + new)
        assert status == 200, answer
        assert cosigned(log, new, answer, witness) == NOW + new
    saved = json.loads(witness.state_path.read_text())
    assert saved == {
        "logs": {ORIGIN: {"size": 64, "root": base64.b64encode(merkle.root(log.leaves(64))).decode()}}
    }
    names = {p.name for p in witness.state_path.parent.iterdir()}
    assert names == {"state.json", "state.json.lock"}  # no temporary file left behind


def test_a_proof_that_does_not_verify_is_refused_and_the_state_stays(log: Log, witness: w.Witness) -> None:
    assert witness.add_checkpoint(log.body(0, 6), NOW)[0] == 200
    good = log.proof(6, 13)
    bad = [good[0][:-1] + bytes([good[0][-1] ^ 1]), *good[1:]]
    status, answer = witness.add_checkpoint(log.body(6, 13, bad), NOW)
    assert status == 422 and b"does not verify" in answer
    assert witness.add_checkpoint(log.body(6, 13, good[:-1]), NOW)[0] == 422  # a line missing
    assert witness.add_checkpoint(log.body(0, 13, []), NOW)[0] == 409  # not a way around it
    assert witness.state()[ORIGIN][0] == 6


def test_a_proof_from_zero_or_between_equal_sizes_is_empty(log: Log, witness: w.Witness) -> None:
    assert witness.add_checkpoint(log.body(0, 4, log.proof(2, 4)), NOW)[0] == 422
    assert witness.add_checkpoint(log.body(0, 4), NOW)[0] == 200
    assert witness.add_checkpoint(log.body(4, 4, log.proof(2, 4)), NOW)[0] == 422


def test_a_wrong_old_size_is_a_conflict_that_names_the_size_it_cosigned(log: Log, witness: w.Witness) -> None:
    assert witness.add_checkpoint(log.body(0, 10), NOW)[0] == 200
    assert witness.add_checkpoint(log.body(0, 12), NOW) == (409, b"10\n")
    assert witness.add_checkpoint(log.body(7, 12), NOW) == (409, b"10\n")
    assert witness.add_checkpoint(log.body(10, 12), NOW)[0] == 200  # retried from its size


def test_a_smaller_tree_is_refused(log: Log, witness: w.Witness) -> None:
    assert witness.add_checkpoint(log.body(0, 10), NOW)[0] == 200
    status, answer = witness.add_checkpoint(log.body(10, 7, []), NOW)
    assert status == 400 and b"above the checkpoint's size" in answer
    assert witness.add_checkpoint(log.body(7, 7, []), NOW) == (409, b"10\n")
    assert witness.state()[ORIGIN][0] == 10


def test_another_history_of_the_same_size_or_grown_from_another_is_refused(
    log: Log, witness: w.Witness
) -> None:
    assert witness.add_checkpoint(log.body(0, 10), NOW)[0] == 200
    fork = Log(seed=b"rewritten")
    fork.key, fork.vkey = log.key, log.vkey  # the same log's key signing another history
    assert witness.add_checkpoint(fork.body(10, 10, []), NOW) == (409, b"10\n")
    assert witness.add_checkpoint(fork.body(10, 16), NOW)[0] == 422
    assert witness.state() == {ORIGIN: (10, merkle.root(log.leaves(10)))}


def test_a_checkpoint_of_another_key_or_origin_is_refused(
    log: Log, witness: w.Witness, tmp_path: Path
) -> None:
    impostor = Log()  # the same origin, another key
    status, answer = witness.add_checkpoint(impostor.body(0, 3), NOW)
    assert status == 403 and b"not signed by the log's key" in answer
    other = Log(origin="other.example/log")
    status, answer = witness.add_checkpoint(other.body(0, 3), NOW)
    assert status == 404 and b"other.example/log" in answer
    # the log's key on a checkpoint of another origin: still not the log this witness follows
    renamed = log.checkpoint(3).replace(ORIGIN + "\n", "other.example/log\n", 1)
    assert witness.add_checkpoint(b"old 0\n\n" + renamed.encode(), NOW)[0] == 404
    tampered = log.checkpoint(3).replace("\n3\n", "\n4\n", 1)
    assert witness.add_checkpoint(b"old 0\n\n" + tampered.encode(), NOW)[0] == 403
    assert not witness.state_path.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe{note}",
        b"old 0\n{note}",
        b"new 0\n\n{note}",
        b"old 01\n\n{note}",
        b"old -1\n\n{note}",
        b"old 0 \n\n{note}",
        b"old 3\nnot base64!\n\n{note}",
        b"old 3\n" + base64.b64encode(b"short") + b"\n\n{note}",
        b"old 3\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\n{note}",
        b"old 0\n\nexample.org/consent-ledger\n3\n",
        b"old 0\n\nexample.org/consent-ledger\nthree\nAAAA\n\n\xe2\x80\x94 x AAAA\n",
    ],
)
def test_a_malformed_body_is_a_bad_request(log: Log, witness: w.Witness, body: bytes) -> None:
    """Each body is malformed in one way only: the rest is a checkpoint the log signed."""
    status, answer = witness.add_checkpoint(body.replace(b"{note}", log.checkpoint(3).encode()), NOW)
    assert status == 400 and answer.endswith(b"\n")
    assert not witness.state_path.exists()


def test_the_witness_keeps_its_state_across_restarts(
    log: Log, witness_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    first = w.Witness("witness.example/w1", witness_key, ORIGIN, log.vkey, tmp_path / "state.json")
    assert first.add_checkpoint(log.body(0, 9), NOW)[0] == 200
    again = w.Witness("witness.example/w1", witness_key, ORIGIN, log.vkey, tmp_path / "state.json")
    assert again.add_checkpoint(log.body(0, 9), NOW) == (409, b"9\n")
    assert again.add_checkpoint(log.body(9, 11), NOW)[0] == 200


def test_racing_requests_never_roll_the_state_back(log: Log, witness: w.Witness) -> None:
    assert witness.add_checkpoint(log.body(0, 1), NOW)[0] == 200
    bodies = [log.body(1, n) for n in range(2, 30)]
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda b=b: answers.append(witness.add_checkpoint(b, NOW)[0])) for b in bodies
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(200) == 1 and answers.count(409) == len(bodies) - 1
    assert witness.state()[ORIGIN][0] > 1


def test_the_key_file_round_trips_and_is_checked(witness_key: Ed25519PrivateKey) -> None:
    line = w.private_key_line("witness.example/w1", witness_key)
    name, key = w.parse_private_key(line)
    assert name == "witness.example/w1" and key.public_key() == witness_key.public_key()
    kid = line.split("+")[3]
    with pytest.raises(ValueError, match="does not match"):
        w.parse_private_key(line.replace(kid, "00000000"))
    with pytest.raises(ValueError, match="PRIVATE"):
        w.parse_private_key(line[1:])
    with pytest.raises(ValueError, match="cosignature/v1"):
        w.parse_private_key(f"PRIVATE+KEY+n+{kid}+" + base64.b64encode(b"\x01" + bytes(32)).decode())


def test_a_witness_needs_the_log_s_note_key_not_a_cosigner_s(
    tmp_path: Path, witness_key: Ed25519PrivateKey
) -> None:
    with pytest.raises(ValueError, match="not a cosigner"):
        w.Witness(
            "w", witness_key, ORIGIN, tlog.cosigner_key(ORIGIN, witness_key.public_key()), tmp_path / "s"
        )


def test_keygen_writes_a_secret_key_and_prints_its_verifier_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "witness.key"
    assert w.main(["keygen", "--name", "witness.example/w1", "--out", str(out)]) == 0
    vkey = capsys.readouterr().out.strip()
    verifier = tlog.parse_verifier_key(vkey)
    assert verifier.kind == tlog.COSIGNATURE_V1 and verifier.name == "witness.example/w1"
    assert out.stat().st_mode & 0o777 == 0o600
    name, key = w.parse_private_key(out.read_text().strip())
    assert tlog.cosigner_key(name, key.public_key()) == vkey
    assert w.main(["keygen", "--name", "witness.example/w1", "--out", str(out)]) == 1  # never overwritten
    assert "not overwriting" in capsys.readouterr().err


def test_the_command_is_installed_as_consent_service_witness() -> None:
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg")
    scripts = setup["options.entry_points"]["console_scripts"]
    assert "consent-service-witness = consent_verify.witness:main" in scripts.splitlines()
