"""The wired service: database, keys, signer and clock, built in one place.

``bootstrap(config)`` is called by ``create_app`` and by the CLI; tests call it with a test
config. Building it opens no database connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from consent_service import config_checks
from consent_service.config import Config
from consent_service.crypto.envelope import Crypto
from consent_service.crypto.keyring import EnvProvider, KeyProvider, LocalFileProvider
from consent_service.crypto.signing import Signer
from consent_service.db import Database, UnitOfWork, utcnow
from consent_service.files import secure_data_dir, sqlite_path


@dataclass
class Context:
    config: Config
    db: Database
    crypto: Crypto
    signer: Signer
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    # Per-process caches owned by feature services (e.g. authenticated tokens); never shared.
    caches: dict[str, Any] = field(default_factory=dict)

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return self.db.uow(write=write)

    def now(self) -> dt.datetime:
        return self.clock()


def key_provider(config: Config) -> KeyProvider:
    if config.master_keys:
        return EnvProvider(config.master_keys)
    return LocalFileProvider(config.effective_key_file)


def bootstrap(config: Config, *, clock: Callable[[], dt.datetime] = utcnow) -> Context:
    config_checks.check(config)  # a bad setting fails at start, naming its variable
    provider = key_provider(config)
    material = provider.load()
    if config.effective_database_url.startswith("sqlite:///"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = None if config.master_keys else config.effective_key_file
    secure_data_dir(config.data_dir, sqlite_path(config.effective_database_url), key_file)
    return Context(
        config=config,
        db=Database(config.effective_database_url),
        crypto=Crypto(material, provider=provider),
        signer=Signer(material.signing_key, material.key_id),
        clock=clock,
    )
