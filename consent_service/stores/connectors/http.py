"""HTTP stores: a SaaS or internal service that implements the receiving end of a signed request.

Every call is a POST of a JSON body ``{"operation", "store", "collection", "request_id", ...}``
with ``X-Consent-Timestamp`` (Unix seconds) and ``X-Consent-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<body>"`` under the store's shared secret. The service answers
``{"status": "done", ...}`` inline or ``{"status": "accepted"}`` and calls back later; the
callback is checked with ``verify_signature``. Calls go through ``consent_service.outbound``: the
address connected to is checked against the allow-list each time. See docs/dsar-stores.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from consent_service import outbound
from consent_service.stores.connectors.base import (
    Check,
    Connector,
    ConnectorError,
    Deferred,
    EraseResult,
    Row,
    short_error,
)
from consent_service.stores.spec import StoreSpec

TIMESTAMP_HEADER = "X-Consent-Timestamp"
SIGNATURE_HEADER = "X-Consent-Signature"
TIMEOUT_S = 15.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of ``body`` sent at ``timestamp``."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, max_age_s: float = 300, now: float | None = None
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` and the timestamp is recent enough."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


class HttpConnector(Connector):
    def __init__(
        self,
        spec: StoreSpec,
        endpoint: str,
        secret: str,
        timeout_s: float = TIMEOUT_S,
        policy: outbound.Policy | None = None,
    ) -> None:
        self.spec = spec
        self.endpoint = endpoint
        self.secret = secret
        self.timeout_s = timeout_s
        self.policy = policy or outbound.Policy()  # no allow-list: public addresses only

    def call(self, operation: str, **payload: Any) -> dict[str, Any]:
        """POST one signed operation; returns the answer or raises ConnectorError."""
        document = {
            "operation": operation,
            "store": self.spec.key,
            "request_id": str(uuid.uuid4()),
            **payload,
        }
        body = json.dumps(document, default=str, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            },
        )
        try:
            with outbound.urlopen(request, self.policy, self.timeout_s) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ConnectorError(f"{self.endpoint} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConnectorError(f"{self.endpoint}: {short_error(exc)}") from None
        if not isinstance(answer, dict) or answer.get("status") not in ("done", "accepted"):
            raise ConnectorError(f"{self.endpoint} answered without status done or accepted")
        return answer

    def _done(self, operation: str, **payload: Any) -> dict[str, Any]:
        answer = self.call(operation, **payload)
        if answer["status"] == "accepted":
            raise Deferred("accepted", {"operation": operation, "reference": answer.get("reference")})
        return answer

    def check(self) -> list[Check]:
        try:
            answer = self.call("check", collections=sorted(self.spec.collections))
        except ConnectorError as exc:
            return [Check("*", False, problem=str(exc))]
        reported = answer.get("checks")
        if isinstance(reported, list):
            return [
                Check(str(c.get("collection")), bool(c.get("ok")), c.get("field"), c.get("problem"))
                for c in reported
                if isinstance(c, dict)
            ]
        return [Check(name, True) for name in self.spec.collections]

    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        self.collection(collection)
        answer = self._done("find", collection=collection, field=field, values=list(values))
        records = answer.get("records", [])
        if not isinstance(records, list):
            raise ConnectorError(f"{self.endpoint}: records must be a list")
        return [dict(r) for r in records if isinstance(r, dict)]

    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        self.collection(collection)
        answer = self.call("erase", collection=collection, rows=list(rows), actions=dict(actions))
        if answer["status"] == "accepted":
            return EraseResult(status="accepted", task={"reference": answer.get("reference")})
        return EraseResult(updated=int(answer.get("updated", 0)), deleted=int(answer.get("deleted", 0)))

    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        self.collection(collection)
        answer = self._done("rectify", collection=collection, rows=list(rows), changes=dict(changes))
        return int(answer.get("changed", 0))
