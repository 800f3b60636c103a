"""A witness of the consent service's transparency log (c2sp.org/tlog-witness), which a second
party runs with nothing of the service: Python's standard library and ``cryptography``.

A witness keeps, per log it follows, the size and root hash of the last checkpoint it cosigned,
and cosigns a new checkpoint of that log only if the log signed it and a consistency proof shows
that the tree it last cosigned is a prefix of the new one. A log that shows one history to some
and another to others (a split view), or that rewrites its past, cannot then collect the
cosignatures of witnesses for both.

- ``Witness.add_checkpoint(body, now)`` is the protocol's ``POST /add-checkpoint`` without the
  HTTP: the body is an ``old <size>`` line, the consistency proof (one base64 hash a line, at
  most 63), an empty line and the signed checkpoint note. It answers ``(status, body)``: 200 and
  the witness's cosignature/v1 line (``c2sp.org/tlog-cosignature``, of time ``now``); 400 for a
  malformed body or an old size above the checkpoint's; 403 when the log's key did not sign it;
  404 for another origin; 409 when the old size is not the size it last cosigned (the body is
  that size and a newline, of type ``text/x.tlog.size``) or the same size with another root;
  422 when the proof does not verify. The check and the new state are one step (a lock in the
  process and a lock on the state file), so two requests cannot roll the state back.
- The state is a small JSON file, ``{"logs": {origin: {"size": N, "root": base64}}}``, replaced
  atomically (written to a temporary file, fsynced, renamed over the old one, the directory
  fsynced) before the cosignature is handed out.
- ``serve`` runs it on ``http.server``; ``main`` is the ``consent-service-witness`` command
  (``keygen`` and ``serve``, docs/witness.md).
- The private key file is one line, ``PRIVATE+KEY+<name>+<key ID>+base64(0x04 ‖ Ed25519
  seed)``, in the style of the signed-note private keys, with the cosignature/v1 key ID.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import fcntl
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_verify import merkle
from consent_verify import note as tlog

MAX_PROOF_LINES = 63  # what the protocol allows a client to send
MAX_BODY = 64 * 1024  # bytes of a request: a proof of 63 lines and a note of 100 signatures fit
SIZE_TYPE = "text/x.tlog.size"  # the type of a 409's body
PRIVATE_PREFIX = "PRIVATE+KEY+"
_SIZE = re.compile(r"old (0|[1-9][0-9]*)")


class Witness:
    """A witness named ``name`` (its cosigning key ``private_key``) of one log: the origin
    ``log_origin`` whose checkpoints verify with the signed-note verifier key ``log_vkey``; its
    state in ``state_path`` (created at the first cosignature)."""

    def __init__(
        self,
        name: str,
        private_key: Ed25519PrivateKey,
        log_origin: str,
        log_vkey: str,
        state_path: Path | str,
    ) -> None:
        self.name = name
        self.private_key = private_key
        self.log_origin = log_origin
        self.log_verifier = tlog.parse_verifier_key(log_vkey)
        if self.log_verifier.kind != tlog.ED25519:
            raise ValueError("the log's key is a note signing key (Ed25519), not a cosigner's")
        self.state_path = Path(state_path)
        self.vkey = tlog.cosigner_key(name, private_key.public_key())  # checks the name too
        self._lock = threading.Lock()

    # the state ----------------------------------------------------------------------------------

    def state(self) -> dict[str, tuple[int, bytes]]:
        """Per origin, the size and root of the last checkpoint this witness cosigned."""
        try:
            raw = json.loads(self.state_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        logs = raw.get("logs") if isinstance(raw, dict) else None
        if not isinstance(logs, dict):
            raise ValueError(f"{self.state_path} is not a witness state file")
        return {origin: (int(v["size"]), base64.b64decode(v["root"])) for origin, v in logs.items()}

    def _save(self, state: dict[str, tuple[int, bytes]]) -> None:
        doc = {"logs": {o: {"size": s, "root": base64.b64encode(r).decode()} for o, (s, r) in state.items()}}
        folder = self.state_path.parent
        fd, temporary = tempfile.mkstemp(prefix=self.state_path.name + ".", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(doc, out, sort_keys=True, indent=1)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.state_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One request at a time, in this process and across processes sharing the state file."""
        with self._lock, open(self.state_path.with_name(self.state_path.name + ".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # the protocol -------------------------------------------------------------------------------

    def add_checkpoint(self, body: bytes, now: int) -> tuple[int, bytes]:
        """The answer to ``POST /add-checkpoint`` with ``body`` at POSIX time ``now``."""
        try:
            old, proof, note, checkpoint = _parse(body)
        except ValueError as exc:
            return 400, _text(str(exc))
        if checkpoint.origin != self.log_origin:
            return 404, _text(f"this witness does not follow the log {checkpoint.origin!r}")
        try:
            tlog.verify_note(note, [self.log_verifier])
        except ValueError as exc:
            return 403, _text(f"the checkpoint is not signed by the log's key: {exc}")
        if old > checkpoint.size:
            return 400, _text(f"the old size {old} is above the checkpoint's size {checkpoint.size}")
        with self._locked():
            state = self.state()
            size, root = state.get(checkpoint.origin, (0, merkle.EMPTY_ROOT))
            if old != size:
                return 409, f"{size}\n".encode()
            if old == checkpoint.size:
                if checkpoint.root != root:
                    return 409, f"{size}\n".encode()
                if proof:
                    return 422, _text("the consistency proof between equal sizes is empty")
            elif old == 0 and proof:
                return 422, _text("the consistency proof from size 0 is empty")
            elif not merkle.verify_consistency(old, checkpoint.size, root, checkpoint.root, proof):
                return 422, _text(
                    f"the consistency proof from size {old} to {checkpoint.size} does not verify"
                )
            state[checkpoint.origin] = (checkpoint.size, checkpoint.root)
            self._save(state)
        cosigned = tlog.cosign(note, self.name, self.private_key, now)
        return 200, (cosigned.splitlines(keepends=True)[-1]).encode("utf-8")


def _text(message: str) -> bytes:
    return (message + "\n").encode("utf-8")


def _parse(body: bytes) -> tuple[int, list[bytes], str, tlog.Checkpoint]:
    """(old size, proof, note, checkpoint) of a request body; ValueError saying what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("the body is an old size line, proof lines, an empty line and a checkpoint")
    first, *proof_lines = head.split("\n")
    matched = _SIZE.fullmatch(first)
    if not matched:
        raise ValueError("the first line is 'old <size>', the size in decimal without leading zeros")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise ValueError(f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    proof = []
    for line in proof_lines:
        try:
            digest = base64.b64decode(line.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("a consistency proof line is not base64") from None
        if len(digest) != 32 or base64.b64encode(digest).decode() != line:
            raise ValueError("a consistency proof line is not the base64 of a 32-byte hash")
        proof.append(digest)
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("the checkpoint is not a signed note (no blank line before its signatures)")
    checkpoint = tlog.parse_checkpoint(note[: split + 1])
    return int(matched.group(1)), proof, note, checkpoint


# keys ------------------------------------------------------------------------------------------


def private_key_line(name: str, private_key: Ed25519PrivateKey) -> str:
    """The witness's private key file's line (keep it secret)."""
    from cryptography.hazmat.primitives import serialization

    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    kid = tlog.key_id(name, private_key.public_key(), tlog.COSIGNATURE_V1).hex()
    typed = base64.b64encode(bytes([tlog.COSIGNATURE_V1]) + seed).decode()
    return f"{PRIVATE_PREFIX}{name}+{kid}+{typed}"


def parse_private_key(line: str) -> tuple[str, Ed25519PrivateKey]:
    """(name, key) of a private key line; ValueError when it is malformed or its key ID is not
    that of its name and key."""
    if not line.startswith(PRIVATE_PREFIX):
        raise ValueError(f"a witness key file holds one line starting with {PRIVATE_PREFIX}")
    parts = line[len(PRIVATE_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise ValueError("a witness key is PRIVATE+KEY+<name>+<key ID>+<base64 key>")
    name, kid, typed_b64 = parts
    try:
        typed = base64.b64decode(typed_b64, validate=True)
    except binascii.Error:
        raise ValueError("the witness key is not base64") from None
    if len(typed) != 33 or typed[0] != tlog.COSIGNATURE_V1:
        raise ValueError("the witness key is not a cosignature/v1 Ed25519 key")
    key = Ed25519PrivateKey.from_private_bytes(typed[1:])
    if tlog.key_id(name, key.public_key(), tlog.COSIGNATURE_V1).hex() != kid.lower():
        raise ValueError("the witness key's ID does not match its name and key")
    return name, key


# HTTP ------------------------------------------------------------------------------------------


def _handler(witness: Witness) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the protocol asks
        server_version = "consent-service-witness"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?", 1)[0] != "/add-checkpoint":
                self._answer(404, _text("not found: POST /add-checkpoint"))
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._answer(411, _text("a Content-Length is required"))
                return
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._answer(413, _text(f"a request body is at most {MAX_BODY} bytes"))
                return
            status, body = witness.add_checkpoint(self.rfile.read(length), int(time.time()))
            self._answer(status, body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer(405 if self.path == "/add-checkpoint" else 404, _text("POST /add-checkpoint"))

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", SIZE_TYPE if status == 409 else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def server(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server of ``witness`` bound to ``host:port`` (port 0: any free port), not started."""
    made = ThreadingHTTPServer((host, port), _handler(witness))
    made.daemon_threads = True
    return made


# the command -----------------------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    key = Ed25519PrivateKey.generate()
    line = private_key_line(args.name, key)  # checks the name
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"consent-service-witness: {out} exists; not overwriting a key", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(line + "\n")
    print(tlog.cosigner_key(args.name, key.public_key()))
    return 0


def _serve(args: argparse.Namespace) -> int:
    name, key = parse_private_key(Path(args.key).read_text("ascii").strip())
    log_vkey = args.log_key
    if Path(log_vkey).is_file():
        log_vkey = Path(log_vkey).read_text("utf-8").strip()
    origin = args.origin or tlog.parse_verifier_key(log_vkey).name
    host, _, port = args.bind.rpartition(":")
    witness = Witness(name, key, origin, log_vkey, args.state)
    witness.state()  # a state file that cannot be read stops it now, not at the first request
    host = host.strip("[]") or "127.0.0.1"
    httpd = server(witness, host, int(port))
    bound_port = httpd.server_address[1]
    print(f"witness {witness.vkey}", file=sys.stderr)
    print(
        f"following {origin}; listening on http://{host}:{bound_port}/add-checkpoint",
        file=sys.stderr,
    )
    sys.stderr.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``consent-service-witness keygen|serve``."""
    parser = argparse.ArgumentParser(
        prog="consent-service-witness", description="A witness of a consent ledger's transparency log."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="make a witness key; prints its verifier key")
    keygen.add_argument("--name", required=True, help="the witness's name, e.g. witness.example.org/w1")
    keygen.add_argument("--out", required=True, help="the private key file to write (mode 0600)")
    serve = commands.add_parser("serve", help="answer POST /add-checkpoint")
    serve.add_argument("--key", required=True, help="the private key file of keygen")
    serve.add_argument(
        "--log-key", required=True, help="the log's verifier key (GET /v1/ledger/key), or a file"
    )
    serve.add_argument("--origin", default="", help="the log's origin (default: its key's name)")
    serve.add_argument(
        "--state", required=True, help="the state file (JSON), created at the first cosignature"
    )
    serve.add_argument(
        "--bind", default="127.0.0.1:8470", help="HOST:PORT to listen on (default 127.0.0.1:8470)"
    )
    args = parser.parse_args(argv)
    try:
        return _keygen(args) if args.command == "keygen" else _serve(args)
    except (OSError, ValueError) as exc:
        print(f"consent-service-witness: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
