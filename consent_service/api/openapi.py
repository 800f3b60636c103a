"""What the OpenAPI document says beyond single fields: rules across fields of one schema.

marshmallow fields turn into JSON Schema by themselves (types, lengths, ranges, patterns, enums).
Rules that span fields ("exactly one of subject or subject_id", "a DPO verification needs a
note") live in ``validates_schema`` methods, which apispec cannot see. A schema class states the
same rule for the document in ``OPENAPI``: a dict (or a function returning one, for values that
are loaded lazily such as the taxonomy) deep-merged into its generated JSON Schema. The schema's
validator and its ``OPENAPI`` entry sit side by side, so that the two are changed together.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from marshmallow import Schema


def exactly_one_of(*names: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of these members is present"."""
    return {"oneOf": [{"required": [name]} for name in names]}


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


class SchemaRules(BasePlugin):
    """apispec plugin: merges a schema class's ``OPENAPI`` into its component."""

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> None:
        schema = kwargs.get("schema")
        cls = schema if isinstance(schema, type) else type(schema)
        if not (isinstance(cls, type) and issubclass(cls, Schema)):
            return None
        extra = getattr(cls, "OPENAPI", None)
        if callable(extra):
            extra = extra()
        if extra:
            _merge(definition, extra)  # apispec registers ``definition`` as the component
        return None
