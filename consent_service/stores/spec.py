"""The description of a registered data store, and its validation.

A store is a ``type`` (sql | redis | http | manual), a ``connection`` (secret, stored
encrypted) and ``collections``: tables, key patterns or remote record types, each naming which
identity types find a subject in it, which fields hold which data categories, and what erasure
does to each field (``FIELD_ACTIONS``) or to the whole row (``COLLECTION_ERASE``).
A collection may ``exclude`` columns from access copies, each with its reason (every other
column of a person's rows is in the copy, declared or not); a field may say its ``origin``
(``ORIGINS``), which decides whether it is in a portability export.
``parse_store`` validates a document completely and reports every problem at once as
``InvalidInput`` with ``errors`` keyed by the path of the offending value. A collection may be
found by the built-in identity types and by those an operator registered (the caller passes the
types known when the store is saved; a stored description is read back without that check).
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from consent_service.errors import InvalidInput
from consent_service.registry.taxonomy import LEGAL_BASES, unknown_categories
from consent_service.subjects.service import IDENTITY_TYPES

STORE_TYPES = ("sql", "redis", "http", "manual")
FIELD_ACTIONS = ("nullify", "mask", "hash", "delete", "keep")
COLLECTION_ERASE = ("delete", "update", "keep")
REDIS_KINDS = ("hash", "string")
DEFAULT_MASK = "[erased]"
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
TABLE_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$")
COLLECTION_KEYS = {
    "primary_key",
    "table",
    "identities",
    "erase",
    "hold",
    "fields",
    "references",
    "pattern",
    "kind",
    "instructions",
    "exclude",
}
FIELD_KEYS = {"category", "erase", "mask", "origin"}
# Where a field's data comes from, in the terms of the WP29 guidelines on portability (WP242):
# provided by the person, observed from their activity, or inferred/derived by the controller.
ORIGINS = ("provided", "observed", "inferred", "derived")
NOT_PORTABLE = ("inferred", "derived")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    category: str
    erase: str = "keep"
    mask: str = DEFAULT_MASK
    origin: str = "provided"

    @property
    def portable(self) -> bool:
        """Whether the field belongs in a portability export (not inferred or derived data)."""
        return self.origin not in NOT_PORTABLE


@dataclass(frozen=True)
class Hold:
    reason: str
    basis: str


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    primary_key: str | None
    identities: dict[str, str]
    erase: str
    fields: dict[str, FieldSpec]
    references: dict[str, str] = field(default_factory=dict)
    hold: Hold | None = None
    table: str | None = None
    pattern: str | None = None
    kind: str = "hash"
    instructions: str | None = None
    exclude: dict[str, str] = field(default_factory=dict)  # column -> why it is not in the copy

    @property
    def columns(self) -> list[str]:
        """Every column or field the description names, primary key first, without repeats."""
        names = [self.primary_key] if self.primary_key else []
        names += [*self.fields, *self.identities.values(), *self.references]
        return list(dict.fromkeys(names))

    def erase_actions(self) -> dict[str, str]:
        """What erasure does to one row: field -> action; any "delete" deletes the row."""
        if self.erase == "keep":
            return {}
        if self.erase == "delete":
            return {self.primary_key or "*": "delete"}
        return {name: f.erase for name, f in self.fields.items() if f.erase != "keep"}


@dataclass(frozen=True)
class StoreSpec:
    key: str
    type: str
    collections: dict[str, CollectionSpec]
    description: str = ""


def placeholders(pattern: str) -> list[str]:
    """The ``{name}`` placeholders of a Redis key pattern, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None]


class _Errors:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.found.setdefault(path, []).append(message)


def _check_connection(kind: str, connection: Any, errors: _Errors) -> None:
    if not isinstance(connection, dict):
        errors.add("connection", "must be an object")
        return
    if kind in ("sql", "redis"):
        url = connection.get("url")
        if not isinstance(url, str) or not url:
            errors.add("connection.url", "a URL is required")
        elif kind == "sql":
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(url)
            except ArgumentError:
                errors.add("connection.url", "not a SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db)")
        elif not url.startswith(("redis://", "rediss://", "unix://")):
            errors.add("connection.url", "use redis://, rediss:// or unix://")
    elif kind == "http":
        endpoint, secret = connection.get("endpoint"), connection.get("secret")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            errors.add("connection.endpoint", "an http:// or https:// URL is required")
        if not isinstance(secret, str) or len(secret) < 16:
            errors.add("connection.secret", "a shared secret of at least 16 characters is required")


def _parse_field(path: str, name: str, doc: Any, errors: _Errors) -> FieldSpec | None:
    if not NAME_RE.match(name):
        errors.add(path, "field names are identifiers (letters, digits, '_')")
    if not isinstance(doc, dict):
        errors.add(path, "must be an object with 'category' and 'erase'")
        return None
    for extra in sorted(set(doc) - FIELD_KEYS):
        errors.add(f"{path}.{extra}", "unknown key")
    category, action, mask = doc.get("category"), doc.get("erase", "keep"), doc.get("mask", DEFAULT_MASK)
    origin = doc.get("origin", "provided")
    if origin not in ORIGINS:
        errors.add(f"{path}.origin", f"must be one of {', '.join(ORIGINS)}")
    if not isinstance(category, str) or not category:
        errors.add(f"{path}.category", "a data category is required (e.g. user.contact.email)")
    elif unknown_categories([category]):
        errors.add(f"{path}.category", f"unknown data category {category!r}")
    if action not in FIELD_ACTIONS:
        errors.add(f"{path}.erase", f"must be one of {', '.join(FIELD_ACTIONS)}")
    if not isinstance(mask, str) or len(mask) > 255:
        errors.add(f"{path}.mask", "a string of at most 255 characters")
    elif "mask" in doc and action != "mask":
        errors.add(f"{path}.mask", "only for erase: mask")
    return FieldSpec(name, str(category), str(action), str(mask), str(origin))


def _parse_collection(
    kind: str, path: str, name: str, doc: Any, errors: _Errors, identity_types: Collection[str] | None
) -> CollectionSpec | None:
    if not NAME_RE.match(name):
        errors.add(path, "collection names are identifiers (letters, digits, '_')")
    if not isinstance(doc, dict):
        errors.add(path, "must be an object")
        return None
    for extra in sorted(set(doc) - COLLECTION_KEYS):
        errors.add(f"{path}.{extra}", "unknown key")
    fields_doc = doc.get("fields", {})
    if not isinstance(fields_doc, dict):
        errors.add(f"{path}.fields", "must be an object: field -> {category, erase}")
        fields_doc = {}
    fields: dict[str, FieldSpec] = {}
    for fname, fdoc in fields_doc.items():
        spec = _parse_field(f"{path}.fields.{fname}", str(fname), fdoc, errors)
        if spec is not None:
            fields[str(fname)] = spec
    primary_key = doc.get("primary_key")
    if kind == "sql" and (not isinstance(primary_key, str) or not NAME_RE.match(primary_key)):
        errors.add(f"{path}.primary_key", "required: the column that identifies a row")
    elif kind == "redis" and primary_key is not None:
        errors.add(f"{path}.primary_key", "not used by redis stores (the key identifies the record)")
    elif primary_key is not None and not isinstance(primary_key, str):
        errors.add(f"{path}.primary_key", "must be a field name")
    pk = primary_key if isinstance(primary_key, str) else None
    erase = doc.get("erase", "update")
    if erase not in COLLECTION_ERASE:
        errors.add(f"{path}.erase", f"must be one of {', '.join(COLLECTION_ERASE)}")
    identities = doc.get("identities", {})
    if not isinstance(identities, dict) or not all(isinstance(v, str) for v in identities.values()):
        errors.add(f"{path}.identities", "must be an object: identity type -> field")
        identities = {}
    references = doc.get("references", {})
    if not isinstance(references, dict) or not all(isinstance(v, str) for v in references.values()):
        errors.add(f"{path}.references", "must be an object: field -> collection.field")
        references = {}
    known = set(fields) | ({pk} if pk else set())
    for itype, ifield in identities.items():
        if identity_types is not None and itype not in identity_types:
            errors.add(f"{path}.identities.{itype}", f"identity types are {', '.join(identity_types)}")
        # a redis key pattern carries it; a manual store is searched by a person
        if kind not in ("redis", "manual") and ifield not in known:
            errors.add(
                f"{path}.identities.{itype}", f"{ifield!r} is neither a declared field nor the primary key"
            )
    for rfield in references:
        # A SQL reference may start from any column of the table (declare a column as a field
        # only when it needs a category or an erase action); other stores only hand back the
        # fields they declare.
        if not isinstance(rfield, str) or not NAME_RE.match(rfield):
            errors.add(f"{path}.references.{rfield}", "a reference starts from a column name")
        elif kind != "sql" and rfield not in known:
            errors.add(
                f"{path}.references.{rfield}",
                f"a {kind} store's reference must start from a declared field or the primary key",
            )
    if not identities and not references:
        errors.add(path, "declare identities or references, or no subject can be found in it")
    hold = None
    if "hold" in doc:
        hdoc = doc["hold"]
        if not isinstance(hdoc, dict) or not isinstance(hdoc.get("reason"), str) or not hdoc["reason"]:
            errors.add(f"{path}.hold.reason", "a hold needs a reason")
        elif hdoc.get("basis") not in LEGAL_BASES:
            errors.add(f"{path}.hold.basis", f"must be one of {', '.join(LEGAL_BASES)}")
        else:
            hold = Hold(hdoc["reason"], hdoc["basis"])
            if erase == "delete" or any(f.erase == "delete" for f in fields.values()):
                errors.add(f"{path}.hold", "a held collection keeps its rows: no row deletion")
    pattern, rkind = doc.get("pattern"), doc.get("kind", "hash")
    if kind == "redis":
        if not isinstance(pattern, str) or not placeholders(pattern):
            errors.add(
                f"{path}.pattern", "a key pattern with placeholders is required, e.g. session:{customer_id}"
            )
        else:
            for ph in placeholders(pattern):
                if ph not in identities.values():
                    errors.add(
                        f"{path}.pattern", f"placeholder {{{ph}}} is not the field of a declared identity"
                    )
            for itype, ifield in identities.items():
                if ifield not in placeholders(pattern):
                    errors.add(f"{path}.identities.{itype}", f"{{{ifield}}} does not appear in the pattern")
        if rkind not in REDIS_KINDS:
            errors.add(f"{path}.kind", "must be hash or string")
        elif rkind == "string" and set(fields) - {"value"}:
            errors.add(f"{path}.fields", "a string key has one field, 'value'")
    elif pattern is not None or "kind" in doc:
        errors.add(f"{path}.pattern", "only redis stores have key patterns")
    table = doc.get("table")
    if table is not None and (kind != "sql" or not isinstance(table, str) or not TABLE_RE.match(table)):
        errors.add(f"{path}.table", "sql stores only: a table name, optionally schema.table")
    instructions = doc.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        errors.add(f"{path}.instructions", "must be a string")
    exclude = _parse_exclude(f"{path}.exclude", doc.get("exclude", {}), errors)
    return CollectionSpec(
        name=name,
        primary_key=pk,
        identities={str(k): v for k, v in identities.items()},
        erase=str(erase),
        fields=fields,
        references={str(k): v for k, v in references.items()},
        hold=hold,
        table=table if isinstance(table, str) else None,
        pattern=pattern if isinstance(pattern, str) else None,
        kind=str(rkind),
        instructions=instructions,
        exclude=exclude,
    )


def _parse_exclude(path: str, doc: Any, errors: _Errors) -> dict[str, str]:
    """``{column: reason}``: columns left out of access copies, each with the reason a person reads."""
    if not isinstance(doc, dict):
        errors.add(path, "must be an object: column -> why it is left out of the copy")
        return {}
    out: dict[str, str] = {}
    for column, reason in doc.items():
        if not isinstance(column, str) or not NAME_RE.match(column):
            errors.add(f"{path}.{column}", "column names are identifiers (letters, digits, '_')")
        elif not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
            errors.add(f"{path}.{column}", "say why the column is left out (1-500 characters)")
        else:
            out[column] = reason.strip()
    return out


def _check_references(spec_key: str, collections: dict[str, CollectionSpec], errors: _Errors) -> None:
    for coll in collections.values():
        for rfield, target in coll.references.items():
            path = f"collections.{coll.name}.references.{rfield}"
            parts = target.split(".")
            if len(parts) == 3 and parts[0] != spec_key:
                continue  # into another store: checked when requests run, the store may come later
            if len(parts) == 3:
                parts = parts[1:]
            if len(parts) != 2 or not all(parts):
                errors.add(path, "write collection.field or store.collection.field")
                continue
            other = collections.get(parts[0])
            if other is None:
                errors.add(path, f"no collection {parts[0]!r} in this store")
            elif parts[1] not in other.fields and parts[1] != other.primary_key:
                errors.add(path, f"{parts[1]!r} is not a declared field of {parts[0]!r}")


def parse_store(key: str, doc: Any, identity_types: Collection[str] | None = IDENTITY_TYPES) -> StoreSpec:
    """Validate a store document; raises InvalidInput naming every problem. ``identity_types``:
    the types a collection may name (None: a stored description, checked when it was saved)."""
    errors = _Errors()
    if not KEY_RE.match(key):
        errors.add("key", "use 1-64 of a-z, 0-9, '_', '.', '-'")
    if not isinstance(doc, dict):
        raise InvalidInput("a store description is an object", errors={"store": ["must be an object"]})
    kind = doc.get("type")
    if kind not in STORE_TYPES:
        errors.add("type", f"must be one of {', '.join(STORE_TYPES)}")
    for extra in sorted(set(doc) - {"type", "connection", "collections", "description", "key"}):
        errors.add(extra, "unknown key")
    _check_connection(str(kind), doc.get("connection"), errors)
    description = doc.get("description", "")
    if not isinstance(description, str):
        errors.add("description", "must be a string")
    collections_doc = doc.get("collections")
    collections: dict[str, CollectionSpec] = {}
    if not isinstance(collections_doc, dict) or not collections_doc:
        errors.add("collections", "declare at least one collection")
    else:
        for name, cdoc in collections_doc.items():
            coll = _parse_collection(
                str(kind), f"collections.{name}", str(name), cdoc, errors, identity_types
            )
            if coll is not None:
                collections[str(name)] = coll
        _check_references(key, collections, errors)
    if errors.found:
        raise InvalidInput(f"the description of store {key!r} is not valid", errors=errors.found)
    return StoreSpec(key=key, type=str(kind), collections=collections, description=str(description))


def spec_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The stored, secret-free part of a validated document."""
    return {"type": doc["type"], "description": doc.get("description", ""), "collections": doc["collections"]}
