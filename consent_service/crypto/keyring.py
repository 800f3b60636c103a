"""Master key material and where it comes from.

A *key provider* loads the key material: versioned master keys (key-encryption keys, KEKs) that
wrap per-subject data keys, the separate HMAC key of the blind indexes, and the Ed25519 key that
signs ledger checkpoints and consent receipts. ``LocalFileProvider`` (a JSON file with 0600
permissions) is the embedded default; ``EnvProvider`` reads the same JSON from
``CONSENT_MASTER_KEYS``. A KMS or Vault provider implements the same two methods.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_service.errors import ConfigurationError

FORMAT_VERSION = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass
class KeyMaterial:
    keks: dict[int, bytes]
    current_kek: int
    index_key: bytes
    signing_key: bytes  # raw Ed25519 private key (32 bytes)
    key_id: str = field(default="")

    @classmethod
    def generate(cls) -> KeyMaterial:
        signing = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives import serialization

        raw = signing.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(
            keks={1: secrets.token_bytes(32)},
            current_kek=1,
            index_key=secrets.token_bytes(32),
            signing_key=raw,
            key_id="k" + secrets.token_hex(4),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "key_id": self.key_id,
                "current_kek": self.current_kek,
                "keks": {str(v): _b64(k) for v, k in sorted(self.keks.items())},
                "index_key": _b64(self.index_key),
                "signing_key": _b64(self.signing_key),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> KeyMaterial:
        try:
            doc = json.loads(text)
            keks = {int(v): _unb64(k) for v, k in doc["keks"].items()}
            material = cls(
                keks=keks,
                current_kek=int(doc["current_kek"]),
                index_key=_unb64(doc["index_key"]),
                signing_key=_unb64(doc["signing_key"]),
                key_id=str(doc.get("key_id", "k0")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"key material in {source} is unreadable: {exc}") from exc
        if material.current_kek not in material.keks:
            raise ConfigurationError(f"{source}: current master key version is missing")
        if any(len(k) != 32 for k in material.keks.values()) or len(material.index_key) != 32:
            raise ConfigurationError(f"{source}: keys must be 32 bytes")
        return material


class KeyProvider(Protocol):
    """Where master keys live. ``load`` must be cheap enough to call once per process."""

    def load(self) -> KeyMaterial: ...

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

    def init(self) -> bool:
        """Create the key file if absent (0600). Returns True when it was created."""
        if self.path.exists():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
