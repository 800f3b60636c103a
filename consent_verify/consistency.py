"""Verify that a later checkpoint of the log extends an earlier one: both signed with the log's
key, and an RFC 9162 consistency proof (the answer of ``GET /v1/ledger/proofs/consistency``)
showing the older tree to be a prefix of the newer, so that nothing the older one held was
changed or taken out."""

from __future__ import annotations

import json
from typing import Any

from consent_verify import merkle
from consent_verify import note as tlog
from consent_verify.report import Malformed, Report, b64, hashes, open_checkpoint


def parse_proof(text: str) -> dict[str, Any]:
    """A consistency proof's JSON; ``Malformed`` unless it is an object."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise Malformed(f"the consistency proof is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Malformed("the consistency proof is not a JSON object")
    return doc


def proof_problem(proof: dict[str, Any], old: tlog.Checkpoint, new: tlog.Checkpoint) -> str | None:
    """What is wrong with ``proof`` as the proof from ``old`` to ``new``, or None.

    Its sizes and roots must be the checkpoints' (the size it starts from under ``from``, as
    the API writes it, or ``from_``)."""
    start = proof.get("from", proof.get("from_"))
    if (start, proof.get("to")) != (old.size, new.size):
        return f"the proof is from {start!r} to {proof.get('to')!r}, not from {old.size} to {new.size}"
    try:
        old_root = b64(proof.get("old_root_hash"), "old_root_hash")
        new_root = b64(proof.get("new_root_hash"), "new_root_hash")
        path = hashes(proof.get("consistency_path"), "consistency_path")
    except ValueError as exc:
        return str(exc)
    if old_root != old.root:
        return f"the proof's old root is not the root of the checkpoint of size {old.size}"
    if new_root != new.root:
        return f"the proof's new root is not the root of the checkpoint of size {new.size}"
    if not merkle.verify_consistency(old.size, new.size, old.root, new.root, path):
        return f"the consistency proof from {old.size} to {new.size} does not verify"
    return None


def consistent(
    report: Report, old: tlog.Checkpoint, new: tlog.Checkpoint, proof: dict[str, Any] | None
) -> None:
    """Record whether ``new`` extends ``old`` (by ``proof`` unless the sizes are equal)."""
    name = f"tree of size {new.size} extends tree of size {old.size}"
    if old.size > new.size:
        report.failed(name, f"the older checkpoint's size {old.size} is above the newer's {new.size}")
    elif old.size == new.size:
        report.check(
            name, old.root == new.root, "same size, same root", "same size but different roots: a split view"
        )
    elif proof is None:
        report.failed(name, "the sizes differ and no consistency proof was given (--proof FILE)")
    else:
        problem = proof_problem(proof, old, new)
        report.check(name, problem is None, "the consistency proof verifies", problem or "")


def verify(old_note: str, new_note: str, log_key: tlog.Verifier, proof: dict[str, Any] | None) -> Report:
    report = Report("consistency")
    old = open_checkpoint(report, old_note, log_key, "older checkpoint")
    new = open_checkpoint(report, new_note, log_key, "newer checkpoint")
    if old is not None and new is not None:
        report.counts.update(old_size=old.size, new_size=new.size)
        consistent(report, old, new, proof)
    return report
