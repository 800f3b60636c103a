"""The wired service: database, keys, signer, clock and store connectors, built in one place.

``bootstrap(config)`` is called by ``create_app`` and by the CLI; tests call it with a test
config. Building it opens no database connection.

Every registered store is opened through ``ctx.open_store(key)`` (requests, retention, store
checks alike): by default the store's connector built from its registered description; a test
sets ``store_opener`` to hand out fake connectors instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consent_service.config import Config
from consent_service.crypto.envelope import Crypto
from consent_service.crypto.keyring import EnvProvider, KeyProvider, LocalFileProvider
from consent_service.crypto.signing import Signer
from consent_service.db import Database, UnitOfWork, utcnow
from consent_service.files import secure_data_dir, sqlite_path

if TYPE_CHECKING:
    from consent_service.dsar.connectors.base import Connector

StoreOpener = Callable[[str], AbstractContextManager["Connector"]]


@dataclass
class Context:
    config: Config
    db: Database
    crypto: Crypto
    signer: Signer
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    # Per-process caches owned by feature services (e.g. authenticated tokens); never shared.
    caches: dict[str, Any] = field(default_factory=dict)
    # The one connector factory; None builds each store's connector from its registration.
    store_opener: StoreOpener | None = None

    def uow(self, *, write: bool = True) -> UnitOfWork:
        return self.db.uow(write=write)

    def open_store(self, key: str) -> AbstractContextManager[Connector]:
        """The connector of registered store ``key``, closed when the ``with`` block ends."""
        if self.store_opener is not None:
            return self.store_opener(key)
        from consent_service.dsar.stores import open_connector

        return open_connector(self, key)

    def now(self) -> dt.datetime:
        return self.clock()


def key_provider(config: Config) -> KeyProvider:
    if config.master_keys:
        return EnvProvider(config.master_keys)
    return LocalFileProvider(config.effective_key_file)


def check_network_settings(config: Config) -> None:
    """ConfigurationError naming the variable when the outbound allow-list is not a CIDR list or
    the rate-limit storage URL is not memory:// or redis://."""
    from consent_service.errors import ConfigurationError
    from consent_service.outbound import parse_networks
    from consent_service.ratelimit import check_config

    try:
        parse_networks(config.outbound_allow_networks)
        check_config(config)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def check_calendar(config: Config) -> None:
    """ConfigurationError naming CONSENT_HOLIDAYS or CONSENT_TIMEZONE when deadlines cannot be
    counted with them."""
    from consent_service.dsar.deadlines import CalendarError, calendar
    from consent_service.errors import ConfigurationError

    try:
        calendar(config.holidays, "UTC")
    except CalendarError as exc:
        raise ConfigurationError(f"CONSENT_HOLIDAYS: {exc}") from None
    try:
        calendar("none", config.timezone)
    except CalendarError as exc:
        raise ConfigurationError(f"CONSENT_TIMEZONE: {exc}") from None


def check_messages(config: Config) -> None:
    """ConfigurationError naming the variable when what the person is told cannot be written:
    an unsupported default language, a supervisory authority or public URL that is not an
    absolute http(s) URL, a repetition window that is not an ISO 8601 duration."""
    from consent_service.dsar.messages import check_config
    from consent_service.errors import ConfigurationError

    try:
        check_config(config)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def bootstrap(config: Config, *, clock: Callable[[], dt.datetime] = utcnow) -> Context:
    from consent_service.retention.own_data import validate_config

    validate_config(config)  # a bad retention period fails at start, naming its variable
    check_network_settings(config)
    check_calendar(config)
    check_messages(config)
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
