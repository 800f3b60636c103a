"""Verify an auditor bundle (``consent-service ledger export``) offline.

A bundle is a directory:

- ``manifest.json``: the log's origin, the selection, counts, the tree size and root of
  ``checkpoint.note``, the export time, and the SHA-256 of every other file (``files``);
- ``events.jsonl``: one selected ledger event a line: ``seq``, ``leaf_index`` (= seq - 1),
  ``leaf`` (base64 of the event's canonical bytes), ``hash`` (their SHA-256, the event's chain
  hash) and ``inclusion_path`` (its RFC 9162 audit path in the tree of ``checkpoint.note``);
- ``checkpoint.note``: the signed checkpoint the proofs lead to;
- ``checkpoints/<size>.note``: earlier signed checkpoints, the first to cover each event, and
  ``consistency.jsonl``: per checkpoint the proof that the latest tree extends it;
- ``log-key.txt``: the log's verifier key (as the log states it), ``README.md``.

``verify`` checks all of it and counts what it checked.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consent_verify import merkle
from consent_verify import note as tlog
from consent_verify.consistency import proof_problem
from consent_verify.report import (
    Malformed,
    Report,
    b64,
    hashes,
    key_text,
    load_key,
    open_checkpoint,
    witness_quorum,
)

MANIFEST = "manifest.json"
SHOWN = 10  # problems named per check; the rest are counted


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise Malformed(f"{os.fspath(directory)!r} is not a directory")
    path = directory / MANIFEST
    if not path.is_file():
        raise Malformed(f"{os.fspath(directory)!r} has no {MANIFEST}: it is not an auditor bundle")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed(f"{MANIFEST} is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise Malformed(f"{MANIFEST} is not an object with a 'files' object")
    return manifest


def _summary(report: Report, name: str, total: int, problems: list[str], detail: str) -> None:
    if problems:
        shown = "; ".join(problems[:SHOWN])
        more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
        report.failed(name, f"{len(problems)} of {total}: {shown}{more}")
    else:
        report.passed(name, detail)


def _files(report: Report, directory: Path, manifest: dict[str, Any]) -> None:
    listed: dict[str, Any] = manifest["files"]
    problems = []
    root = directory.resolve()
    for name, digest in sorted(listed.items()):
        path = (directory / name).resolve()
        if not path.is_relative_to(root) or path == root / MANIFEST:
            problems.append(f"{name}: not a file of the bundle")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif _sha256(path) != digest:
            problems.append(f"{name}: its SHA-256 is not the manifest's (changed)")
    _summary(report, "files match the manifest", len(listed), problems, f"{len(listed)} files, SHA-256 each")
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    extra = sorted(present - set(listed))
    if extra:
        report.warn(
            "no files beside the manifest's", f"not in the manifest, not checked: {', '.join(extra[:SHOWN])}"
        )


def _log_key(report: Report, directory: Path, given: tlog.Verifier | None) -> tlog.Verifier:
    path = directory / "log-key.txt"
    stated = load_key(os.fspath(path), tlog.ED25519, "the bundle's log-key.txt") if path.is_file() else None
    if given is None:
        if stated is None:
            raise Malformed("the bundle has no log-key.txt: give the log's key with --log-key")
        report.warn(
            "log key obtained independently",
            "the key is the bundle's own log-key.txt: obtain the log's key independently "
            "(GET /v1/ledger/key) and pass it with --log-key",
        )
        return stated
    if stated is not None:
        report.check(
            "bundle's log-key.txt is the key given",
            key_text(stated) == key_text(given),
            key_text(given),
            f"log-key.txt holds {key_text(stated)}, not the key given {key_text(given)}",
        )
    return given


def _lines(path: Path) -> list[Any]:
    """The JSON values of a JSON-lines file; a line that is not JSON becomes None."""
    if not path.is_file():
        return []
    out: list[Any] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append(None)
    return out


def _event_problem(entry: Any, size: int, root: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """(What is wrong with one line of events.jsonl or None, the event its leaf holds)."""
    if not isinstance(entry, dict):
        return "a line that is not a JSON object", None
    seq, index = entry.get("seq"), entry.get("leaf_index")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seq, index)):
        return "a line without integer seq and leaf_index", None
    assert isinstance(seq, int) and isinstance(index, int)
    if index != seq - 1:
        return f"seq {seq}: leaf_index {index} is not seq - 1", None
    try:
        leaf = b64(entry.get("leaf"), "the leaf")
        path = hashes(entry.get("inclusion_path"), "the inclusion path")
    except ValueError as exc:
        return f"seq {seq}: {exc}", None
    if hashlib.sha256(leaf).hexdigest() != entry.get("hash"):
        return f"seq {seq}: the leaf's SHA-256 is not its hash", None
    try:
        event = json.loads(leaf)
    except ValueError:
        event = None
    if not isinstance(event, dict) or event.get("seq") != seq:
        return f"seq {seq}: the leaf is not the JSON of ledger event {seq}", None
    if not merkle.verify_inclusion(index, size, merkle.leaf_hash(leaf), path, root):
        return f"seq {seq}: its inclusion path does not lead to the checkpoint's root", event
    return None, event


def _events(report: Report, directory: Path, manifest: dict[str, Any], latest: tlog.Checkpoint) -> None:
    entries = _lines(directory / "events.jsonl")
    problems: list[str] = []
    order: list[str] = []
    links: list[str] = []
    previous: tuple[int, str] | None = None
    for entry in entries:
        problem, event = _event_problem(entry, latest.size, latest.root)
        if problem:
            problems.append(problem)
        if event is None:
            continue
        seq = entry["seq"]
        if previous is not None and seq <= previous[0]:
            order.append(f"seq {seq} after seq {previous[0]}")
        if previous is not None and seq == previous[0] + 1 and event.get("prev_hash") != previous[1]:
            links.append(f"seq {seq}: its prev_hash is not the hash of seq {previous[0]}")
        previous = (seq, entry["hash"])
    total = len(entries)
    report.counts["events"] = total
    _summary(
        report,
        "events are leaves of the checkpoint's tree",
        total,
        problems,
        f"{total} events: leaf SHA-256 = chain hash, leaf index = seq - 1, inclusion path verifies",
    )
    _summary(report, "events in seq order, each once", total, order, f"{total} events in ascending seq order")
    _summary(
        report, "consecutive events chained", total, links, "each event's prev_hash is the hash before it"
    )
    stated = manifest.get("counts", {}).get("events") if isinstance(manifest.get("counts"), dict) else None
    report.check(
        "events counted as the manifest says",
        stated == total,
        f"{total} events",
        f"events.jsonl has {total} events, the manifest says {stated!r}",
    )


def _checkpoints(
    report: Report, directory: Path, manifest: dict[str, Any], key: tlog.Verifier, latest: tlog.Checkpoint
) -> None:
    notes = sorted((directory / "checkpoints").glob("*.note")) if (directory / "checkpoints").is_dir() else []
    proofs: dict[Any, Any] = {}
    for proof in _lines(directory / "consistency.jsonl"):
        if isinstance(proof, dict):
            proofs[proof.get("from", proof.get("from_"))] = proof
    signed: list[str] = []
    extends: list[str] = []
    for path in notes:
        try:
            checkpoint = tlog.parse_checkpoint(tlog.verify_note(path.read_text(encoding="utf-8"), [key]).text)
        except (ValueError, UnicodeDecodeError) as exc:
            signed.append(f"{path.name}: {exc}")
            continue
        if checkpoint.origin != key.name:
            signed.append(f"{path.name}: origin {checkpoint.origin!r} is not {key.name!r}")
            continue
        if checkpoint.size == latest.size:
            if checkpoint.root != latest.root:
                extends.append(f"{path.name}: the latest size with another root (a split view)")
            continue
        proof = proofs.get(checkpoint.size)
        problem = (
            "no consistency proof in consistency.jsonl"
            if proof is None
            else proof_problem(proof, checkpoint, latest)
        )
        if checkpoint.size > latest.size:
            problem = f"size {checkpoint.size} is above the latest checkpoint's {latest.size}"
        if problem:
            extends.append(f"{path.name}: {problem}")
    total = len(notes)
    report.counts["checkpoints"] = total
    _summary(
        report,
        "earlier checkpoints signed by the log",
        total,
        signed,
        f"{total} checkpoints, origin {key.name}",
    )
    _summary(
        report,
        "latest checkpoint extends every earlier one",
        total,
        extends,
        f"{total} consistency proofs to size {latest.size} verify",
    )
    stated = (
        manifest.get("counts", {}).get("checkpoints") if isinstance(manifest.get("counts"), dict) else None
    )
    report.check(
        "checkpoints counted as the manifest says",
        stated == total,
        f"{total} checkpoints",
        f"checkpoints/ has {total} notes, the manifest says {stated!r}",
    )


def verify(
    directory: str | os.PathLike[str],
    log_key: tlog.Verifier | None = None,
    witnesses: Sequence[tlog.Verifier] = (),
    quorum: int | None = None,
) -> Report:
    """Every check of the bundle in ``directory``; ``Malformed`` if it is not a bundle."""
    where = Path(directory)
    manifest = read_manifest(where)
    report = Report("bundle")
    _files(report, where, manifest)
    key = _log_key(report, where, log_key)
    note_path = where / "checkpoint.note"
    note = note_path.read_text(encoding="utf-8", errors="replace") if note_path.is_file() else None
    latest = open_checkpoint(report, note, key, "checkpoint.note")
    if latest is None or note is None:
        return report
    report.counts["tree_size"] = latest.size
    report.check(
        "manifest states the checkpoint",
        (manifest.get("origin"), manifest.get("tree_size")) == (latest.origin, latest.size),
        f"origin {latest.origin}, tree size {latest.size}",
        f"the manifest's origin and tree size {manifest.get('origin')!r}, {manifest.get('tree_size')!r} "
        f"are not the checkpoint's {latest.origin!r}, {latest.size}",
    )
    witness_quorum(report, note, key, witnesses, quorum)
    _events(report, where, manifest, latest)
    _checkpoints(report, where, manifest, key, latest)
    return report
