"""Connectors to the stores a company registers, behind one interface (``base.Connector``).

``connector_for`` builds the right connector from a validated store description and its
decrypted connection settings. Imports of driver packages happen here, on use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from consent_service.db import utcnow
from consent_service.outbound import Policy
from consent_service.stores.connectors.base import (
    Check,
    Connector,
    ConnectorError,
    Deferred,
    EraseResult,
)
from consent_service.stores.spec import StoreSpec

__all__ = ["Check", "Connector", "ConnectorError", "Deferred", "EraseResult", "connector_for"]


def connector_for(
    store_spec: StoreSpec,
    secrets: Mapping[str, Any],
    *,
    hash_key: bytes = b"",
    clock: Callable[[], dt.datetime] = utcnow,
    outbound: Policy | None = None,
) -> Connector:
    """The connector of ``store_spec``; ``secrets`` is its connection (URL, endpoint and secret)."""
    if store_spec.type == "sql":
        from consent_service.stores.connectors.sql import SqlConnector

        return SqlConnector(store_spec, secrets["url"], hash_key)
    if store_spec.type == "redis":
        from consent_service.stores.connectors.redis import RedisConnector

        return RedisConnector(store_spec, secrets["url"], hash_key)
    if store_spec.type == "http":
        from consent_service.stores.connectors.http import HttpConnector

        return HttpConnector(store_spec, secrets["endpoint"], secrets["secret"], policy=outbound)
    if store_spec.type == "manual":
        from consent_service.stores.connectors.manual import ManualConnector

        return ManualConnector(store_spec, secrets, clock=clock)
    raise ConnectorError(f"no connector for store type {store_spec.type!r}")
