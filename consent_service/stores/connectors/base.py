"""The connector interface every data store implements, and the field actions they share.

A connector finds a subject's records in one store, erases them field by field (or row by
row), and rectifies them. ``erase`` and ``rectify`` re-read the current values of the rows they
are given, so running them twice ends in the same state and the second run reports 0 changes.
A store that answers later (an HTTP service that accepted the work, a manual task) raises
``Deferred`` from ``find``/``rectify`` and returns an ``EraseResult`` whose status is not "done".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consent_service.stores.spec import CollectionSpec, StoreSpec

HASH_PREFIX = "hmac:"
Row = dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One line of a connection test: a collection, optionally one of its fields."""

    collection: str
    ok: bool
    field: str | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"collection": self.collection, "ok": self.ok}
        if self.field is not None:
            out["field"] = self.field
        if self.problem is not None:
            out["problem"] = self.problem
        return out


@dataclass(frozen=True)
class EraseResult:
    """What an erasure changed; ``status`` is "done", or "accepted"/"pending" when it runs later."""

    updated: int = 0
    deleted: int = 0
    status: str = "done"
    task: dict[str, Any] | None = field(default=None)

    @property
    def changed(self) -> int:
        return self.updated + self.deleted


@dataclass(frozen=True)
class Due:
    """Which records of a collection retention has made due, and what happens to them.

    A record is due when its ``field`` (a timestamp) is set and at or before ``cutoff``.
    ``actions`` are erase actions: ``{"*": "delete"}`` deletes the record, otherwise fields are
    nullified, masked or hashed. A record whose fields already carry their actions is not due
    again, so sweeping twice changes nothing the second time.
    """

    field: str
    cutoff: dt.datetime
    actions: Mapping[str, str]


@dataclass(frozen=True)
class Batch:
    """One bounded step of a sweep: what it found and changed, and where the next step starts."""

    candidates: int = 0
    deleted: int = 0
    updated: int = 0
    cursor: Any = None
    done: bool = True


class Deferred(Exception):  # noqa: N818 - it is an outcome, not an error
    """The store took the work and will answer later (callback or a person's task)."""

    def __init__(self, status: str, task: dict[str, Any] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.task = task


class ConnectorError(Exception):
    """The store could not be reached or refused the operation."""


class MissingField(ConnectorError):  # noqa: N818 - a kind of ConnectorError
    """A retention rule names a field the collection does not have."""


class Connector(ABC):
    """One registered store. Build with ``connector_for``; call ``close`` when done."""

    spec: StoreSpec

    @abstractmethod
    def check(self) -> list[Check]:
        """Connect and check every declared collection and field; never raises for the store's state."""

    @abstractmethod
    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        """The records of ``collection`` whose ``field`` is one of ``values``."""

    @abstractmethod
    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        """Apply field actions (nullify/mask/hash) to ``rows``, or delete them when any action is "delete"."""

    @abstractmethod
    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        """Set ``changes`` (field -> value) on ``rows``; returns the number of rows that changed."""

    def due_count(self, collection: str, due: Due, exclude: Sequence[Any] = ()) -> tuple[int, int]:
        """(records due and not excluded, excluded records that are due): a dry run of a sweep."""
        raise ConnectorError(f"{self.spec.type} stores are not swept by retention rules")

    def sweep_batch(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> Batch:
        """Apply ``due.actions`` to at most ``limit`` due records (never to ``exclude``d keys)."""
        raise ConnectorError(f"{self.spec.type} stores are not swept by retention rules")

    def due_rows(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> tuple[list[Row], Any, bool]:
        """Read at most ``limit`` due records without changing them: (rows, next cursor, done)."""
        raise ConnectorError(f"{self.spec.type} stores are not swept by retention rules")

    def record_key(self, collection: str, row: Row) -> Any:
        """The value that identifies ``row`` in its collection (primary key, or Redis key)."""
        coll = self.collection(collection)
        return row[coll.primary_key] if coll.primary_key else row.get("_key")

    def close(self) -> None:  # noqa: B027 - most connectors hold nothing
        """Release connections."""

    def collection(self, name: str) -> CollectionSpec:
        try:
            return self.spec.collections[name]
        except KeyError:
            raise ConnectorError(f"store {self.spec.key!r} has no collection {name!r}") from None


def keyed_hash(key: bytes, value: Any) -> str:
    return HASH_PREFIX + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()


def deletes_row(actions: Mapping[str, str]) -> bool:
    return "delete" in actions.values()


def field_changes(coll: CollectionSpec, row: Row, actions: Mapping[str, str], hash_key: bytes) -> Row:
    """The new values ``actions`` give the fields of ``row`` (only those that differ)."""
    changes: Row = {}
    for name, action in actions.items():
        if name not in row:
            continue
        current = row[name]
        spec = coll.fields.get(name)
        if action == "nullify":
            new = None
        elif action == "mask":
            new = spec.mask if spec else "[erased]"
        elif action == "hash":
            if current is None or (isinstance(current, str) and current.startswith(HASH_PREFIX)):
                continue  # nothing to hide, or hashed already: hashing again would not be idempotent
            new = keyed_hash(hash_key, current)
        elif action == "keep":
            continue
        else:
            raise ConnectorError(f"unknown field action {action!r} for {coll.name}.{name}")
        if new != current:
            changes[name] = new
    return changes


def rectified(row: Row, changes: Mapping[str, Any]) -> Row:
    return {name: value for name, value in changes.items() if row.get(name) != value}


def short_error(exc: BaseException) -> str:
    """A one-line description of a connection error for a test report."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]
