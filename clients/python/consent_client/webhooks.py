"""Checking the signature of a webhook the service sent.

The service signs each webhook with ``X-Consent-Timestamp`` (Unix seconds) and
``X-Consent-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` under the
recipient's shared secret. Check both before trusting the body, and refuse an old timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Consent-Timestamp"
SIGNATURE_HEADER = "X-Consent-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Consent-Signature`` value the service sends for ``body`` at ``timestamp``."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    *,
    max_age_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether the raw ``body`` was signed by the service at ``timestamp``, within ``max_age_s``.

    Pass the body exactly as received (bytes, before any JSON parsing) and the two header
    values; a missing header, a timestamp that is not a number or is too far from ``now``, and
    a wrong signature all give ``False``.
    """
    if not timestamp or not signature_header:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > max_age_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header)
