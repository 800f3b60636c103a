"""Wiring: the one place where the service is put together from its configuration.

``bootstrap(config)`` checks the configuration (``config_checks``: a bad setting stops the start,
naming its variable), loads the keys, and builds the ``Context`` with the database and the
registered stores' connectors. ``create_app``, the CLI, the worker and the tests call it; it
opens no database connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from consent_service import config_checks
from consent_service.config import Config
from consent_service.context import Context, key_provider
from consent_service.crypto.envelope import Crypto
from consent_service.crypto.signing import Signer
from consent_service.db import Database, utcnow
from consent_service.files import secure_data_dir, sqlite_path
from consent_service.stores.registry import open_connector


def bootstrap(config: Config, *, clock: Callable[[], dt.datetime] = utcnow) -> Context:
    """The service for ``config``; ``clock`` is the time it lives by (tests fix it)."""
    config_checks.check(config)
    provider = key_provider(config)
    material = provider.load()
    if config.effective_database_url.startswith("sqlite:///"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = None if config.master_keys else config.effective_key_file
    secure_data_dir(config.data_dir, sqlite_path(config.effective_database_url), key_file)
    ctx = Context(
        config=config,
        db=Database(config.effective_database_url),
        crypto=Crypto(material, provider=provider),
        signer=Signer(material.signing_key, material.key_id),
        clock=clock,
    )
    ctx.store_opener = lambda key: open_connector(ctx, key)
    return ctx
