"""Checkpoints of a transparency log, the signed notes that carry them, and witnesses'
cosignatures on them (C2SP formats).

- ``checkpoint_body`` / ``parse_checkpoint``: the text of c2sp.org/tlog-checkpoint: the origin,
  the tree size in decimal, the base64 root hash, then optional extension lines, each line
  ending in a newline.
- Signed notes of c2sp.org/signed-note with Ed25519 (signature type 0x01): the text, a blank
  line, then one line per signature, ``— <key name> base64(key ID ‖ signature)``, where the key
  ID is the first four bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key). ``sign_note``
  signs a text, ``add_signature`` adds a cosigner's line to a signed note, ``verifier_key`` and
  ``parse_verifier_key`` write and read the ``<name>+<key ID hex>+<base64(0x01 ‖ key)>``
  verifier keys, and ``open_note`` returns the text and the keys whose signatures verified.

- Cosignatures of c2sp.org/tlog-cosignature (``cosignature/v1``, signature type 0x04): a
  witness signs ``cosignature/v1\n`` ``time <POSIX seconds>\n`` followed by the checkpoint
  text, and its signature line holds base64(key ID ‖ 8-byte big-endian time ‖ signature), the
  key ID being SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]. ``cosign`` adds such a line,
  ``cosigner_key`` writes a witness's verifier key, and ``verify_note`` returns the time of
  each verified cosignature beside the plain signatures.

Pure functions; malformed input raises ``ValueError`` with a message saying what is wrong.
``open_note`` ignores lines from keys it does not know (as the note format requires, so that
witnesses can cosign and keys can rotate) and rejects the whole note when a known key's
signature fails or none verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01  # the signature type byte of Ed25519 notes (c2sp.org/signed-note)
COSIGNATURE_V1 = 0x04  # Ed25519 cosignatures of checkpoints (c2sp.org/tlog-cosignature)
_KINDS = (ED25519, COSIGNATURE_V1)
_COSIGNED_HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
DASH = "\u2014"  # the em dash that opens every signature line
MAX_SIGNATURES = 100  # the note format asks for at least 16 to be accepted
_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head as a checkpoint states it."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 key that notes may be signed with: its name, key ID and raw public key, and
    its kind: ``ED25519`` (plain note signatures) or ``COSIGNATURE_V1`` (a witness's)."""

    name: str
    key_id: bytes
    public_key: bytes
    kind: int = ED25519


@dataclass(frozen=True)
class Opened:
    """A note whose signatures were checked: its text, and per verified key name the time of
    its cosignature (``None`` for a plain signature), in the order of the lines."""

    text: str
    signers: dict[str, int | None]


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: padding required, no other characters, one spelling per value."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{what} is not base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"{what} is not base64 in its canonical form")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_line(line: str, what: str) -> None:
    if not line:
        raise ValueError(f"{what} is empty")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in line):
        raise ValueError(f"{what} contains a newline or another control character")


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint text of a tree head, every line ending in a newline.

    ``ValueError`` for an empty origin or extension line, a line with a control character, a
    negative size or a root that is not a 32-byte SHA-256 hash.
    """
    _check_line(origin, "the origin")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("the tree size must be a non-negative integer")
    if not isinstance(root, bytes) or len(root) != 32:
        raise ValueError("the root hash must be 32 bytes")
    for line in extensions:
        _check_line(line, "an extension line")
    return "".join(line + "\n" for line in (origin, str(size), _b64(root), *extensions))


def parse_checkpoint(body: str) -> Checkpoint:
    """The checkpoint a note text states; ``ValueError`` for any departure from the format.

    Refused: a text without its final newline, fewer than three lines, an empty line, a size
    with a sign, spaces or leading zeros, a root that is not canonical base64 of 32 bytes.
    """
    *lines, last = body.split("\n")
    if last:
        raise ValueError("a checkpoint ends in a newline")
    if len(lines) < 3:
        raise ValueError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size, root_b64, *extensions = lines
    _check_line(origin, "the origin")
    if not _SIZE.fullmatch(size):
        raise ValueError("the tree size is not a decimal number without leading zeros")
    root = _b64decode(root_b64, "the root hash")
    if len(root) != 32:
        raise ValueError("the root hash is not 32 bytes")
    for line in extensions:
        _check_line(line, "an extension line")
    return Checkpoint(origin, int(size), root, tuple(extensions))


def valid_key_name(name: str) -> bool:
    """Whether ``name`` may name a note key (and so a log's origin): non-empty, no spaces, no '+'."""
    return bool(name) and "+" not in name and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)


def _check_name(name: str) -> None:
    if not valid_key_name(name):
        raise ValueError("a key name is non-empty, without spaces or '+'")


def _check_characters(note: str) -> None:
    """What the note format asks of every character: valid UTF-8, no control but newline."""
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a note is valid UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise ValueError("a note contains no control characters but newlines")


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey, kind: int = ED25519) -> bytes:
    """The 4-byte key ID of an Ed25519 note key: SHA-256(name ‖ 0x0A ‖ kind ‖ key)[:4]."""
    return _key_id(name, bytes([kind]) + _raw(public_key))


def _key_id(name: str, typed_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + typed_key).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey, kind: int = ED25519) -> str:
    """The verifier key ``<name>+<key ID in hex>+<base64(kind ‖ public key)>`` of a note key."""
    _check_name(name)
    return f"{name}+{key_id(name, public_key, kind).hex()}+{_b64(bytes([kind]) + _raw(public_key))}"


def cosigner_key(name: str, public_key: Ed25519PublicKey) -> str:
    """A witness's verifier key: ``<name>+<key ID>+<base64(0x04 ‖ public key)>``."""
    return verifier_key(name, public_key, COSIGNATURE_V1)


def parse_verifier_key(vkey: str) -> Verifier:
    """The key a verifier key names; ``ValueError`` if it is malformed, its key ID does not
    match its name and key, or its algorithm is not Ed25519 with a 32-byte key."""
    parts = vkey.split("+", 2)
    if len(parts) != 3 or not _KEY_ID.fullmatch(parts[1]):
        raise ValueError("a verifier key is <name>+<8 hex digits>+<base64 key>")
    name, id_hex, key_b64 = parts
    _check_name(name)
    typed_key = _b64decode(key_b64, "the verifier key")
    if not typed_key:
        raise ValueError("the verifier key is empty")
    if _key_id(name, typed_key) != bytes.fromhex(id_hex):
        raise ValueError("the verifier key's ID does not match its name and key")
    if typed_key[0] not in _KINDS or len(typed_key) != 33:
        raise ValueError(
            "the verifier key is not an Ed25519 note or cosignature/v1 key (unknown algorithm or length)"
        )
    return Verifier(name, bytes.fromhex(id_hex), typed_key[1:], typed_key[0])


def _signature_line(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    _check_name(name)
    signature = key_id(name, private_key.public_key()) + private_key.sign(text.encode("utf-8"))
    return f"{DASH} {name} {_b64(signature)}\n"


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note of ``text`` with one Ed25519 signature under key name ``name``.

    ``ValueError`` for a text that does not end in a newline or holds a control character,
    and for a key name that is empty or holds a space or '+'.
    """
    if not text.endswith("\n"):
        raise ValueError("a note's text ends in a newline")
    _check_characters(text)
    return text + "\n" + _signature_line(text, name, private_key)


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """(text, [(name, key ID, signature)]) of a note's syntax, nothing verified."""
    _check_characters(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("a note's text ends in a newline and a blank line precedes its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    *lines, last = block.split("\n")
    if not lines or last:
        raise ValueError("a note has signature lines, each ending in a newline")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"a note has at most {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(DASH + " "):
            raise ValueError("a signature line starts with an em dash and a space")
        name, _, sig_b64 = line[2:].partition(" ")
        _check_name(name)
        raw = _b64decode(sig_b64, "a signature")
        if len(raw) < 5:
            raise ValueError("a signature is a key ID and at least one byte")
        signatures.append((name, raw[:4], raw[4:]))
    return text, signatures


def add_signature(note: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note with one more signature line (a cosigner's) over the same text.

    A line of the same key (name and key ID) is replaced rather than repeated. The existing
    signatures are kept as they are, not verified: ``open_note`` is where they are checked.
    """
    text, signatures = _split_note(note)
    added = _signature_line(text, name, private_key)
    own = (name, key_id(name, private_key.public_key()))
    kept = [f"{DASH} {n} {_b64(k + s)}\n" for n, k, s in signatures if (n, k) != own]
    return text + "\n" + "".join(kept) + added


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"{_COSIGNED_HEADER}time {timestamp}\n{text}".encode()


def cosign(note: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """The signed note with a witness's cosignature/v1 line of time ``timestamp`` added (a
    line of the same witness key is replaced). The checkpoint text is not checked here: a
    witness checks it before it cosigns."""
    _check_name(name)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("a cosignature's time is a POSIX timestamp from 0 to 2**63 - 1")
    text, signatures = _split_note(note)
    kid = key_id(name, private_key.public_key(), COSIGNATURE_V1)
    raw = kid + timestamp.to_bytes(8, "big") + private_key.sign(_cosigned_message(text, timestamp))
    kept = [f"{DASH} {n} {_b64(k + s)}\n" for n, k, s in signatures if (n, k) != (name, kid)]
    return text + "\n" + "".join(kept) + f"{DASH} {name} {_b64(raw)}\n"


def verify_note(note: str, verifiers: Sequence[Verifier]) -> Opened:
    """The note's text and the known keys whose signatures verified, with each cosignature's
    time.

    Lines of unknown keys (another name or key ID) are ignored. ``ValueError`` for a malformed
    note (no newline-terminated text, no blank line, bad base64, ...), for a known key whose
    signature does not verify (the text was changed or the signature forged), for a
    cosignature that is not a time and a 64-byte signature, for two different verifiers with
    the same name and key ID, and when no known key signed at all.
    """
    text, signatures = _split_note(note)
    known: dict[tuple[str, bytes], Verifier | None] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        known[slot] = verifier if known.get(slot, verifier) == verifier else None
    signers: dict[str, int | None] = {}
    for name, kid, signature in signatures:
        if (name, kid) not in known:
            continue
        key = known[name, kid]
        if key is None:
            raise ValueError(f"two verifiers have the key {name}+{kid.hex()}")
        timestamp: int | None = None
        message = text.encode("utf-8")
        if key.kind == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                raise ValueError(f"the cosignature of {name}+{kid.hex()} is not a time and a signature")
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > MAX_TIMESTAMP:
                raise ValueError(f"the cosignature of {name}+{kid.hex()} has a time past 2**63 - 1")
            signature, message = signature[8:], _cosigned_message(text, timestamp)
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, message)
        except InvalidSignature:
            raise ValueError(f"the signature of {name}+{kid.hex()} does not verify") from None
        signers.setdefault(name, timestamp)
    if not signers:
        raise ValueError("the note has no signature of a known key")
    return Opened(text, signers)


def open_note(note: str, verifiers: Sequence[Verifier]) -> tuple[str, list[str]]:
    """The note's text and the names of the known keys whose signatures verified (in order);
    the errors of ``verify_note``."""
    opened = verify_note(note, verifiers)
    return opened.text, list(opened.signers)
