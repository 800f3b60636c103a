"""Schemas of ``/v1/decisions``: the gate, one subject or a batch."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from consent_service.api.openapi import exactly_one_of
from consent_service.api.schemas.common import IDENTITY_TYPE_DOC, KEY, StrictSchema, SubjectRefIn
from consent_service.subjects.identity_types import KEY_PATTERN


class DecisionQuery(SubjectRefIn):
    """A subject, and the purpose or the cookie to answer for."""

    OPENAPI = {"allOf": [exactly_one_of("subject", "subject_id"), exactly_one_of("purpose", "cookie")]}

    purpose = fields.Str(validate=KEY)
    cookie = fields.Str(validate=validate.Length(1, 128))

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("purpose" in data) == ("cookie" in data):
            raise ValidationError("give exactly one of 'purpose' or 'cookie'", "purpose")


class DecisionOut(StrictSchema):
    allowed = fields.Bool()
    reason = fields.Str()
    legal_basis = fields.Str()
    event_id = fields.Str(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    cookie = fields.Str(metadata={"description": "for a cookie: the cookie asked for"})
    purpose = fields.Str(metadata={"description": "for a cookie: the purpose it serves"})
    decided_by = fields.Str(
        validate=validate.OneOf(("cookie", "purpose")),
        metadata={
            "description": "for a cookie: whether the subject's decision for the cookie itself or "
            "that for its purpose gave the answer"
        },
    )


class SubjectList(fields.Field):
    """Up to 10,000 subjects: subject ids (strings) or identity objects ``{type, value}``.

    Validated in one loop rather than one marshmallow field per item: a 10,000-item batch would
    otherwise spend longer in validation than in answering.
    """

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise ValidationError("a list of subject ids or {type, value} objects")
        if not 1 <= len(value) <= 10_000:
            raise ValidationError("give 1 to 10,000 subjects")
        errors: dict[int, list[str]] = {}
        for index, item in enumerate(value):
            if isinstance(item, str):
                if 0 < len(item) <= 40:
                    continue
            elif (
                isinstance(item, dict)
                and len(item) == 2
                and isinstance(item.get("type"), str)
                and KEY_PATTERN.fullmatch(item["type"]) is not None
                and isinstance(item.get("value"), str)
                and 0 < len(item["value"]) <= 320
            ):
                continue
            errors[index] = ["a subject id or {type, value} with an identity type"]
            if len(errors) >= 20:
                break
        if errors:
            raise ValidationError(errors)
        return value


class BatchQuery(StrictSchema):
    purpose = fields.Str(required=True, validate=KEY)
    subjects = SubjectList(
        required=True,
        metadata={
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string", "minLength": 1, "maxLength": 40},
                    {
                        "type": "object",
                        "properties": {
                            "type": {
                                "type": "string",
                                "pattern": KEY_PATTERN.pattern,
                                "description": IDENTITY_TYPE_DOC,
                            },
                            "value": {"type": "string", "minLength": 1, "maxLength": 320},
                        },
                        "required": ["type", "value"],
                        "additionalProperties": False,
                    },
                ]
            },
            "minItems": 1,
            "maxItems": 10_000,
            "description": "subject ids or {type, value}",
        },
    )


class BatchOut(StrictSchema):
    purpose = fields.Str()
    results = fields.List(fields.Nested(DecisionOut))
