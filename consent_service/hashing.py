"""Canonical JSON and SHA-256 content hashes shared by the registry and the ledger."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(doc: Any) -> str:
    return hashlib.sha256(canonical_json(doc)).hexdigest()
