"""Envelope encryption: per-subject data keys wrapped by versioned master keys.

Data is sealed with AES-256-GCM under the subject's data key, with a random 96-bit nonce and
associated data naming subject, table and field, so a ciphertext moved to another row or field
fails to open. A data key is wrapped under the current master key with the subject id as
associated data. Unwrapped keys are cached in-process, bounded in size and age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
import unicodedata
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consent_service.crypto.keyring import KeyMaterial
from consent_service.errors import ConfigurationError

NONCE_BYTES = 12
ERASED = "[erased]"


class DecryptionFailed(Exception):
    """The ciphertext does not open under this key and associated data."""


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("ciphertext does not open") from exc


def field_aad(subject_id: str, table: str, column: str, row_id: str = "") -> bytes:
    return f"{subject_id}|{table}|{column}|{row_id}".encode()


def normalise_identity(kind: str, value: str) -> str:
    value = unicodedata.normalize("NFKC", value).strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        digits = "".join(ch for ch in value if ch.isdigit())
        return ("+" if value.startswith("+") else "") + digits
    return value


class KeyCache:
    """LRU of unwrapped data keys, bounded by count and age."""

    def __init__(self, max_size: int = 10_000, max_age_s: float = 300.0) -> None:
        self.max_size = max_size
        self.max_age_s = max_age_s
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, subject_id: str) -> bytes | None:
        with self._lock:
            item = self._data.get(subject_id)
            if item is None:
                return None
            if time.monotonic() - item[0] > self.max_age_s:
                del self._data[subject_id]
                return None
            self._data.move_to_end(subject_id)
            return item[1]

    def put(self, subject_id: str, key: bytes) -> None:
        with self._lock:
            self._data[subject_id] = (time.monotonic(), key)
            self._data.move_to_end(subject_id)
            while len(self._data) > self.max_size:
                self._data.popitem(last=False)

    def purge(self, subject_id: str) -> None:
        """Forget every cached key of the subject."""
        prefix = subject_id + ":"
        with self._lock:
            for name in [k for k in self._data if k == subject_id or k.startswith(prefix)]:
                del self._data[name]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Crypto:
    """The service's keys in use: wrapping, sealing and blind indexes."""

    def __init__(self, material: KeyMaterial, cache: KeyCache | None = None) -> None:
        self.material = material
        self.cache = cache or KeyCache()

    # data keys -------------------------------------------------------------------------
    def new_data_key(self, subject_id: str) -> tuple[bytes, int, bytes]:
        """A fresh data key and its wrapped form: (key, kek_version, wrapped)."""
        key = AESGCM.generate_key(bit_length=256)
        version = self.material.current_kek
        wrapped = seal(self.material.keks[version], key, b"dek|" + subject_id.encode())
        self.cache.put(subject_id + ":" + wrapped.hex(), key)
        return key, version, wrapped

    def unwrap(self, subject_id: str, version: int, wrapped: bytes) -> bytes:
        """Unwrap a data key; the cache is keyed by the wrapped bytes, so a re-wrapped or
        destroyed key is never answered from the cache."""
        cache_key = subject_id + ":" + wrapped.hex()
        cached = self.cache.get(cache_key)
        if cached is not None:
            return cached
        kek = self.material.keks.get(version)
        if kek is None:
            raise ConfigurationError(f"master key version {version} is not in the keyring")
        key = open_sealed(kek, wrapped, b"dek|" + subject_id.encode())
        self.cache.put(cache_key, key)
        return key

    # blind index -----------------------------------------------------------------------
    def blind_index(self, kind: str, value: str) -> str:
        message = f"{kind}\x00{normalise_identity(kind, value)}".encode()
        return hmac.new(self.material.index_key, message, hashlib.sha256).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
