"""Schemas of ``/v1/stores``: data stores, their checks and callbacks."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import StrictSchema
from consent_service.stores.spec import STORE_TYPES


class StoreIn(StrictSchema):
    type = fields.Str(required=True, validate=validate.OneOf(STORE_TYPES))
    connection = fields.Dict(
        required=True,
        metadata={"description": "sql/redis: {url}; http: {endpoint, secret}. Stored encrypted."},
    )
    collections = fields.Dict(
        keys=fields.Str(validate=validate.Length(1, 63)),
        values=fields.Dict(),
        required=True,
        metadata={"description": "collection -> {primary_key, identities, erase, fields, ...}"},
    )
    description = fields.Str(load_default="", validate=validate.Length(max=2000))


class StoreOut(StrictSchema):
    key = fields.Str()
    type = fields.Str()
    description = fields.Str()
    connection = fields.Dict(metadata={"description": "secrets hidden as ***"})
    collections = fields.Dict()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CheckOut(StrictSchema):
    collection = fields.Str()
    field = fields.Str()
    ok = fields.Bool()
    problem = fields.Str()


class StoreTestOut(StrictSchema):
    key = fields.Str()
    ok = fields.Bool()
    checks = fields.List(fields.Nested(CheckOut))
    checked_at = fields.DateTime()
    checked_by = fields.Str(metadata={"description": "who ran the test (API client, staff user or cli)"})


class CallbackOut(StrictSchema):
    id = fields.Str()
    type = fields.Str()
    state = fields.Str()
