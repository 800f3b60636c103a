"""``consent-service-verify receipt`` and ``consistency`` on receipts and checkpoints built here
with a key of the test's own: a true receipt passes, every kind of tampering fails its check
(exit 1), and unreadable input exits 2 with a message, never a traceback."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_verify import merkle
from consent_verify import note as tlog
from consent_verify.canonical import canonical_json
from consent_verify.cli import main
from consent_verify.receipt import verify

ORIGIN = "shop.example/consent-ledger"
KEY = Ed25519PrivateKey.generate()
VKEY = tlog.verifier_key(ORIGIN, KEY.public_key())
WITNESSES = {name: Ed25519PrivateKey.generate() for name in ("w1.example", "w2.example", "w3.example")}
WKEYS = {name: tlog.cosigner_key(name, key.public_key()) for name, key in WITNESSES.items()}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def event(seq: int, prev: str) -> dict[str, Any]:
    purpose = ("analytics", "ads", "newsletter")[seq % 3]
    return {
        "id": str(uuid.UUID(int=seq)),
        "seq": seq,
        "kind": "consent",
        "subject_id": "sub_1",
        "target_type": "cookie" if seq == 5 else "purpose",
        "target_key": "_ga" if seq == 5 else purpose,
        "decision": "granted" if seq % 2 else "denied",
        "purpose_version": 3,
        "prev_hash": prev,
        "proof_ct": b64(b"sealed"),
    }


class Log:
    """A log of ``n`` events, the leaves their canonical JSON, and checkpoints of it."""

    def __init__(self, n: int = 11) -> None:
        self.leaves: list[bytes] = []
        prev = "0" * 64
        for seq in range(1, n + 1):
            data = canonical_json(event(seq, prev))
            self.leaves.append(data)
            prev = hashlib.sha256(data).hexdigest()
        self.hashes = [merkle.leaf_hash(leaf) for leaf in self.leaves]

    def subtree(self, level: int, index: int) -> bytes:
        return merkle.root(self.hashes[index << level : (index + 1) << level])

    def note(self, size: int | None = None, witnesses: tuple[str, ...] = ()) -> str:
        size = len(self.leaves) if size is None else size
        text = tlog.checkpoint_body(ORIGIN, size, merkle.root(self.hashes[:size]))
        signed = tlog.sign_note(text, ORIGIN, KEY)
        for name in witnesses:
            signed = tlog.cosign(signed, name, WITNESSES[name], 1_700_000_000)
        return signed

    def receipt(self, seqs: tuple[int, ...] = (3, 5), witnesses: tuple[str, ...] = ()) -> dict[str, Any]:
        size = len(self.leaves)
        items, leaves = [], []
        for seq in seqs:
            doc = json.loads(self.leaves[seq - 1])
            items.append(
                {
                    "purpose": "analytics" if doc["target_type"] == "cookie" else doc["target_key"],
                    "cookie": doc["target_key"] if doc["target_type"] == "cookie" else None,
                    "purposeVersion": doc["purpose_version"],
                    "decision": doc["decision"],
                    "eventId": doc["id"],
                    "ledgerSeq": seq,
                    "ledgerHash": hashlib.sha256(self.leaves[seq - 1]).hexdigest(),
                    "leafIndex": seq - 1,
                    "consentType": "EXPLICIT",
                }
            )
            path = merkle.inclusion_proof(seq - 1, size, self.subtree)
            leaves.append(
                {
                    "eventId": doc["id"],
                    "leafIndex": seq - 1,
                    "leaf": b64(self.leaves[seq - 1]),
                    "inclusionPath": [b64(h) for h in path],
                }
            )
        payload = {
            "version": "KI-CR-v1.1.0",
            "piiPrincipalId": "sub_1",
            "services": [{"service": "Shop", "purposes": items}],
            "transparencyLog": {"origin": ORIGIN, "verifierKey": VKEY},
        }
        return {
            "payload": payload,
            "signature": sign(payload),
            "inclusion": {"checkpoint": self.note(witnesses=witnesses), "treeSize": size, "leaves": leaves},
        }


def sign(payload: dict[str, Any], key: Ed25519PrivateKey = KEY) -> dict[str, Any]:
    raw = key.public_key().public_bytes_raw()
    return {
        "alg": "Ed25519",
        "key_id": "k1",
        "public_key": b64(raw),
        "value": b64(key.sign(canonical_json(payload))),
    }


def failed(report: Any) -> list[str]:
    return [c.name + ": " + c.detail for c in report.failures]


def run(tmp_path: Path, doc: Any, *args: str, capsys: Any = None) -> int:
    path = tmp_path / "receipt.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return main(["receipt", str(path), "--log-key", VKEY, *args])


def test_a_true_receipt_passes_every_check(tmp_path: Path, capsys: Any) -> None:
    doc = Log().receipt()
    report = verify(doc, tlog.parse_verifier_key(VKEY))
    assert report.ok, failed(report)
    names = [c.name for c in report.checks]
    assert "receipt signed by the log's key" in names and "checkpoint signed by the log" in names
    assert sum(1 for n in names if " is leaf " in n) == 2
    assert report.checks[-1].status == "warn" and "split views are not ruled out" in report.checks[-1].detail
    assert run(tmp_path, doc) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") >= 6 and "receipt OK" in out and "WARN  witness cosignatures" in out
    assert run(tmp_path, doc, "--json") == 0
    report_json = json.loads(capsys.readouterr().out)
    assert report_json["ok"] is True and report_json["counts"]["decisions"] == 2
    (tmp_path / "r.json").write_text(json.dumps(doc))
    assert main(["--json", "receipt", str(tmp_path / "r.json"), "--log-key", VKEY]) == 0
    assert json.loads(capsys.readouterr().out) == report_json


def test_the_log_key_may_be_given_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "log.key").write_text(VKEY + "\n")
    (tmp_path / "r.json").write_text(json.dumps(Log().receipt()))
    assert main(["receipt", str(tmp_path / "r.json"), "--log-key", str(tmp_path / "log.key")]) == 0


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 1
    return b64(bytes(raw))


def _resigned(doc: dict[str, Any]) -> dict[str, Any]:
    doc["signature"] = sign(doc["payload"])
    return doc


TAMPERINGS = {
    # a payload field changed after signing
    "payload decision": (lambda d: _set(d, "payload.services.0.purposes.0.decision", "granted!"), "signed"),
    "payload subject": (lambda d: _set(d, "payload.piiPrincipalId", "sub_2"), "signed"),
    "signature value": (lambda d: _set(d, "signature.value", _flip(d["signature"]["value"])), "signed"),
    "signature key": (
        lambda d: _set(d, "signature", sign(d["payload"], Ed25519PrivateKey.generate())),
        "signed",
    ),
    # the leaf changed (its hash then differs), or the leaf and hash both, re-signed by the log
    "leaf": (
        lambda d: _set(d, "inclusion.leaves.0.leaf", _flip(d["inclusion"]["leaves"][0]["leaf"])),
        "is leaf",
    ),
    "path element": (
        lambda d: _set(
            d, "inclusion.leaves.1.inclusionPath.0", _flip(d["inclusion"]["leaves"][1]["inclusionPath"][0])
        ),
        "is leaf",
    ),
    "path shortened": (lambda d: d["inclusion"]["leaves"][1]["inclusionPath"].pop(), "is leaf"),
    "leaf index": (
        lambda d: (
            _set(d, "inclusion.leaves.0.leafIndex", 3),
            _set(d, "payload.services.0.purposes.0.leafIndex", 3),
            _set(d, "payload.services.0.purposes.0.ledgerSeq", 4),
            _resigned(d),
        ),
        "is leaf",
    ),
    "decision re-signed": (
        lambda d: (_set(d, "payload.services.0.purposes.0.decision", "withdrawn"), _resigned(d)),
        "is leaf",
    ),
    "missing leaf": (lambda d: d["inclusion"]["leaves"].pop(0), "is leaf"),
    "tree size": (lambda d: _set(d, "inclusion.treeSize", 12), "tree size"),
    "checkpoint size": (
        lambda d: _set(
            d, "inclusion.checkpoint", d["inclusion"]["checkpoint"].replace("\n11\n", "\n12\n", 1)
        ),
        "checkpoint signed",
    ),
    "checkpoint root re-signed": (
        lambda d: _set(
            d,
            "inclusion.checkpoint",
            tlog.sign_note(tlog.checkpoint_body(ORIGIN, 11, bytes(32)), ORIGIN, KEY),
        ),
        "is leaf",
    ),
    "checkpoint of another size re-signed": (
        lambda d: (
            _set(d, "inclusion.checkpoint", Log().note(10)),
            _set(d, "inclusion.treeSize", 10),
        ),
        "is leaf",
    ),
    "log's claimed key": (
        lambda d: (
            _set(d, "payload.transparencyLog.verifierKey", WKEYS["w1.example"]),
            _resigned(d),
        ),
        "names the log",
    ),
    "not in a checkpoint yet": (lambda d: _set(d, "inclusion", None), "in a checkpoint"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_each_tampering_is_rejected(tampering: str, tmp_path: Path, capsys: Any) -> None:
    change, check = TAMPERINGS[tampering]
    doc = copy.deepcopy(Log().receipt())
    change(doc)
    report = verify(doc, tlog.parse_verifier_key(VKEY))
    assert not report.ok
    assert any(check in c.name for c in report.failures), failed(report)
    assert run(tmp_path, doc) == 1
    assert "FAILED" in capsys.readouterr().out


def test_a_receipt_not_in_a_checkpoint_yet_says_to_fetch_it_again() -> None:
    doc = Log().receipt()
    doc["inclusion"] = None
    (failure,) = verify(doc, tlog.parse_verifier_key(VKEY)).failures
    event_id = doc["payload"]["services"][0]["purposes"][0]["eventId"]
    assert failure.detail == f"not in a checkpoint yet: fetch GET /v1/receipts/{event_id} again"


def test_another_log_key_fails_the_signature_and_the_checkpoint(tmp_path: Path) -> None:
    other = tlog.verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
    report = verify(Log().receipt(), tlog.parse_verifier_key(other))
    names = {c.name for c in report.failures}
    assert {
        "receipt signed by the log's key",
        "receipt names the log",
        "checkpoint signed by the log",
    } <= names
    (tmp_path / "r.json").write_text(json.dumps(Log().receipt()))
    assert main(["receipt", str(tmp_path / "r.json"), "--log-key", other]) == 1


def test_witness_quorum(tmp_path: Path) -> None:
    doc = Log().receipt(witnesses=("w1.example", "w2.example"))
    all_three = [a for name in WKEYS for a in ("--witness", WKEYS[name])]
    assert run(tmp_path, doc, *all_three[:4]) == 0  # w1 and w2, both required
    assert run(tmp_path, doc, *all_three) == 1  # w3 did not cosign: 2 of 3
    assert run(tmp_path, doc, *all_three, "--quorum", "2") == 0
    assert run(tmp_path, doc, *all_three, "--quorum", "3") == 1
    keys = [tlog.parse_verifier_key(k) for k in WKEYS.values()]
    report = verify(doc, tlog.parse_verifier_key(VKEY), keys, 3)
    assert [c.detail for c in report.failures] == [
        "2 of 3 witnesses cosigned (quorum 3); no valid cosignature of: w3.example"
    ]
    # a cosignature that does not verify counts for nothing
    forged = Log().receipt(witnesses=("w1.example",))
    note = forged["inclusion"]["checkpoint"]
    line = next(ln for ln in note.splitlines() if ln.startswith("\u2014 w1.example "))
    name, sig = line.rsplit(" ", 1)
    forged["inclusion"]["checkpoint"] = note.replace(line, f"{name} {_flip(sig)}")
    assert run(tmp_path, forged, "--witness", WKEYS["w1.example"]) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not JSON"),
        ("[]", "'payload' object"),
        (json.dumps({"payload": {}, "signature": {}}), "'services' list"),
        (json.dumps({"payload": {"services": []}}), "'signature' object"),
    ],
)
def test_malformed_receipts_exit_2_with_a_message(
    text: str, message: str, tmp_path: Path, capsys: Any
) -> None:
    assert run(tmp_path, text) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err and captured.out == ""


def test_bad_keys_files_and_arguments_exit_2(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "r.json").write_text(json.dumps(Log().receipt()))
    receipt = str(tmp_path / "r.json")
    cases = [
        ["receipt", receipt, "--log-key", "not-a-key"],
        ["receipt", receipt, "--log-key", WKEYS["w1.example"]],  # a witness key as the log's
        ["receipt", receipt, "--log-key", VKEY, "--witness", VKEY],  # the log key as a witness
        ["receipt", receipt, "--log-key", VKEY, "--witness", WKEYS["w1.example"], "--quorum", "2"],
        ["receipt", str(tmp_path / "missing.json"), "--log-key", VKEY],
        ["receipt", str(tmp_path), "--log-key", VKEY],
        ["consistency", receipt, receipt, "--log-key", VKEY, "--proof", str(tmp_path / "missing.json")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("consent-service-verify: error: ") and "Traceback" not in err, argv
    with pytest.raises(SystemExit) as usage:
        main(["receipt", receipt])  # no --log-key
    assert usage.value.code == 2


# consistency -----------------------------------------------------------------------------------


def _proof(log: Log, old: int, new: int) -> dict[str, Any]:
    return {
        "from": old,
        "to": new,
        "old_root_hash": b64(merkle.root(log.hashes[:old])),
        "new_root_hash": b64(merkle.root(log.hashes[:new])),
        "consistency_path": [b64(h) for h in merkle.consistency_proof(old, new, log.subtree)],
    }


def test_consistency_of_two_checkpoints(tmp_path: Path, capsys: Any) -> None:
    log = Log(20)
    (tmp_path / "old.note").write_text(log.note(7))
    (tmp_path / "new.note").write_text(log.note(20))
    (tmp_path / "proof.json").write_text(json.dumps(_proof(log, 7, 20)))
    old, new, proof = (str(tmp_path / n) for n in ("old.note", "new.note", "proof.json"))
    assert main(["consistency", old, new, "--log-key", VKEY, "--proof", proof]) == 0
    assert "consistency OK" in capsys.readouterr().out
    assert main(["consistency", old, old, "--log-key", VKEY]) == 0  # equal sizes need no proof
    assert main(["consistency", old, new, "--log-key", VKEY]) == 1  # no proof given
    assert "no consistency proof was given" in capsys.readouterr().out
    assert main(["consistency", new, old, "--log-key", VKEY, "--proof", proof]) == 1

    tampered = _proof(log, 7, 20)
    tampered["consistency_path"][0] = _flip(tampered["consistency_path"][0])
    other_root = {**_proof(log, 7, 20), "old_root_hash": b64(merkle.root(log.hashes[:6]))}
    for bad in (tampered, {**_proof(log, 7, 20), "from_": 7, "from": 8}, _proof(log, 6, 20), other_root):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        assert main(["consistency", old, new, "--log-key", VKEY, "--proof", str(tmp_path / "bad.json")]) == 1
    # a forked log: the same size with another root, signed by the log's key
    forked = Log(20)
    forked.hashes[3] = merkle.leaf_hash(b"rewritten")
    (tmp_path / "fork.note").write_text(forked.note(20))
    assert main(["consistency", new, str(tmp_path / "fork.note"), "--log-key", VKEY]) == 1
    assert "a split view" in capsys.readouterr().out
    # and the tree's own proof does not make the fork consistent with the old one
    (tmp_path / "fproof.json").write_text(json.dumps(_proof(forked, 7, 20)))
    assert (
        main(
            [
                "consistency",
                old,
                str(tmp_path / "fork.note"),
                "--log-key",
                VKEY,
                "--proof",
                str(tmp_path / "fproof.json"),
            ]
        )
        == 1
    )
    (tmp_path / "junk.json").write_text("nope")
    assert main(["consistency", old, new, "--log-key", VKEY, "--proof", str(tmp_path / "junk.json")]) == 2
