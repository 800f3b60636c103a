"""Import mappings: how the rows of another platform's consent-log export become decisions.

A mapping is a YAML document (shipped ones live in ``mappings/``, see ``load``). Each field is a
*spec*: a column name (``"Consent ID"``; a dotted name reaches into a JSON line: ``a.b``), or a
table with ``column`` or ``value`` (a constant), optionally ``values`` (a translation table:
any other value is a row error), ``default`` (used when the column is empty), ``format`` (for
the timestamp: ``iso``, ``epoch_s``, ``epoch_ms`` or a ``strptime`` pattern read as UTC) and,
for a decision, ``contains`` (granted when the column's list, object or comma-separated text
holds that entry, denied otherwise).

``extract`` turns one row into ``Extracted`` decisions, or raises ``RowError`` naming the field.
Pure: no database, no clock; the identity types it accepts are passed in (the built-in ones
unless the caller read the registered ones too), and a registered type's value comes out
normalised by its rule, as the ledger would store it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from consent_service.errors import InvalidInput
from consent_service.subjects import identity_types
from consent_service.subjects.identity_types import TypeRule

SHIPPED = ("generic", "commanders_act", "ccm19")
METHODS = ("accept_all", "reject_all", "custom", "gpc", "api")
DECISIONS = ("granted", "denied", "withdrawn", "skip")  # skip: the row says nothing about it
SINGLE_FIELDS = ("identity_type", "identity", "timestamp", "method", "collection_point", "language", "notice")
MAX_VALUE = 320


class RowError(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Spec:
    column: str | None = None
    value: Any = None
    values: dict[str, Any] | None = None
    default: Any = None
    format: str | None = None
    contains: str | None = None


@dataclass(frozen=True)
class DecisionSpec:
    target_type: str  # purpose | cookie
    target: Spec
    decision: Spec


@dataclass(frozen=True)
class Mapping:
    name: str
    source: str
    fields: dict[str, Spec]
    decisions: tuple[DecisionSpec, ...]
    proof: dict[str, Spec] = field(default_factory=dict)


@dataclass(frozen=True)
class Extracted:
    """One decision read from one row, normalised."""

    identity_type: str
    identity: str
    target_type: str
    target_key: str
    decision: str
    recorded_at_source: dt.datetime
    method: str
    collection_point: str | None
    language: str | None
    proof: dict[str, str]


def _spec(where: str, raw: Any, errors: dict[str, list[str]]) -> Spec:
    if isinstance(raw, str):
        return Spec(column=raw)
    if not isinstance(raw, dict) or not ({"column", "value"} & set(raw)):
        errors.setdefault(where, []).append("give a column name or a table with 'column' or 'value'")
        return Spec()
    unknown = set(raw) - {"column", "value", "values", "default", "format", "contains"}
    if unknown:
        errors.setdefault(where, []).append(f"unknown keys: {', '.join(sorted(unknown))}")
    values = raw.get("values")
    if values is not None and not isinstance(values, dict):
        errors.setdefault(where, []).append("'values' must be a table")
        values = None
    return Spec(
        column=raw.get("column"),
        value=raw.get("value"),
        values={str(k).lower(): v for k, v in values.items()} if values else None,
        default=raw.get("default"),
        format=raw.get("format"),
        contains=str(raw["contains"]) if "contains" in raw else None,
    )


def parse(name: str, doc: Any) -> Mapping:
    """The mapping in ``doc``; InvalidInput naming every problem."""
    errors: dict[str, list[str]] = {}
    if not isinstance(doc, dict):
        raise InvalidInput("a mapping is a YAML table", errors={"mapping": ["not a table"]})
    source = doc.get("source")
    if not isinstance(source, str) or not 1 <= len(source) <= 64:
        errors["source"] = ["name the platform the file comes from (1-64 characters)"]
    unknown = set(doc) - {"source", "description", "fields", "proof", "decisions"}
    if unknown:
        errors["mapping"] = [f"unknown keys: {', '.join(sorted(unknown))}"]
    raw_fields = doc.get("fields") or {}
    fields_ = {}
    for key in SINGLE_FIELDS:
        if key in raw_fields:
            fields_[key] = _spec(f"fields.{key}", raw_fields[key], errors)
    for key in set(raw_fields) - set(SINGLE_FIELDS):
        errors.setdefault(f"fields.{key}", []).append(f"choose from {', '.join(SINGLE_FIELDS)}")
    for key in ("identity_type", "identity", "timestamp"):
        if key not in fields_:
            errors.setdefault(f"fields.{key}", []).append("required")
    proof = {str(k): _spec(f"proof.{k}", v, errors) for k, v in (doc.get("proof") or {}).items()}
    decisions = []
    raw_decisions = doc.get("decisions")
    if not isinstance(raw_decisions, list) or not raw_decisions:
        errors["decisions"] = ["give at least one decision (a purpose or cookie and its decision)"]
        raw_decisions = []
    for index, item in enumerate(raw_decisions):
        where = f"decisions.{index}"
        if (
            not isinstance(item, dict)
            or len({"purpose", "cookie"} & set(item)) != 1
            or "decision" not in item
        ):
            errors.setdefault(where, []).append("give 'purpose' or 'cookie', and 'decision'")
            continue
        target_type = "purpose" if "purpose" in item else "cookie"
        decisions.append(
            DecisionSpec(
                target_type,
                _spec(f"{where}.{target_type}", item[target_type], errors),
                _spec(f"{where}.decision", item["decision"], errors),
            )
        )
    if errors:
        raise InvalidInput(f"mapping {name!r} is not valid", errors=errors)
    return Mapping(name, str(source), fields_, tuple(decisions), proof)


def load(name_or_path: str) -> Mapping:
    """A shipped mapping by name (``generic``, ``commanders_act``, ``ccm19``) or a YAML file."""
    if name_or_path in SHIPPED:
        text = (
            resources.files("consent_service.imports").joinpath(f"mappings/{name_or_path}.yaml").read_text()
        )
        return parse(name_or_path, yaml.safe_load(text))
    path = Path(name_or_path)
    if not path.is_file():
        raise InvalidInput(
            "unknown mapping",
            errors={"mapping": [f"{name_or_path!r}: name one of {', '.join(SHIPPED)} or a YAML file"]},
        )
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidInput("the mapping is not YAML", errors={"mapping": [str(exc)]}) from exc
    return parse(path.stem, doc)


def _lookup(row: dict[str, Any], column: str) -> Any:
    value: Any = row.get(column)
    if value is None and "." in column:
        value = row
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    return value


def _raw(row: dict[str, Any], spec: Spec) -> Any:
    value = spec.value if spec.column is None else _lookup(row, spec.column)
    if value is None or value == "":
        value = spec.default
    return value


def _text(row: dict[str, Any], spec: Spec, name: str) -> str | None:
    value = spec.value if spec.column is None else _lookup(row, spec.column)
    if value is None or value == "":
        if not spec.values or "" not in spec.values:  # the table may say what empty means
            # a default is already in the service's terms: it is not translated
            return None if spec.default is None else str(spec.default)
        value = ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).strip()
    if spec.values is not None:
        if text.lower() not in spec.values:
            choices = ", ".join(map(str, spec.values))
            raise RowError(name, f"{text!r} is not one of {choices}")
        translated = spec.values[text.lower()]
        text = "" if translated is None else str(translated)
    if len(text) > MAX_VALUE:
        raise RowError(name, f"longer than {MAX_VALUE} characters")
    return text or None


def _required(row: dict[str, Any], spec: Spec, name: str) -> str:
    text = _text(row, spec, name)
    if text is None:
        raise RowError(name, "missing")
    return text


def _timestamp(row: dict[str, Any], spec: Spec) -> dt.datetime:
    value = _raw(row, spec)
    if value is None or value == "":
        raise RowError("timestamp", "missing")
    kind = spec.format or "iso"
    try:
        if kind in ("epoch_s", "epoch_ms"):
            seconds = float(value) / (1000 if kind == "epoch_ms" else 1)
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        text = str(value).strip()
        if kind == "iso":
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = dt.datetime.strptime(text, kind)
    except (ValueError, OverflowError, OSError) as exc:
        raise RowError("timestamp", f"{value!r} is not a time in format {kind}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _decision(row: dict[str, Any], spec: Spec, name: str) -> str:
    if spec.contains is not None:
        value = _raw(row, spec)
        if isinstance(value, dict):
            held = {str(v) for v in value.values()} | {str(k) for k in value}
        elif isinstance(value, list):
            held = {str(v) for v in value}
        else:
            held = {part.strip() for part in str(value or "").split(",")}
        return "granted" if spec.contains in held else "denied"
    decision = _required(row, spec, name).lower()
    if decision not in DECISIONS:
        raise RowError(name, f"{decision!r} is not one of granted, denied, withdrawn (map it with 'values')")
    return decision


def extract(
    mapping: Mapping, row: dict[str, Any], types: dict[str, TypeRule] | None = None
) -> list[Extracted]:
    """The decisions of one row (none when every decision is ``skip``); ``types``: the identity
    types a row may name (``identity_types.all_rules``), the built-in ones when None."""
    specs = mapping.fields
    types = identity_types.BUILT_IN_RULES if types is None else types
    identity_type = _required(row, specs["identity_type"], "identity_type")
    found = types.get(identity_type)
    if found is None:
        raise RowError("identity_type", f"{identity_type!r} is not one of {', '.join(types)}")
    identity = _required(row, specs["identity"], "identity")
    if identity_type == "email" and "@" not in identity:
        raise RowError("identity", f"{identity!r} is not an e-mail address")
    if not found.built_in:
        try:
            identity = identity_types.apply(found, identity)
        except identity_types.InvalidIdentityValue as exc:
            raise RowError("identity", exc.detail) from exc
    recorded_at_source = _timestamp(row, specs["timestamp"])
    method = _text(row, specs["method"], "method") if "method" in specs else None
    method = method or "api"
    if method not in METHODS:
        raise RowError("method", f"{method!r} is not one of {', '.join(METHODS)} (map it with 'values')")
    optional = {
        key: _text(row, specs[key], key) if key in specs else None
        for key in ("collection_point", "language", "notice")
    }
    for key, limit in (("language", 16), ("collection_point", 200)):
        value = optional[key]
        if value is not None and len(value) > limit:
            raise RowError(key, f"longer than {limit} characters")
    proof = {}
    for key, spec in mapping.proof.items():
        text = _text(row, spec, f"proof.{key}")
        if text is not None:
            proof[key] = text
    if optional["notice"] is not None:
        proof["notice"] = optional["notice"]
    out = []
    for index, item in enumerate(mapping.decisions):
        decision = _decision(row, item.decision, f"decisions.{index}.decision")
        if decision == "skip":
            continue
        target = _required(row, item.target, f"decisions.{index}.{item.target_type}")
        out.append(
            Extracted(
                identity_type,
                identity,
                item.target_type,
                target,
                decision,
                recorded_at_source,
                method,
                optional["collection_point"],
                optional["language"],
                proof,
            )
        )
    return out
