"""Verify a consent receipt offline: its signature, the checkpoint it carries, each of its
decisions' ledger events as leaves of that checkpoint's tree, and witnesses' cosignatures.

A receipt is ``{"payload", "signature", "inclusion"}``: the payload (Kantara consent receipt
fields, each decision with its ``eventId``, ``ledgerSeq``, ``ledgerHash`` and ``leafIndex``,
and ``transparencyLog`` naming the log) signed with the log's Ed25519 key over its canonical
JSON, and ``inclusion``: a signed checkpoint, its ``treeSize``, and per event its leaf (the
event's canonical bytes, base64) and audit path. ``inclusion`` is null until the log has
signed a checkpoint that covers the events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent_verify import merkle
from consent_verify import note as tlog
from consent_verify.canonical import canonical_json
from consent_verify.report import Malformed, Report, b64, hashes, key_text, open_checkpoint, witness_quorum


def parse(text: str) -> dict[str, Any]:
    """The receipt document of ``text``; ``Malformed`` unless it is JSON with a payload object
    whose services list purposes, and a signature object."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise Malformed(f"the receipt is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("payload"), dict):
        raise Malformed("the receipt is not an object with a 'payload' object")
    if not isinstance(doc.get("signature"), dict):
        raise Malformed("the receipt has no 'signature' object")
    services = doc["payload"].get("services")
    if not isinstance(services, list) or not all(
        isinstance(s, dict) and isinstance(s.get("purposes"), list) for s in services
    ):
        raise Malformed("the receipt's payload has no 'services' list, each with a 'purposes' list")
    if not all(isinstance(item, dict) for s in services for item in s["purposes"]):
        raise Malformed("a purpose of the receipt's payload is not an object")
    if "inclusion" in doc and doc["inclusion"] is not None and not isinstance(doc["inclusion"], dict):
        raise Malformed("the receipt's 'inclusion' is neither null nor an object")
    return doc


def items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for service in payload["services"] for item in service["purposes"]]


def _signature(report: Report, doc: dict[str, Any], log_key: tlog.Verifier) -> None:
    name = "receipt signed by the log's key"
    signature = doc["signature"]
    try:
        public_key = b64(signature.get("public_key"), "signature.public_key")
        value = b64(signature.get("value"), "signature.value")
    except ValueError as exc:
        report.failed(name, str(exc))
        return
    if signature.get("alg") != "Ed25519":
        report.failed(name, f"signature.alg is {signature.get('alg')!r}, not 'Ed25519'")
        return
    if public_key != log_key.public_key:
        report.failed(name, "signature.public_key is not the key of the log key given")
        return
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(value, canonical_json(doc["payload"]))
    except (InvalidSignature, ValueError):
        report.failed(
            name, "the Ed25519 signature does not verify over the payload: it was changed or forged"
        )
        return
    report.passed(name, f"Ed25519 signature of {log_key.name} verifies over the payload")


def _names_log(report: Report, payload: dict[str, Any], log_key: tlog.Verifier) -> None:
    claim = payload.get("transparencyLog")
    name = "receipt names the log"
    if not isinstance(claim, dict):
        report.failed(name, "the payload has no 'transparencyLog' object")
        return
    given = key_text(log_key)
    if claim.get("verifierKey") != given:
        report.failed(
            name, f"the receipt's log key {claim.get('verifierKey')!r} is not the key given ({given})"
        )
    elif claim.get("origin") != log_key.name:
        report.failed(name, f"the receipt's log origin {claim.get('origin')!r} is not {log_key.name!r}")
    else:
        report.passed(name, f"origin {log_key.name}, the key given")


def _leaf_checks(item: dict[str, Any], entry: dict[str, Any], size: int, root: bytes) -> str | None:
    """What is wrong with one decision's leaf, or None."""
    seq, index = item.get("ledgerSeq"), item.get("leafIndex")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seq, index, entry.get("leafIndex"))):
        return "ledgerSeq and leafIndex are not integers"
    assert isinstance(seq, int) and isinstance(index, int)
    if not entry["leafIndex"] == index == seq - 1:
        return f"leaf index {entry['leafIndex']} / {index} is not ledgerSeq - 1 = {seq - 1}"
    try:
        leaf = b64(entry.get("leaf"), "the leaf")
        path = hashes(entry.get("inclusionPath"), "the inclusion path")
    except ValueError as exc:
        return str(exc)
    if hashlib.sha256(leaf).hexdigest() != item.get("ledgerHash"):
        return "the leaf's SHA-256 is not the decision's ledgerHash"
    try:
        event = json.loads(leaf)
    except ValueError:
        return "the leaf is not the JSON of a ledger event"
    if not isinstance(event, dict):
        return "the leaf is not the JSON of a ledger event"
    expected = {
        "id": item.get("eventId"),
        "seq": seq,
        "decision": item.get("decision"),
        "purpose_version": item.get("purposeVersion"),
        "target_key": item.get("cookie") or item.get("purpose"),
    }
    differ = [k for k, v in expected.items() if event.get(k) != v]
    if differ:
        return f"the leaf's {', '.join(differ)} differ from the receipt's decision"
    if not merkle.verify_inclusion(index, size, merkle.leaf_hash(leaf), path, root):
        return f"the inclusion path does not lead from leaf {index} to the checkpoint's root"
    return None


def verify(
    doc: dict[str, Any],
    log_key: tlog.Verifier,
    witnesses: Sequence[tlog.Verifier] = (),
    quorum: int | None = None,
) -> Report:
    """Every check of a parsed receipt (see ``parse``) against the log's key."""
    report = Report("receipt")
    payload = doc["payload"]
    _signature(report, doc, log_key)
    _names_log(report, payload, log_key)
    decisions = items(payload)
    report.counts["decisions"] = len(decisions)
    inclusion = doc.get("inclusion")
    if inclusion is None:
        event = decisions[0].get("eventId", "<eventId>") if decisions else "<eventId>"
        report.failed(
            "receipt's events in a checkpoint",
            f"not in a checkpoint yet: fetch GET /v1/receipts/{event} again",
        )
        return report
    checkpoint = open_checkpoint(report, inclusion.get("checkpoint"), log_key, "checkpoint")
    if checkpoint is None:
        return report
    size = inclusion.get("treeSize")
    if not report.check(
        "checkpoint of the receipt's tree size",
        checkpoint.size == size,
        f"tree size {checkpoint.size}",
        f"the checkpoint's tree size {checkpoint.size} is not the receipt's treeSize {size!r}",
    ):
        return report
    leaves = inclusion.get("leaves")
    if not isinstance(leaves, list) or not all(isinstance(e, dict) for e in leaves):
        report.failed("receipt's leaves", "inclusion.leaves is not a list of objects")
        return report
    by_event = {e.get("eventId"): e for e in leaves}
    if not decisions:
        report.failed("receipt's decisions", "the receipt lists no decision")
    for item in decisions:
        event_id = item.get("eventId")
        what = item.get("cookie") or item.get("purpose")
        name = f"{what} {item.get('decision')}: event {event_id} is leaf {item.get('leafIndex')} of the checkpoint"
        entry = by_event.get(event_id)
        if entry is None:
            report.failed(name, "the receipt has no leaf for this event")
            continue
        problem = _leaf_checks(item, entry, checkpoint.size, checkpoint.root)
        report.check(name, problem is None, "leaf, hash and inclusion path verify", problem or "")
    note = inclusion["checkpoint"]
    witness_quorum(report, note, log_key, witnesses, quorum)
    return report
