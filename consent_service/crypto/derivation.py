"""Keys derived from a master key for one use each (HKDF-SHA256, the ``info`` names the use):
store connections, package links, sealed outbox messages, the console's session cookies. Rotating
the master key (and retiring the old one) changes every derived key.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive(master_key: bytes, info: bytes) -> bytes:
    """A 32-byte key for the use ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)
