"""Manual stores: a person does the work. The connector only describes the task.

Every operation answers "pending" with a task (what to do, where, by when); assigning,
reminding and closing tasks belongs to the request lifecycle, not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from consent_service.db import utcnow
from consent_service.stores.connectors.base import Check, Connector, Deferred, EraseResult, Row
from consent_service.stores.spec import StoreSpec

DEFAULT_DUE_DAYS = 7


class ManualConnector(Connector):
    def __init__(
        self,
        spec: StoreSpec,
        connection: Mapping[str, Any] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.spec = spec
        self.connection = dict(connection or {})
        self.clock = clock

    def task(self, operation: str, collection: str, detail: Mapping[str, Any]) -> dict[str, Any]:
        """The description of the work for a person: instructions and a due date."""
        coll = self.collection(collection)
        days = int(self.connection.get("due_days", DEFAULT_DUE_DAYS))
        steps = (
            coll.instructions or self.spec.description or f"{operation} the subject's {collection} records"
        )
        return {
            "store": self.spec.key,
            "collection": collection,
            "operation": operation,
            "instructions": steps,
            "assignee": self.connection.get("assignee"),
            "due": (self.clock() + dt.timedelta(days=days)).isoformat(),
            "status": "pending",
            **dict(detail),
        }

    def check(self) -> list[Check]:
        return [Check(name, True, problem=None) for name in self.spec.collections]

    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        raise Deferred("pending", self.task("find", collection, {"field": field, "values": list(values)}))

    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        coll = self.collection(collection)
        detail = {"actions": dict(actions) or coll.erase_actions(), "rows": list(rows)}
        return EraseResult(status="pending", task=self.task("erase", collection, detail))

    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        raise Deferred(
            "pending", self.task("rectify", collection, {"changes": dict(changes), "rows": list(rows)})
        )
