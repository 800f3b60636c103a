"""Master key material and where it comes from.

A *key provider* loads the key material: versioned master keys (key-encryption keys, KEKs) that
wrap per-subject data keys, the separate HMAC key of the blind indexes, and the Ed25519 key that
signs ledger checkpoints and consent receipts. ``LocalFileProvider`` (a JSON file with 0600
permissions) is the embedded default; ``EnvProvider`` reads the same JSON from
``CONSENT_MASTER_KEYS`` (read-only). A KMS or Vault provider implements the same three methods.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_service.errors import ConfigurationError
from consent_service.files import private_dir

FORMAT_VERSION = 2


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass
class KeyMaterial:
    """Versioned master keys (KEKs), versioned blind-index keys and the signing key."""

    keks: dict[int, bytes]
    current_kek: int
    index_keys: dict[int, bytes]
    current_index: int
    signing_key: bytes  # raw Ed25519 private key (32 bytes)
    key_id: str = field(default="")

    @property
    def index_key(self) -> bytes:
        return self.index_keys[self.current_index]

    @classmethod
    def generate(cls) -> KeyMaterial:
        from cryptography.hazmat.primitives import serialization

        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(
            keks={1: secrets.token_bytes(32)},
            current_kek=1,
            index_keys={1: secrets.token_bytes(32)},
            current_index=1,
            signing_key=raw,
            key_id="k" + secrets.token_hex(4),
        )

    def with_new_kek(self) -> KeyMaterial:
        version = max(self.keks) + 1
        return replace(self, keks={**self.keks, version: secrets.token_bytes(32)}, current_kek=version)

    def with_new_index_key(self) -> KeyMaterial:
        version = max(self.index_keys) + 1
        return replace(
            self, index_keys={**self.index_keys, version: secrets.token_bytes(32)}, current_index=version
        )

    def without_kek(self, version: int) -> KeyMaterial:
        """The material with master key ``version`` destroyed (never the current one)."""
        if version == self.current_kek:
            raise ValueError("the current master key cannot be removed")
        return replace(self, keks={v: k for v, k in self.keks.items() if v != version})

    def with_only_current_index_key(self) -> KeyMaterial:
        """The material without the blind-index keys older than the current one."""
        return replace(self, index_keys={self.current_index: self.index_keys[self.current_index]})

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "key_id": self.key_id,
                "current_kek": self.current_kek,
                "keks": {str(v): _b64(k) for v, k in sorted(self.keks.items())},
                "current_index": self.current_index,
                "index_keys": {str(v): _b64(k) for v, k in sorted(self.index_keys.items())},
                "signing_key": _b64(self.signing_key),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> KeyMaterial:
        try:
            doc = json.loads(text)
            keks = {int(v): _unb64(k) for v, k in doc["keks"].items()}
            index_keys = {int(v): _unb64(k) for v, k in doc["index_keys"].items()}
            material = cls(
                keks=keks,
                current_kek=int(doc["current_kek"]),
                index_keys=index_keys,
                current_index=int(doc["current_index"]),
                signing_key=_unb64(doc["signing_key"]),
                key_id=str(doc.get("key_id", "k0")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"key material in {source} is unreadable: {exc}") from exc
        if material.current_kek not in material.keks:
            raise ConfigurationError(f"{source}: current master key version is missing")
        if material.current_index not in material.index_keys:
            raise ConfigurationError(f"{source}: current blind-index key version is missing")
        keys = [*material.keks.values(), *material.index_keys.values()]
        if any(len(k) != 32 for k in keys) or len(material.signing_key) != 32:
            raise ConfigurationError(f"{source}: keys must be 32 bytes")
        return material


class KeyProvider(Protocol):
    """Where master keys live.

    ``load`` returns the current material (called at start and again when a process meets a
    key version it does not know, e.g. after a rotation); ``save`` stores changed material
    (rotation, retirement, re-indexing) atomically, or raises ConfigurationError when the
    provider is read-only; ``describe`` names the source for messages. A provider whose
    material can change under a running process may also offer ``stamp()``, a cheap value that
    changes when the material does; ``Crypto`` polls it to pick up a new version without a restart.
    """

    def load(self) -> KeyMaterial: ...

    def save(self, material: KeyMaterial) -> None: ...

    def describe(self) -> str: ...


class LocalFileProvider:
    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"local key file {self.path}"

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> KeyMaterial:
        if not self.path.exists():
            raise ConfigurationError(f"no key file at {self.path}; run 'consent-service keys init' first")
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigurationError(
                f"key file {self.path} is readable by others (mode {oct(mode)}); chmod 600 it"
            )
        return KeyMaterial.from_json(self.path.read_text(), str(self.path))

    def stamp(self) -> tuple[int, int, int] | None:
        """Changes whenever the file is replaced (inode, size, mtime); None when it is absent."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def save(self, material: KeyMaterial) -> None:
        """Replace the key file atomically (write a 0600 temporary file, fsync, rename)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(material.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def init(self) -> bool:
        """Create the key file if absent (0600). Returns True when it was created."""
        if self.path.exists():
            return False
        private_dir(self.path.parent)
        material = KeyMaterial.generate()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(material.to_json())
        return True


class EnvProvider:
    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        return "CONSENT_MASTER_KEYS"

    def load(self) -> KeyMaterial:
        return KeyMaterial.from_json(self.text, "CONSENT_MASTER_KEYS")

    def save(self, material: KeyMaterial) -> None:
        raise ConfigurationError(
            "keys come from CONSENT_MASTER_KEYS, which the service cannot change; "
            "use a key file (CONSENT_KEY_FILE) for rotation and retirement"
        )
