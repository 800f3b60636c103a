"""The wired service every feature is given: database, keys, signer, clock and store connectors.

``consent_service.wiring.bootstrap(config)`` builds it (``create_app``, the CLI, the worker and
tests alike); this module imports no feature, so every feature may import it.

Every registered store is opened through ``ctx.open_store(key)`` (requests, retention, store
checks alike): the bootstrap wires the registered stores' connectors; a test sets
``store_opener`` to hand out fake connectors instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from consent_service.config import Config
from consent_service.crypto.envelope import Crypto
from consent_service.crypto.keyring import EnvProvider, KeyProvider, LocalFileProvider
from consent_service.crypto.signing import Signer
from consent_service.db import Database, UnitOfWork, utcnow

StoreOpener = Callable[[str], AbstractContextManager[Any]]  # key -> a stores.connectors Connector


@dataclass
class Context:
    config: Config
    db: Database
    crypto: Crypto
    signer: Signer
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    # Per-process caches owned by feature services (e.g. authenticated tokens); never shared.
    caches: dict[str, Any] = field(default_factory=dict)
    # The one connector factory (the bootstrap wires the registered stores'; tests, fakes).
    store_opener: StoreOpener | None = None

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return self.db.uow(write=write)

    def open_store(self, key: str) -> AbstractContextManager[Any]:
        """The connector of registered store ``key``, closed when the ``with`` block ends."""
        if self.store_opener is None:
            raise RuntimeError("no store connectors are wired; build the context with wiring.bootstrap")
        return self.store_opener(key)

    def now(self) -> dt.datetime:
        return self.clock()


def key_provider(config: Config) -> KeyProvider:
    if config.master_keys:
        return EnvProvider(config.master_keys)
    return LocalFileProvider(config.effective_key_file)
