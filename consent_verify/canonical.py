"""Canonical JSON: sorted keys, no spaces, UTF-8. What receipts are signed over and what a
ledger event's hash and Merkle leaf are taken of."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
