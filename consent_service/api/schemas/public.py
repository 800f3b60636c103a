"""Schemas of ``/v1/public``: the banner's consents and configuration."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import StrictSchema
from consent_service.api.schemas.consents import ConsentOut, DecisionIn
from consent_service.api.schemas.cookies import CookieOut


class DeviceIdentityIn(StrictSchema):
    type = fields.Str(
        required=True, validate=validate.OneOf(("device_id",), error="banners record device ids only")
    )
    value = fields.Str(required=True, validate=validate.Length(1, 320))


class PublicConsentIn(StrictSchema):
    subject = fields.Nested(DeviceIdentityIn, required=True)
    decisions = fields.List(fields.Nested(DecisionIn), required=True, validate=validate.Length(1, 200))
    method = fields.Str(required=True, validate=validate.OneOf(("accept_all", "reject_all", "custom")))
    language = fields.Str(load_default=None, validate=validate.Length(2, 16))
    jurisdiction = fields.Str(load_default=None, validate=validate.Length(2, 16))
    collection_point = fields.Str(load_default=None, validate=validate.Length(max=200))
    url = fields.Str(load_default=None, validate=validate.Length(max=2000))
    tc_string = fields.Str(load_default=None, validate=validate.Length(max=10000))
    gpp_string = fields.Str(load_default=None, validate=validate.Length(max=10000))


class GpcDeniedOut(StrictSchema):
    purposes = fields.List(fields.Str())
    cookies = fields.List(fields.Str())


class PublicConsentOut(ConsentOut):
    gpc_denied = fields.Nested(
        GpcDeniedOut,
        metadata={
            "description": "the purposes and cookies recorded as denied because the request carried "
            "the Global Privacy Control signal (their events have method gpc); empty lists without it"
        },
    )


class BannerCookieOut(CookieOut):
    text = fields.Str(metadata={"description": "the cookie's description in the banner's language"})


class BannerConfigOut(StrictSchema):
    site = fields.Dict()
    language = fields.Str(metadata={"description": "the language of the texts below"})
    languages = fields.List(fields.Str(), metadata={"description": "the languages the site offers"})
    texts = fields.Dict(metadata={"description": "the banner's texts in that language"})
    purposes = fields.List(fields.Dict())
    cookies = fields.List(fields.Nested(BannerCookieOut))
    settings = fields.Dict(
        metadata={"description": "links, theme, floating button, re-ask periods and Consent Mode"}
    )


class BannerConfigQuery(StrictSchema):
    lang = fields.Str(load_default=None, validate=validate.Length(2, 16))
