"""Envelope encryption: per-subject data keys wrapped by versioned master keys.

Data is sealed with AES-256-GCM under the subject's data key, with a random 96-bit nonce and
associated data naming subject, table and field, so a ciphertext moved to another row or field
fails to open. A data key is wrapped under the current master key with the subject id as
associated data. Unwrapped keys are cached in-process, bounded in size and age.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import threading
import time
import unicodedata
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consent_service.crypto.keyring import KeyMaterial, KeyProvider
from consent_service.errors import ConfigurationError

NONCE_BYTES = 12
# How often a process looks whether its key provider's material changed (rotation, re-index).
KEY_REFRESH_SECONDS = 2.0
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


BUILT_IN_KINDS = ("email", "phone", "customer_id", "device_id")


def normalise_identity(kind: str, value: str) -> str:
    """The built-in kinds' normalisation; a registered kind's value comes normalised by its own
    rule (``subjects.identity_types``) and is indexed as it is."""
    if kind not in BUILT_IN_KINDS:
        return value
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

    def __init__(
        self,
        material: KeyMaterial,
        cache: KeyCache | None = None,
        provider: KeyProvider | None = None,
        *,
        refresh_s: float = KEY_REFRESH_SECONDS,
    ) -> None:
        self.material = material
        self.cache = cache or KeyCache()
        self.provider = provider
        self.refresh_s = refresh_s
        self._reload_lock = threading.Lock()
        self._stamp_of = getattr(provider, "stamp", None)
        self._stamp = self._stamp_of() if self._stamp_of else None
        self._checked = time.monotonic()

    def reload(self) -> None:
        """Read the key material again (another process rotated or re-indexed)."""
        if self.provider is not None:
            with self._reload_lock:
                stamp = self._stamp_of() if self._stamp_of else None
                self.material = self.provider.load()
                self._stamp = stamp

    def refresh(self) -> None:
        """Reload when the provider's material changed; looks at most every ``refresh_s``.

        A new blind-index key must reach every running process before ``keys reindex``
        rewrites the digests (otherwise a process that only knows the old key no longer finds
        re-indexed identities), and a new master key should wrap new data keys soon after
        ``keys rotate``. If the changed material cannot be read, the old one stays in use.
        """
        if self._stamp_of is None:
            return
        now = time.monotonic()
        if now - self._checked < self.refresh_s:
            return
        self._checked = now
        if self._stamp_of() != self._stamp:
            with contextlib.suppress(ConfigurationError):
                self.reload()

    # data keys -------------------------------------------------------------------------
    def new_data_key(self, subject_id: str) -> tuple[bytes, int, bytes]:
        """A fresh data key and its wrapped form: (key, kek_version, wrapped)."""
        self.refresh()
        material = self.material
        key = AESGCM.generate_key(bit_length=256)
        version = material.current_kek
        wrapped = seal(material.keks[version], key, b"dek|" + subject_id.encode())
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
            self.reload()
            kek = self.material.keks.get(version)
        if kek is None:
            raise ConfigurationError(f"master key version {version} is not in the keyring (retired?)")
        key = open_sealed(kek, wrapped, b"dek|" + subject_id.encode())
        self.cache.put(cache_key, key)
        return key

    # blind index -----------------------------------------------------------------------
    def blind_index(self, kind: str, value: str, version: int | None = None) -> str:
        """HMAC-SHA256 of the normalised value under the current (or given) index key."""
        material = self.material
        key = material.index_keys[version or material.current_index]
        message = f"{kind}\x00{normalise_identity(kind, value)}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def lookup_digests(self, kind: str, value: str) -> list[str]:
        """Digests under every index key in the keyring: one normally, two while re-indexing."""
        self.refresh()
        material = self.material
        message = f"{kind}\x00{normalise_identity(kind, value)}".encode()
        return [
            hmac.new(material.index_keys[v], message, hashlib.sha256).hexdigest()
            for v in sorted(material.index_keys, reverse=True)
        ]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
