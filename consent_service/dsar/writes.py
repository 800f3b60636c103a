"""The writing half of request execution: erasure and rectification across the found records.

Both report through ``note(store, status, detail, report)`` as soon as a store is finished, so
a failure later on leaves the earlier stores recorded as done and a re-run skips them.
Reports hold collection names, counts, actions, holds and times, never personal data: tasks of
stores that answer later lose their identity values and rows (they are in the request).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from consent_service.stores.connectors.base import Connector, Deferred
from consent_service.stores.traversal import Found, Node, StoreFailure

Note = Callable[..., None]
Clock = Callable[[], dt.datetime]
PERSONAL_TASK_KEYS = ("values", "rows", "changes")


def public_task(pending: Mapping[str, Any]) -> dict[str, Any]:
    """A deferred store's status and task without the identity values, rows or new values."""
    task = dict(pending.get("task") or {})
    for name in PERSONAL_TASK_KEYS:
        if name in task:
            value = task.pop(name)
            task[f"{name}_count"] = len(value) if hasattr(value, "__len__") else 1
    if task:
        task["details"] = "the identities and values are in the request (requests show)"
    return {"status": pending.get("status", "pending"), "task": task or None}


def _failure(store: str, exc: Exception) -> StoreFailure:
    return StoreFailure(store, f"{type(exc).__name__}: {exc}"[:500])


class _Reports:
    """Per-store reports, finished (noted) when the store's last collection is handled."""

    def __init__(self, kind: str, found: Found, connectors: Mapping[str, Connector], now: Clock, note: Note):
        self.kind, self.now, self.note = kind, now, note
        self.pending: dict[str, dict[str, Any]] = {s: public_task(p) for s, p in found.pending.items()}
        self.left = {
            s: sum(1 for n in found.order if n[0] == s) for s in connectors if s not in found.pending
        }
        started = now().isoformat()
        self.reports: dict[str, dict[str, Any]] = {
            s: {"store": s, "type": kind, "started_at": started, "collections": []} for s in connectors
        }

    def start(self) -> None:
        for store, task in self.pending.items():
            self.note(store, "pending", task)
        for store in [s for s, n in self.left.items() if n == 0]:
            self.finish(store)

    def add(self, store: str, entry: dict[str, Any]) -> None:
        self.reports[store]["collections"].append(entry)
        self.left[store] -= 1
        if self.left[store] == 0:
            self.finish(store)

    def finish(self, store: str) -> None:
        report = self.reports[store] | {"finished_at": self.now().isoformat()}
        colls = report["collections"]
        if store in self.pending:
            self.note(store, "pending", self.pending[store] | {"collections": colls})
            return
        if not colls:
            report["note"] = "no records of the subject were found"
        summary = {
            "collections": len(colls),
            "rows": sum(c["rows"] for c in colls),
            "deleted": sum(c.get("deleted", 0) for c in colls),
            "updated": sum(c.get("updated", 0) + c.get("changed", 0) for c in colls),
            "held": [c["collection"] for c in colls if c.get("action") == "hold"],
        }
        self.note(store, "done", summary, report)


def erase_store(
    found: Found,
    connectors: Mapping[str, Connector],
    now: Clock,
    note: Note,
    holds: Callable[[str, str], list[dict[str, Any]]] | None = None,
) -> None:
    """Erase the found records, children before parents; held collections are kept and reported.

    ``holds(store, collection)`` gives the legal holds in force on a collection's records of this
    subject (holds on the subject, its store or the collection); a held collection is kept."""
    reports = _Reports("erasure", found, connectors, now, note)
    reports.start()
    unread = set(found.pending)  # stores that answer later could not be searched: nothing to erase yet
    for node in reversed(found.order):
        store = node[0]
        if store in unread:
            continue
        entry = _erase_one(connectors[store], node, found, now, holds(*node) if holds else [])
        if store in found.pending and store not in reports.pending:
            reports.pending[store] = public_task(found.pending[store])
        reports.add(store, entry)


def _erase_one(
    connector: Connector, node: Node, found: Found, now: Clock, legal_holds: list[dict[str, Any]]
) -> dict[str, Any]:
    store, name = node
    coll = connector.spec.collections[name]
    rows = found.rows[node]
    entry: dict[str, Any] = {"collection": name, "rows": len(rows), "at": now().isoformat()}
    if legal_holds:
        return entry | {
            "action": "hold",
            "kept": len(rows),
            "hold": {"reason": "; ".join(h["reason"] for h in legal_holds), "basis": "legal hold"},
            "legal_holds": legal_holds,
        }
    if coll.hold is not None:
        return entry | {
            "action": "hold",
            "kept": len(rows),
            "hold": {"reason": coll.hold.reason, "basis": coll.hold.basis},
        }
    if coll.erase == "keep":
        return entry | {"action": "keep", "kept": len(rows)}
    actions = coll.erase_actions()
    try:
        result = connector.erase(name, rows, actions)
    except Exception as exc:  # noqa: BLE001 - any store error fails the request
        raise _failure(store, exc) from exc
    entry |= {"action": coll.erase, "deleted": result.deleted, "updated": result.updated}
    if coll.erase == "update":
        entry["fields"] = dict(actions)
    if result.status != "done":
        found.pending.setdefault(store, {"status": result.status, "task": result.task})
        entry["status"] = result.status
    return entry


def rectify_store(
    found: Found, connectors: Mapping[str, Connector], changes: Mapping[str, Any], now: Clock, note: Note
) -> None:
    """Set ``changes`` (``field`` or ``collection.field`` -> value) on the declared fields found."""
    reports = _Reports("rectification", found, connectors, now, note)
    used: set[str] = set()
    for node in found.order:
        store, name = node
        if store in found.pending:
            continue
        coll = connectors[store].spec.collections[name]
        applicable: dict[str, Any] = {}
        for key, value in changes.items():
            cname, _, fname = key.rpartition(".")
            if fname in coll.fields and cname in ("", name):
                applicable[fname] = value
                used.add(key)
        entry: dict[str, Any] = {
            "collection": name,
            "rows": len(found.rows[node]),
            "fields": sorted(applicable),
        }
        if applicable:
            try:
                entry["changed"] = connectors[store].rectify(name, found.rows[node], applicable)
            except Deferred as exc:
                reports.pending[store] = public_task({"status": exc.status, "task": exc.task})
                entry["status"] = exc.status
            except Exception as exc:  # noqa: BLE001 - any store error fails the request
                raise _failure(store, exc) from exc
        reports.reports[store]["collections"].append(entry)
    unmatched = sorted(set(changes) - used)
    for store in connectors:
        reports.reports[store]["unmatched_fields"] = unmatched
    for store, task in reports.pending.items():
        if store in found.pending:
            note(store, "pending", task)
    for store in reports.left:
        reports.finish(store)
