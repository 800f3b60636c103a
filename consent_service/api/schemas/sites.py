"""Schemas of ``/v1/sites``: websites, their banner's offer and the banner settings document.

The settings schema states every field's type, enum and pattern (``registry.banner_settings``
has the same fields); a member left out takes the default. What the document cannot state is
checked by ``banner_settings.problems`` and answered 422 with ``banner.<field>`` errors: the
theme's contrast, re-ask periods of at most ``P13M`` and Consent Mode mapping purposes the site
offers.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from consent_service.api.boundary import StrictBool
from consent_service.api.schemas.common import DURATION, KEY, NOTE, StrictSchema
from consent_service.registry import banner_settings, banner_texts
from consent_service.registry.service import COOKIE_NAME
from consent_service.registry.sites import MAX_SITE_NAME

COLOUR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="a colour like #1f2328")
LINK = validate.Regexp(r"^(https?://|/)", error="an http(s) URL or a path starting with /")
REGION = validate.Regexp(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$", error="an ISO 3166 code like DE or ES-CT")
ORIGIN = validate.Regexp(r"^https?://[^/]+$", error="an origin like https://www.example.org")
TEXT = validate.Regexp(r"\S", error="must not be blank")


def _integer(value: Any) -> None:
    if isinstance(value, bool):
        raise ValidationError("Not a valid integer.")


class BannerLinks(StrictSchema):
    privacy = fields.Str(allow_none=True, validate=[validate.Length(1, 2000), LINK])
    imprint = fields.Str(allow_none=True, validate=[validate.Length(1, 2000), LINK])


class BannerTheme(StrictSchema):
    background = fields.Str(validate=COLOUR)
    text = fields.Str(validate=COLOUR, metadata={"description": "4.5:1 contrast on the background"})
    accent = fields.Str(validate=COLOUR, metadata={"description": "white text on it reaches 4.5:1"})


def _mapping_rules() -> dict[str, Any]:
    keys = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": KEY.regex.pattern}}
    return {
        "properties": {
            "mapping": {
                "properties": dict.fromkeys(banner_settings.CONSENT_TYPES, keys),
                "additionalProperties": False,
            }
        }
    }


class ConsentMode(StrictSchema):
    OPENAPI = _mapping_rules  # the consent types as members (OpenAPI 3.0 has no propertyNames)

    enabled = StrictBool()
    mode = fields.Str(
        validate=validate.OneOf(banner_settings.MODES),
        metadata={
            "description": "basic: Google tags wait for consent; advanced: they load with every type denied"
        },
    )
    mapping = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(banner_settings.CONSENT_TYPES)),
        values=fields.List(fields.Str(validate=KEY), validate=validate.Length(min=1)),
        metadata={
            "description": "consent type -> purpose keys of the site's offer; a type is granted "
            "when each of its purposes is"
        },
    )
    ads_data_redaction = StrictBool()
    url_passthrough = StrictBool()
    regions = fields.List(
        fields.Str(validate=REGION),
        validate=validate.Length(max=300),
        metadata={"description": "ISO 3166 codes the defaults apply to; empty: everywhere"},
    )
    wait_for_update = fields.Int(
        strict=True,
        validate=[_integer, validate.Range(0, banner_settings.MAX_WAIT_MS)],
        metadata={"description": "milliseconds"},
    )


def _settings_rules() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": banner_settings.MAX_TEXT, "pattern": r"\S"}
    table = {
        "type": "object",
        "properties": dict.fromkeys(sorted(banner_texts.keys()), text),
        "additionalProperties": False,
    }
    return {
        "properties": {
            "texts": {
                "properties": dict.fromkeys(banner_texts.languages(), table),
                "additionalProperties": False,
            }
        }
    }


class BannerSettings(StrictSchema):
    """A site's banner settings; a member left out takes its default."""

    OPENAPI = _settings_rules  # languages and text ids as members (no propertyNames)

    languages = fields.List(
        fields.Str(validate=validate.OneOf(banner_texts.languages())),
        validate=validate.Length(1, 20),
        metadata={
            "description": "the banner's languages; the first is used when the page's is not among them"
        },
    )
    links = fields.Nested(BannerLinks)
    theme = fields.Nested(BannerTheme)
    floating_button = StrictBool(metadata={"description": "a small button that reopens the settings"})
    reask_after = fields.Str(
        validate=DURATION,
        metadata={"description": f"ask again after this long, at most {banner_settings.MAX_REASK}"},
    )
    refusal_reask = fields.Str(
        validate=DURATION,
        metadata={
            "description": f"a refused purpose is not asked again for this long (at most {banner_settings.MAX_REASK})"
        },
    )
    texts = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(banner_texts.languages())),
        values=fields.Dict(
            keys=fields.Str(validate=validate.OneOf(sorted(banner_texts.keys()))),
            values=fields.Str(validate=[validate.Length(1, banner_settings.MAX_TEXT), TEXT]),
        ),
        metadata={"description": "language -> text id -> text, over the banner's own texts"},
    )
    consent_mode = fields.Nested(ConsentMode, metadata={"description": "Google Consent Mode v2"})


class SiteIn(StrictSchema):
    name = fields.Str(required=True, validate=[validate.Length(1, MAX_SITE_NAME), NOTE])
    origins = fields.List(
        fields.Str(validate=[validate.Length(1, 300), ORIGIN]),
        required=True,
        validate=validate.Length(1, 100),
        metadata={"description": "where the banner runs, e.g. https://www.example.org"},
    )
    purposes = fields.List(
        fields.Str(validate=KEY),
        required=True,
        validate=validate.Length(max=200),
        metadata={"description": "registered purposes the banner offers"},
    )
    cookies = fields.List(
        fields.Str(validate=validate.Regexp("^" + COOKIE_NAME + "$")),
        required=True,
        validate=validate.Length(max=500),
        metadata={"description": "registered cookies the banner lists"},
    )
    banner = fields.Nested(
        BannerSettings,
        metadata={"description": "the banner settings; on PUT, leaving it out keeps the present ones"},
    )


class SiteOut(StrictSchema):
    id = fields.Str()
    name = fields.Str()
    site_key = fields.Str(metadata={"description": "the public key the banner sends"})
    allowed_origins = fields.List(fields.Str())
    purposes = fields.List(fields.Str())
    cookies = fields.List(fields.Str())
    banner = fields.Nested(BannerSettings, metadata={"description": "every setting, defaults filled in"})
    created_at = fields.DateTime()
