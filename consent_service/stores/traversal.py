"""Finding a subject's records across the registered stores, breadth-first.

The search starts at every collection whose ``identities`` map an identity type the request
carries and finds rows by those values. It then follows declared ``references``: a child
collection whose reference points at a collection already reached (``collection.field`` in the
same store, ``store.collection.field`` across stores) is searched by the parent rows' values of
that field. A collection reached again with new rows is searched from those rows only, so the
walk ends (rows are deduplicated) even when references form a cycle.

``Found.order`` is the order in which collections were first reached: parents before children.
Erasure walks it backwards (children before parents). A store that answers later (``Deferred``)
is recorded in ``Found.pending`` and not followed further; any other error is a
``StoreFailure`` naming the store.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consent_service.stores.connectors.base import Connector, Deferred, Row
from consent_service.stores.spec import CollectionSpec

Node = tuple[str, str]  # (store, collection)


class StoreFailure(Exception):  # noqa: N818 - named for what it reports
    """A store could not be read or written; ``store`` names it, ``error`` says why."""

    def __init__(self, store: str, error: str) -> None:
        super().__init__(f"{store}: {error}")
        self.store = store
        self.error = error


@dataclass
class Found:
    order: list[Node] = field(default_factory=list)
    rows: dict[Node, list[Row]] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stores(self) -> set[str]:
        return {store for store, _ in self.order}


@dataclass(frozen=True)
class Edge:
    """Rows of ``child`` whose ``child_field`` equals a ``parent_field`` of ``parent`` rows."""

    child: Node
    child_field: str
    parent_field: str


def row_key(coll: CollectionSpec, row: Row) -> Any:
    if coll.primary_key and coll.primary_key in row:
        return row[coll.primary_key]
    if "_key" in row:
        return row["_key"]
    return json.dumps(row, sort_keys=True, default=str)


def edges(connectors: Mapping[str, Connector]) -> dict[Node, list[Edge]]:
    """For each parent collection, the declared references that point at it."""
    out: dict[Node, list[Edge]] = {}
    for store, connector in connectors.items():
        for coll in connector.spec.collections.values():
            for child_field, target in coll.references.items():
                parts = target.split(".")
                parent_store, (parent, parent_field) = (
                    (parts[0], parts[1:]) if len(parts) == 3 else (store, parts)
                )
                out.setdefault((parent_store, parent), []).append(
                    Edge((store, coll.name), child_field, parent_field)
                )
    return out


def _find(
    connectors: Mapping[str, Connector], found: Found, node: Node, fld: str, values: Sequence[Any]
) -> list[Row]:
    store, collection = node
    if store in found.pending or not values:
        return []
    try:
        return connectors[store].find(collection, fld, list(dict.fromkeys(values)))
    except Deferred as exc:
        found.pending[store] = {"status": exc.status, "task": exc.task}
        return []
    except Exception as exc:  # noqa: BLE001 - any store error fails the request, with its message
        raise StoreFailure(store, f"{type(exc).__name__}: {exc}"[:500]) from exc


def traverse(connectors: Mapping[str, Connector], identities: Mapping[str, Sequence[str]]) -> Found:
    """Every record of the subject in ``connectors``, found by ``identities`` (type -> values)."""
    found = Found()
    queue: deque[tuple[Node, list[Row]]] = deque()

    def add(node: Node, rows: list[Row]) -> None:
        coll = connectors[node[0]].spec.collections[node[1]]
        known = found.rows.setdefault(node, [])
        if node not in found.order:
            found.order.append(node)
        seen = {row_key(coll, r) for r in known}
        new = []
        for row in rows:
            key = row_key(coll, row)
            if key not in seen:
                seen.add(key)
                new.append(row)
        if new:
            known.extend(new)
            queue.append((node, new))

    for store, connector in connectors.items():
        for coll in connector.spec.collections.values():
            node = (store, coll.name)
            for itype, fld in coll.identities.items():
                if identities.get(itype):
                    rows = _find(connectors, found, node, fld, identities[itype])
                    if rows:
                        add(node, rows)
    graph = edges(connectors)
    while queue:
        parent, rows = queue.popleft()
        for edge in graph.get(parent, []):
            if edge.child[0] not in connectors:
                continue  # a store not registered (or already done on a re-run)
            values = [r[edge.parent_field] for r in rows if r.get(edge.parent_field) is not None]
            child_rows = _find(connectors, found, edge.child, edge.child_field, values)
            if child_rows:
                add(edge.child, child_rows)
    found.order = parents_first(found.order, graph)
    return found


def parents_first(order: list[Node], graph: Mapping[Node, list[Edge]]) -> list[Node]:
    """``order`` rearranged so that a referenced collection comes before the ones referencing it.

    A collection found by its own identity may have been reached before its parent; ties keep
    the order of discovery, and collections in a reference cycle keep it too.
    """
    reached = set(order)
    parents: dict[Node, set[Node]] = {node: set() for node in order}
    for parent, out in graph.items():
        for edge in out:
            if parent in reached and edge.child in reached and edge.child != parent:
                parents[edge.child].add(parent)
    result: list[Node] = []
    remaining = list(order)
    while remaining:
        ready = next((n for n in remaining if not parents[n] - set(result)), remaining[0])
        result.append(ready)
        remaining.remove(ready)
    return result
