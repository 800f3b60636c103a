"""Schemas of ``/v1/purposes``: purposes and their versions."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from consent_service.api.boundary import StrictBool
from consent_service.api.schemas.common import DURATION, StrictSchema
from consent_service.registry import automated, taxonomy
from consent_service.registry.service import MAX_CONSENT_VALIDITY, REQUIRED_LANGUAGES
from consent_service.registry.taxonomy import LEGAL_BASES


def _purpose_rules() -> dict[str, Any]:
    languages = {"type": "object", "required": list(REQUIRED_LANGUAGES)}
    texts = {**languages, "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 5000}}
    return {
        "properties": {
            "titles": languages,
            "descriptions": languages,
            "automated_decisions": _automated_decisions(texts),
            "data_categories": {"items": {"enum": sorted(taxonomy.data_categories())}},
            "data_uses": {"items": {"enum": sorted(taxonomy.data_uses())}},
        }
    }


def _automated_decisions(texts: dict[str, Any]) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string", "enum": [automated.NONE]},
            {
                "type": "object",
                "required": list(automated.PARTS),
                "properties": dict.fromkeys(automated.PARTS, texts),
                "additionalProperties": False,
            },
        ]
    }


AUTOMATED_DECISIONS_HELP = (
    "Art. 15(1)(h): 'none', or the logic of the automated decisions or profiling and their "
    "consequences for the person, {logic: {lang: text}, consequences: {lang: text}}"
)


class PurposeIn(StrictSchema):
    OPENAPI = _purpose_rules  # the required languages and the fideslang taxonomy

    titles = fields.Dict(
        keys=fields.Str(validate=validate.Length(2, 8)),
        values=fields.Str(validate=validate.Length(1, 300)),
        required=True,
    )
    descriptions = fields.Dict(
        keys=fields.Str(validate=validate.Length(2, 8)),
        values=fields.Str(validate=validate.Length(1, 5000)),
        required=True,
    )
    legal_basis = fields.Str(required=True, validate=validate.OneOf(LEGAL_BASES))
    data_categories = fields.List(
        fields.Str(validate=validate.Length(1, 200)), required=True, validate=validate.Length(max=100)
    )
    data_uses = fields.List(
        fields.Str(validate=validate.Length(1, 200)), required=True, validate=validate.Length(1, 100)
    )
    consent_validity = fields.Str(
        load_default="P12M",
        validate=DURATION,
        metadata={"description": f"ISO 8601 duration, at most {MAX_CONSENT_VALIDITY}"},
    )
    retention_period = fields.Str(load_default=None, allow_none=True, validate=DURATION)
    automated_decisions = fields.Raw(
        load_default=automated.NONE, metadata={"description": AUTOMATED_DECISIONS_HELP}
    )
    direct_marketing = StrictBool(load_default=False)
    honor_gpc = StrictBool(load_default=False)
    confirmation = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["double_opt_in"]),
        metadata={
            "description": "double_opt_in: a grant for an e-mail subject is pending until the person "
            "follows the link in the confirmation e-mail"
        },
    )
    strictly_necessary = StrictBool(
        load_default=False,
        metadata={
            "description": "needed for the service the person asked for (ePrivacy Art. 5(3)): "
            "always on in a banner; every other purpose is asked, whatever its legal basis"
        },
    )


class PurposeVersionOut(StrictSchema):
    version = fields.Int()
    content_hash = fields.Str()
    titles = fields.Dict()
    descriptions = fields.Dict()
    legal_basis = fields.Str()
    data_categories = fields.List(fields.Str())
    data_uses = fields.List(fields.Str())
    automated_decisions = fields.Raw(metadata={"description": AUTOMATED_DECISIONS_HELP})
    created_at = fields.DateTime()


class PurposeOut(StrictSchema):
    key = fields.Str()
    version = fields.Int()
    content_hash = fields.Str()
    titles = fields.Dict()
    descriptions = fields.Dict()
    legal_basis = fields.Str()
    data_categories = fields.List(fields.Str())
    data_uses = fields.List(fields.Str())
    automated_decisions = fields.Raw(metadata={"description": AUTOMATED_DECISIONS_HELP})
    consent_validity = fields.Str()
    retention_period = fields.Str(allow_none=True)
    direct_marketing = fields.Bool()
    honor_gpc = fields.Bool()
    confirmation = fields.Str(allow_none=True)
    strictly_necessary = fields.Bool()
    consent_collected_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "when the first consent decision for this purpose was recorded; from then "
            "on its legal basis cannot change from consent (409)"
        },
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    new_version = fields.Bool(metadata={"description": "PUT only: whether this call created a version"})
    versions = fields.List(fields.Nested(PurposeVersionOut), metadata={"description": "GET one only"})
