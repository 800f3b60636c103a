"""An in-memory connector for unit tests: rows per collection, the same field actions as the real ones."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from consent_service.stores.connectors.base import (
    Check,
    Connector,
    EraseResult,
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

    def close(self) -> None:
        self.closed = True
