"""Fakes for tests without a database: a fixed clock, a store opener handing out fake connectors,
a unit of work that records what a service did with it, and a context wired with them.

``context(stores={"shop": FakeConnector(...)})`` is a ``Context`` whose ``open_store`` yields
those connectors and whose ``uow()`` is a ``FakeUnitOfWork`` over ``FakeSession``: it records
statements and commits, and refuses to read (a unit test that needs rows from the service
database is an integration test, or passes the rows to the service itself).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from consent_service.config import Config
from consent_service.context import Context, StoreOpener
from consent_service.crypto.envelope import Crypto
from consent_service.crypto.keyring import KeyMaterial
from consent_service.crypto.signing import Signer
from consent_service.db import Database
from consent_service.errors import NotFound
from consent_service.stores.connectors.base import Connector


class FixedClock:
    """A clock tests can move: ``clock.advance(days=400)``."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: Any) -> None:
        self.now += dt.timedelta(**kwargs)


def opener(stores: Mapping[str, Connector | BaseException]) -> StoreOpener:
    """``ctx.store_opener = opener({"shop": fake})``: each key opens its fake; an exception
    given instead of a connector is raised on opening (an unreachable store); any other key is
    not registered (``NotFound``, as for a real context)."""

    @contextlib.contextmanager
    def open_store(key: str) -> Iterator[Connector]:
        if key not in stores:
            raise NotFound(f"no store {key!r} is registered")
        store = stores[key]
        if isinstance(store, BaseException):
            raise store
        yield store

    return open_store


class FakeSession:
    """Records ``execute``d statements (writes); reading rows is refused with a clear message."""

    def __init__(self) -> None:
        self.executed: list[Any] = []

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> None:
        self.executed.append(statement)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(
            f"session.{name}: a unit test has no service database; give the service its rows "
            "or move the test to tests/integration"
        )


class FakeUnitOfWork:
    """The shape of ``db.UnitOfWork``: ``with ctx.uow() as uow: ...; uow.commit()``."""

    def __init__(self, database: FakeDatabase, write: bool) -> None:
        self.database, self.write, self.session = database, write, database.session

    def __enter__(self) -> FakeUnitOfWork:
        self.database.opened.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> None:
        assert self.write, "commit in a read-only unit of work"
        self.database.commits += 1

    def flush(self) -> None:
        return None


class FakeDatabase:
    """Stands for ``db.Database``: every unit of work shares one ``FakeSession``."""

    def __init__(self) -> None:
        self.session = FakeSession()
        self.opened: list[FakeUnitOfWork] = []
        self.commits = 0

    def uow(self, *, write: bool = True) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, write)

    def dispose(self) -> None:
        return None


def context(
    *,
    stores: Mapping[str, Connector | BaseException] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    **config: Any,
) -> Context:
    """A context without a database: fake stores, a fixed clock (unless given), fresh keys."""
    material = KeyMaterial.generate()
    return Context(
        config=Config(testing=True, **config),
        db=cast(Database, FakeDatabase()),
        crypto=Crypto(material),
        signer=Signer(material.signing_key, material.key_id),
        clock=clock or FixedClock(),
        store_opener=opener(stores or {}),
    )


def database(ctx: Context) -> FakeDatabase:
    """The fake database of a context built by ``context``."""
    return cast(FakeDatabase, ctx.db)
