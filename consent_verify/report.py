"""What a verification found: one line per check, passed, failed or a warning, and the input
errors that stop a verification before it can check anything.

Shared by the receipt, consistency and bundle checks: loading verifier keys, opening a
checkpoint note with the log's key and counting witnesses' cosignatures on it.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consent_verify import note as tlog

PASS, FAIL, WARN = "pass", "fail", "warn"


class Malformed(ValueError):
    """The input cannot be read as what it should be (not JSON, a missing part, a bad key):
    nothing can be checked. The command line exits 2 with its message."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS, FAIL or WARN
    detail: str = ""


@dataclass
class Report:
    """The checks of one verification, in the order they ran, and what it counted."""

    subject: str
    checks: list[Check] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def passed(self, name: str, detail: str = "") -> None:
        self.checks.append(Check(name, PASS, detail))

    def failed(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, FAIL, detail))

    def warn(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, WARN, detail))

    def check(self, name: str, ok: bool, detail: str, failure: str) -> bool:
        """Record ``name`` as passed with ``detail`` or failed with ``failure``; returns ``ok``."""
        if ok:
            self.passed(name, detail)
        else:
            self.failed(name, failure)
        return ok

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
            "counts": dict(self.counts),
        }


def read_text(path: str | os.PathLike[str], what: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise Malformed(f"{what} {os.fspath(path)!r} does not exist") from None
    except IsADirectoryError:
        raise Malformed(f"{what} {os.fspath(path)!r} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise Malformed(f"{what} {os.fspath(path)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise Malformed(f"cannot read {what} {os.fspath(path)!r}: {exc.strerror}") from None


def load_key(value: str, kind: int, what: str) -> tlog.Verifier:
    """A verifier key given as its text or as a file holding it (one line); ``Malformed``
    unless it is a well-formed key of ``kind``."""
    text = read_text(value, what).strip() if os.path.isfile(value) else value.strip()
    try:
        key = tlog.parse_verifier_key(text)
    except ValueError as exc:
        raise Malformed(f"{what} is not a verifier key: {exc}") from None
    if key.kind != kind:
        wanted = "a signed-note Ed25519 key (type 0x01)" if kind == tlog.ED25519 else "a cosignature/v1 key"
        raise Malformed(f"{what} {key.name} is not {wanted}")
    return key


def key_text(key: tlog.Verifier) -> str:
    """The verifier key's text, ``<name>+<key ID>+<base64(kind ‖ key)>``."""
    typed = base64.b64encode(bytes([key.kind]) + key.public_key).decode("ascii")
    return f"{key.name}+{key.key_id.hex()}+{typed}"


def b64(text: object, what: str) -> bytes:
    """Strict base64 of a value handed out by the log; ``ValueError`` naming ``what``."""
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{what} is not base64") from None


def hashes(values: object, what: str) -> list[bytes]:
    """A list of base64 SHA-256 hashes (a proof); ``ValueError`` naming ``what``."""
    if not isinstance(values, list):
        raise ValueError(f"{what} is not a list of base64 hashes")
    out = [b64(v, f"{what}[{i}]") for i, v in enumerate(values)]
    if any(len(h) != 32 for h in out):
        raise ValueError(f"{what} holds a hash that is not 32 bytes")
    return out


def open_checkpoint(
    report: Report, note: object, log_key: tlog.Verifier, label: str
) -> tlog.Checkpoint | None:
    """Check that ``note`` is a checkpoint signed with the log's key, of the key's origin; the
    checkpoint it states, or None (with the failure recorded)."""
    name = f"{label} signed by the log"
    if not isinstance(note, str):
        report.failed(name, f"{label} is not a signed note's text")
        return None
    try:
        opened = tlog.verify_note(note, [log_key])
        checkpoint = tlog.parse_checkpoint(opened.text)
    except ValueError as exc:
        report.failed(name, str(exc))
        return None
    report.passed(name, f"signature of {log_key.name}+{log_key.key_id.hex()} verifies")
    if not report.check(
        f"{label} of the log's origin",
        checkpoint.origin == log_key.name,
        f"origin {checkpoint.origin}",
        f"its origin {checkpoint.origin!r} is not the log key's name {log_key.name!r}",
    ):
        return None
    return checkpoint


def witness_quorum(
    report: Report, note: str, log_key: tlog.Verifier, witnesses: Sequence[tlog.Verifier], quorum: int | None
) -> None:
    """Count the witnesses whose cosignature on ``note`` verifies; pass at ``quorum`` of them
    (default: all given). Without witness keys, a warning: nothing rules out a split view."""
    name = "witness cosignatures"
    if not witnesses:
        report.warn(name, "no witness keys given: split views are not ruled out")
        return
    need = len(witnesses) if quorum is None else quorum
    good: list[str] = []
    bad: list[str] = []
    for witness in witnesses:
        try:
            signers = tlog.verify_note(note, [log_key, witness]).signers
        except ValueError:
            signers = {}
        (good if witness.name in signers and signers[witness.name] is not None else bad).append(witness.name)
    detail = f"{len(good)} of {len(witnesses)} witnesses cosigned (quorum {need})"
    if bad:
        detail += f"; no valid cosignature of: {', '.join(bad)}"
    report.check(name, len(good) >= need, detail, detail)
    report.counts["witnesses_cosigned"] = len(good)
