"""Redis stores: records are keys named by a pattern such as ``session:{customer_id}``.

A placeholder is the field of a declared identity. A lookup by the only placeholder reads one
key; otherwise the other placeholders become ``*`` and the keys are found with SCAN. Hash keys
have fields; a string key has one field, ``value``. Deleting a field of a hash (nullify) or the
key itself is idempotent by nature; mask and hash re-read the value first.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis as redis_py
from redis.exceptions import RedisError

from consent_service.stores.connectors.base import (
    Batch,
    Check,
    Connector,
    ConnectorError,
    Due,
    EraseResult,
    MissingField,
    Row,
    deletes_row,
    field_changes,
    rectified,
    short_error,
)
from consent_service.stores.spec import CollectionSpec, StoreSpec, placeholders

KEY_FIELD = "_key"
SCAN_COUNT = 1000
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def key_glob(pattern: str, known: Mapping[str, str] | None = None) -> str:
    """The SCAN pattern of a key pattern: known placeholders filled in, the others ``*``."""
    known = known or {}
    out = []
    for literal, name, _, _ in string.Formatter().parse(pattern):
        out.append(glob_escape(literal))
        if name is not None:
            out.append(glob_escape(known[name]) if name in known else "*")
    return "".join(out)


class RedisConnector(Connector):
    def __init__(self, spec: StoreSpec, url: str, hash_key: bytes) -> None:
        self.spec = spec
        self.hash_key = hash_key
        self.client = redis_py.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5, socket_timeout=10
        )

    def close(self) -> None:
        self.client.close()

    def check(self) -> list[Check]:
        try:
            self.client.ping()
            return [c for coll in self.spec.collections.values() for c in self._check(coll)]
        except RedisError as exc:
            return [Check("*", False, problem=f"cannot connect: {short_error(exc)}")]

    def _check(self, coll: CollectionSpec) -> list[Check]:
        assert coll.pattern is not None
        glob = key_glob(coll.pattern)
        sample = next(iter(self.client.scan_iter(match=glob, count=SCAN_COUNT)), None)
        if sample is None:
            return [Check(coll.name, False, problem=f"no key matches {glob}")]
        kind = self.client.type(sample)
        if kind != coll.kind:
            return [Check(coll.name, False, problem=f"{sample} is a {kind}, not a {coll.kind}")]
        checks = [Check(coll.name, True)]
        if coll.kind == "hash":
            present = set(self.client.hkeys(sample))
            for name in coll.fields:
                ok = name in present
                checks.append(Check(coll.name, ok, name, None if ok else f"{sample} has no field {name}"))
        return checks

    def _read(self, coll: CollectionSpec, key: str) -> Row | None:
        if coll.kind == "hash":
            values = self.client.hgetall(key)
            return {KEY_FIELD: key, **values} if values else None
        value = self.client.get(key)
        return None if value is None else {KEY_FIELD: key, "value": value}

    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        coll = self.collection(collection)
        assert coll.pattern is not None
        names = placeholders(coll.pattern)
        if field not in names:
            raise ConnectorError(f"{field!r} is not a placeholder of {coll.pattern!r}")
        keys: list[str] = []
        for value in values:
            if names == [field]:
                keys.append(coll.pattern.format(**{field: value}))
            else:
                glob = key_glob(coll.pattern, {field: str(value)})
                keys.extend(self.client.scan_iter(match=glob, count=SCAN_COUNT))
        rows = [self._read(coll, key) for key in dict.fromkeys(keys)]
        return [row for row in rows if row is not None]

    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        coll = self.collection(collection)
        keys = [row[KEY_FIELD] for row in rows]
        if deletes_row(actions) or (coll.kind == "string" and actions.get("value") == "nullify"):
            return EraseResult(deleted=int(self.client.delete(*keys)) if keys else 0)
        updated = 0
        for key in keys:
            row = self._read(coll, key)
            if row is None:
                continue
            changes = field_changes(coll, row, actions, self.hash_key)
            if not changes:
                continue
            if coll.kind == "string":
                self.client.set(key, changes["value"], keepttl=True)
            else:
                gone = [name for name, value in changes.items() if value is None]
                kept = {name: value for name, value in changes.items() if value is not None}
                pipe = self.client.pipeline(transaction=True)
                if gone:
                    pipe.hdel(key, *gone)
                if kept:
                    pipe.hset(key, mapping=cast(Mapping[str | bytes, Any], kept))
                pipe.execute()
            updated += 1
        return EraseResult(updated=updated)

    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        coll = self.collection(collection)
        count = 0
        for key in [row[KEY_FIELD] for row in rows]:
            row = self._read(coll, key)
            diff = rectified(row, {k: str(v) for k, v in changes.items()}) if row else {}
            if not diff:
                continue
            if coll.kind == "string":
                self.client.set(key, diff["value"], keepttl=True)
            else:
                self.client.hset(key, mapping=cast(Mapping[str | bytes, Any], diff))
            count += 1
        return count

    # retention sweeps ---------------------------------------------------------------------
    def _scan_due(self, coll: CollectionSpec, due: Due, limit: int, cursor: Any) -> tuple[list[Row], int]:
        """One SCAN step: the due records among about ``limit`` keys, and the next cursor."""
        assert coll.pattern is not None
        if coll.kind == "string" and due.field != "value":
            raise MissingField(f"{coll.name} holds string keys: they have no field {due.field!r}")
        next_cursor, keys = self.client.scan(
            cursor=int(cursor or 0), match=key_glob(coll.pattern), count=limit
        )
        rows = []
        for key in keys:
            row = self._read(coll, key)
            if row is None:
                continue
            when = parse_time(row.get(due.field))
            if when is None or when > due.cutoff:
                continue
            if not deletes_row(due.actions) and not field_changes(coll, row, due.actions, self.hash_key):
                continue  # anonymised already
            rows.append(row)
        return rows, int(next_cursor)

    def due_count(self, collection: str, due: Due, exclude: Sequence[Any] = ()) -> tuple[int, int]:
        coll = self.collection(collection)
        held_keys, total, held, cursor = set(exclude), 0, 0, 0
        while True:
            rows, cursor = self._scan_due(coll, due, SCAN_COUNT, cursor)
            for row in rows:
                if row[KEY_FIELD] in held_keys:
                    held += 1
                else:
                    total += 1
            if cursor == 0:
                return total, held

    def due_rows(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> tuple[list[Row], Any, bool]:
        coll = self.collection(collection)
        rows, next_cursor = self._scan_due(coll, due, limit, cursor)
        held_keys = set(exclude)
        return [r for r in rows if r[KEY_FIELD] not in held_keys], next_cursor, next_cursor == 0

    def sweep_batch(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> Batch:
        rows, next_cursor, done = self.due_rows(collection, due, limit=limit, exclude=exclude, cursor=cursor)
        if not rows:
            return Batch(cursor=next_cursor, done=done)
        result = self.erase(collection, rows, due.actions)
        return Batch(
            candidates=len(rows),
            deleted=result.deleted,
            updated=result.updated,
            cursor=next_cursor,
            done=done,
        )


def parse_time(value: Any) -> dt.datetime | None:
    """A timestamp kept in Redis: ISO 8601 (UTC when it has no offset) or Unix seconds or
    milliseconds. None when empty or not a time (such a record is never due)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if number > 1e11:  # milliseconds
        number /= 1000
    return dt.datetime.fromtimestamp(number, dt.UTC)
