"""The registry of data stores that data subject requests run across.

``save_store`` validates a description (``spec.parse_store``), seals its connection and
creates or replaces the store in one transaction; nothing is written when validation fails.
Reads never return a secret: connections come back redacted. ``open_connector`` builds the
connector of a store with its connection unsealed; services open stores through
``ctx.open_store``, which uses it unless the context was given another opener (fakes).
``run_check`` runs that check and keeps its report as the store's last test (``StoreCheck``),
which ``last_checks`` reads back for the console's list of stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service import outbound
from consent_service.context import Context
from consent_service.errors import InvalidInput, NotFound
from consent_service.stores.connectors import Connector, connector_for
from consent_service.stores.models import DataStore, StoreCheck
from consent_service.stores.secrets import (
    erasure_hash_key,
    keep_hidden,
    open_connection,
    redact,
    seal_connection,
)
from consent_service.stores.spec import StoreSpec, parse_store, spec_document
from consent_service.subjects import identity_types


def _get(session: Session, key: str) -> DataStore:
    store = session.get(DataStore, key)
    if store is None:
        raise NotFound(f"no data store {key!r}")
    return store


def store_dict(store: DataStore) -> dict[str, Any]:
    return {
        "key": store.key,
        "type": store.type,
        "description": store.spec.get("description", ""),
        "connection": store.connection_shape,
        "collections": store.spec["collections"],
        "created_at": store.created_at,
        "updated_at": store.updated_at,
    }


def put_store(ctx: Context, session: Session, key: str, doc: dict[str, Any]) -> tuple[DataStore, bool]:
    """Create or replace a store in the caller's transaction; returns it and whether it is new.

    Connection values sent back as ``***`` (as a GET shows them) keep the stored secret.
    """
    existing = session.get(DataStore, key)
    if existing is not None and isinstance(doc.get("connection"), dict):
        old = open_connection(ctx.crypto, key, existing.secret_box, existing.secret_kek)
        doc = {**doc, "connection": keep_hidden(doc["connection"], old)}
    if "key" in doc and doc["key"] != key:
        raise InvalidInput("the key in the body differs from the URL", errors={"key": [f"expected {key!r}"]})
    parse_store(key, doc, identity_types.known_types(session))
    if doc["type"] == "http" and (refused := outbound.url_problem(ctx.config, doc["connection"]["endpoint"])):
        raise InvalidInput(
            "the store's endpoint may not be called", errors={"connection.endpoint": [refused]}
        )
    box, kek = seal_connection(ctx.crypto, key, doc["connection"])
    now = ctx.now()
    values = {
        "type": doc["type"],
        "spec": spec_document(doc),
        "connection_shape": redact(doc["connection"], doc["type"]),
        "secret_box": box,
        "secret_kek": kek,
        "updated_at": now,
    }
    if existing is None:
        store = DataStore(key=key, created_at=now, **values)
        session.add(store)
    else:
        store = existing
        for name, value in values.items():
            setattr(store, name, value)
    session.flush()
    return store, existing is None


def save_store(ctx: Context, key: str, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Register or replace one store; returns its redacted description and whether it is new."""
    with ctx.uow() as uow:
        store, created = put_store(ctx, uow.session, key, doc)
        out = store_dict(store)
        uow.commit()
    return out, created


def save_stores(ctx: Context, docs: dict[str, dict[str, Any]]) -> list[tuple[str, bool]]:
    """Register several stores in one transaction: all of them or, on any invalid one, none."""
    results = []
    errors: dict[str, Any] = {}
    with ctx.uow() as uow:
        for key, doc in docs.items():
            try:
                _, created = put_store(ctx, uow.session, key, doc)
                results.append((key, created))
            except InvalidInput as exc:
                errors[key] = exc.errors or {"store": [exc.detail]}
        if errors:
            raise InvalidInput("some store descriptions are not valid; none was saved", errors=errors)
        uow.commit()
    return results


def read_store(ctx: Context, key: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        return store_dict(_get(uow.session, key))


def read_stores(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return [store_dict(s) for s in uow.session.scalars(select(DataStore).order_by(DataStore.key))]


def load_spec(ctx: Context, key: str) -> tuple[StoreSpec, dict[str, Any]]:
    """The validated description of a store and its unsealed connection."""
    with ctx.uow(write=False) as uow:
        store = _get(uow.session, key)
        doc = {
            **store.spec,
            "connection": open_connection(ctx.crypto, key, store.secret_box, store.secret_kek),
        }
    return parse_store(key, doc, identity_types=None), doc["connection"]


@contextmanager
def open_connector(ctx: Context, key: str) -> Iterator[Connector]:
    """The connector of store ``key``, closed when the block ends."""
    spec, connection = load_spec(ctx, key)
    connector = connector_for(
        spec,
        connection,
        hash_key=erasure_hash_key(ctx.crypto),
        clock=ctx.clock,
        outbound=outbound.Policy.from_config(ctx.config),
    )
    try:
        yield connector
    finally:
        connector.close()


def check_store(ctx: Context, key: str) -> dict[str, Any]:
    """Connect to a store and check every declared collection, field and key pattern.

    An unreachable store is a report with ``ok: false``, never an exception.
    """
    with ctx.open_store(key) as connector:
        checks = connector.check()
    return {"key": key, "ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}


def check_view(check: StoreCheck) -> dict[str, Any]:
    return {**check.report, "checked_at": check.checked_at, "checked_by": check.checked_by}


def run_check(ctx: Context, key: str, actor: str) -> dict[str, Any]:
    """Check a store (``check_store``) and keep the report as its last test, with who and when.

    The connection is tried outside any transaction; the result is written in one afterwards.
    """
    report = check_store(ctx, key)
    with ctx.uow() as uow:
        _get(uow.session, key)
        check = uow.session.get(StoreCheck, key)
        if check is None:
            check = StoreCheck(store_key=key)
            uow.session.add(check)
        check.ok, check.report = report["ok"], report
        check.checked_at, check.checked_by = ctx.now(), actor
        uow.session.flush()
        out = check_view(check)
        uow.commit()
    return out


def last_checks(ctx: Context) -> dict[str, dict[str, Any]]:
    """The last test of every store that has been tested: store key -> report with ``checked_at``."""
    with ctx.uow(write=False) as uow:
        return {c.store_key: check_view(c) for c in uow.session.scalars(select(StoreCheck))}


def reseal_connections(ctx: Context) -> int:
    """Seal every store connection under the current master key (after a rotation)."""
    current = ctx.crypto.material.current_kek
    with ctx.uow() as uow:
        stale = uow.session.scalars(select(DataStore).where(DataStore.secret_kek != current)).all()
        for store in stale:
            connection = open_connection(ctx.crypto, store.key, store.secret_box, store.secret_kek)
            store.secret_box, store.secret_kek = seal_connection(ctx.crypto, store.key, connection)
        uow.commit()
    return len(stale)


def documents_from_file(doc: Any) -> dict[str, dict[str, Any]]:
    """The stores of a loaded YAML file: ``{stores: {key: {...}}}`` or one store with ``key:``."""
    if isinstance(doc, dict) and isinstance(doc.get("stores"), dict):
        return {str(k): v for k, v in doc["stores"].items()}
    if isinstance(doc, dict) and isinstance(doc.get("key"), str):
        body = {k: v for k, v in doc.items() if k != "key"}
        return {doc["key"]: body}
    raise InvalidInput(
        "a stores file holds 'stores: {key: {...}}' or one store with 'key:'",
        errors={"file": ["no 'stores' mapping and no 'key'"]},
    )
