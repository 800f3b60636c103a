"""An in-memory connector for unit tests: rows per collection, the same field actions as the real
ones, and retention sweeps (a record is due when its trigger field, a datetime or ISO 8601 text,
is at or before the cutoff; batches are taken in key order, the cursor is the last key seen).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from consent_service.stores.connectors.base import (
    Batch,
    Check,
    Connector,
    Due,
    EraseResult,
    MissingField,
    Row,
    deletes_row,
    field_changes,
    rectified,
)
from consent_service.stores.spec import StoreSpec


class FakeConnector(Connector):
    """``FakeConnector(spec, {"customers": [{"id": 1, ...}]})``; ``calls`` records every operation."""

    def __init__(
        self, spec: StoreSpec, data: Mapping[str, list[Row]] | None = None, hash_key: bytes = b"fake"
    ) -> None:
        self.spec = spec
        self.hash_key = hash_key
        self.data: dict[str, list[Row]] = {name: [] for name in spec.collections}
        for name, rows in (data or {}).items():
            self.data[name] = copy.deepcopy(list(rows))
        self.calls: list[tuple[str, str]] = []
        self.closed = False

    def _key(self, collection: str, row: Row) -> Any:
        coll = self.collection(collection)
        return row[coll.primary_key] if coll.primary_key else id(row)

    def check(self) -> list[Check]:
        self.calls.append(("check", "*"))
        checks = []
        for name, coll in self.spec.collections.items():
            rows = self.data.get(name, [])
            checks.append(Check(name, True))
            for column in coll.columns:
                ok = not rows or column in rows[0]
                checks.append(Check(name, ok, column, None if ok else f"no column {column}"))
        return checks

    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        self.calls.append(("find", collection))
        self.collection(collection)
        wanted = list(values)
        return [dict(row) for row in self.data[collection] if row.get(field) in wanted]

    def _current(self, collection: str, rows: Sequence[Row]) -> list[Row]:
        keys = [self._key(collection, row) for row in rows]
        return [row for row in self.data[collection] if self._key(collection, row) in keys]

    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        self.calls.append(("erase", collection))
        coll = self.collection(collection)
        current = self._current(collection, rows)
        if deletes_row(actions):
            self.data[collection] = [row for row in self.data[collection] if row not in current]
            return EraseResult(deleted=len(current))
        updated = 0
        for row in current:
            changes = field_changes(coll, row, actions, self.hash_key)
            if changes:
                row.update(changes)
                updated += 1
        return EraseResult(updated=updated)

    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        self.calls.append(("rectify", collection))
        self.collection(collection)
        count = 0
        for row in self._current(collection, rows):
            diff = rectified(row, changes)
            if diff:
                row.update(diff)
                count += 1
        return count

    # retention sweeps ---------------------------------------------------------------------
    def _due(self, collection: str, due: Due) -> list[Row]:
        """Every due record not anonymised already, in key order."""
        coll = self.collection(collection)
        rows = self.data[collection]
        if due.field not in coll.columns and not any(due.field in row for row in rows):
            raise MissingField(f"{collection} has no field {due.field!r}")
        out = []
        for row in sorted(rows, key=lambda r: str(self._key(collection, r))):
            when = _time(row.get(due.field))
            if when is None or when > due.cutoff:
                continue
            if deletes_row(due.actions) or field_changes(coll, row, due.actions, self.hash_key):
                out.append(row)
        return out

    def due_count(self, collection: str, due: Due, exclude: Sequence[Any] = ()) -> tuple[int, int]:
        self.calls.append(("due_count", collection))
        keys = [self._key(collection, row) for row in self._due(collection, due)]
        held = sum(1 for key in keys if key in exclude)
        return len(keys) - held, held

    def due_rows(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> tuple[list[Row], Any, bool]:
        self.calls.append(("due_rows", collection))
        rest = [
            row
            for row in self._due(collection, due)
            if (cursor is None or str(self._key(collection, row)) > str(cursor))
            and self._key(collection, row) not in exclude
        ]
        rows = [dict(row) for row in rest[:limit]]
        next_cursor = self._key(collection, rows[-1]) if rows else cursor
        return rows, next_cursor, len(rest) <= limit

    def sweep_batch(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> Batch:
        rows, next_cursor, done = self.due_rows(collection, due, limit=limit, exclude=exclude, cursor=cursor)
        result = self.erase(collection, rows, due.actions) if rows else EraseResult()
        return Batch(len(rows), result.deleted, result.updated, next_cursor, done)

    def close(self) -> None:
        self.closed = True


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if isinstance(value, dt.datetime) else None
