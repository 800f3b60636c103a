"""Ed25519 signatures over canonical JSON: ledger checkpoints and consent receipts.

A signed document can be checked with the public key alone (``verify_signed``), without the
database or the private key.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from consent_service.hashing import canonical_json


class Signer:
    def __init__(self, raw_private_key: bytes, key_id: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(raw_private_key)
        self.key_id = key_id
        self.public_key_b64 = base64.b64encode(
            self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode("ascii")

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def ed25519_private_key(self) -> Ed25519PrivateKey:
        """The signing key itself, for signed formats other than canonical JSON (signed notes)."""
        return self._key

    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def sign(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return ``{"payload", "signature": {"alg", "key_id", "public_key", "value"}}``."""
        signature = self._key.sign(canonical_json(payload))
        return {
            "payload": payload,
            "signature": {
                "alg": "Ed25519",
                "key_id": self.key_id,
                "public_key": self.public_key_b64,
                "value": base64.b64encode(signature).decode("ascii"),
            },
        }


def load_public_key(text: str) -> Ed25519PublicKey:
    """Accept a PEM public key or a base64 raw 32-byte key."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def verify_signed(document: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True when ``document["signature"]`` is a valid signature of ``document["payload"]``."""
    try:
        signature = base64.b64decode(document["signature"]["value"], validate=True)
        public_key.verify(signature, canonical_json(document["payload"]))
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True
