"""Canonical JSON and SHA-256 content hashes shared by the registry and the ledger."""

from __future__ import annotations

import hashlib
from typing import Any

from consent_verify.canonical import canonical_json

__all__ = ["canonical_json", "content_hash"]


def content_hash(doc: Any) -> str:
    return hashlib.sha256(canonical_json(doc)).hexdigest()
