"""Sealing store connections at rest, and showing them without their secrets.

A connection (URLs with passwords, shared secrets) is sealed with AES-256-GCM under a key
derived by HKDF-SHA256 from the current master key (info ``consent-service store secrets``),
with the store key as associated data so a sealed connection cannot be moved to another store.
The master key version is stored beside the ciphertext. ``redact`` is what the API shows.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from consent_service.crypto.derivation import derive
from consent_service.crypto.envelope import Crypto, DecryptionFailed, open_sealed, seal
from consent_service.errors import ConfigurationError

INFO = b"consent-service store secrets"
HASH_INFO = b"consent-service erasure hash"
HIDDEN = "***"
SECRET_NAMES = re.compile(r"secret|password|passwd|token|key|credential", re.IGNORECASE)


def _aad(store_key: str) -> bytes:
    return b"store|" + store_key.encode()


def seal_connection(crypto: Crypto, store_key: str, connection: dict[str, Any]) -> tuple[bytes, int]:
    """The sealed connection and the master key version that sealed it."""
    crypto.refresh()
    material = crypto.material
    key = derive(material.keks[material.current_kek], INFO)
    return seal(key, json.dumps(connection, sort_keys=True).encode(), _aad(store_key)), material.current_kek


def open_connection(crypto: Crypto, store_key: str, box: bytes, kek_version: int) -> dict[str, Any]:
    master = crypto.material.keks.get(kek_version)
    if master is None:
        crypto.reload()
        master = crypto.material.keks.get(kek_version)
    if master is None:
        raise ConfigurationError(
            f"the connection of store {store_key!r} is sealed under master key v{kek_version}, "
            "which is not in the keyring; register the store again"
        )
    try:
        return json.loads(open_sealed(derive(master, INFO), box, _aad(store_key)))
    except DecryptionFailed as exc:
        raise ConfigurationError(f"the connection of store {store_key!r} does not open") from exc


def erasure_hash_key(crypto: Crypto) -> bytes:
    """The HMAC key of the "hash" field action (stable while the current master key is)."""
    material = crypto.material
    return derive(material.keks[material.current_kek], HASH_INFO)


def redact_url(url: str, *, sql: bool = False) -> str:
    """The URL with its password (and query, which may carry tokens) hidden."""
    if sql:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            return HIDDEN
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = HIDDEN if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact(connection: dict[str, Any], store_type: str = "") -> dict[str, Any]:
    """The connection as shown by the API: URLs without passwords, secret values as ``***``."""
    out: dict[str, Any] = {}
    for name, value in connection.items():
        if SECRET_NAMES.search(name):
            out[name] = HIDDEN
        elif isinstance(value, str) and "://" in value:
            out[name] = redact_url(value, sql=store_type == "sql" and name == "url")
        elif isinstance(value, (bool, int, float)) or value is None:
            out[name] = value
        else:
            out[name] = HIDDEN
    return out


def keep_hidden(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new`` with values sent back as ``***`` (from a GET) replaced by the stored ones."""
    merged = dict(new)
    for name, value in new.items():
        if value == HIDDEN and name in old:
            merged[name] = old[name]
        elif isinstance(value, str) and f":{HIDDEN}@" in value and isinstance(old.get(name), str):
            previous = urllib.parse.urlsplit(old[name])
            if previous.password:
                merged[name] = value.replace(f":{HIDDEN}@", f":{previous.password}@", 1)
    return merged
