"""Schemas of ``/v1/ropa``: the records of processing activities (Art. 30)."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import StrictSchema

FORMATS = ("json", "csv")


class RopaQuery(StrictSchema):
    format = fields.Str(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (default) or csv (one row per purpose, as an attachment)"},
    )


class RopaContactOut(StrictSchema):
    name = fields.Str()
    contact = fields.Str()
    address = fields.Str()


class RopaDpoOut(StrictSchema):
    name = fields.Str()
    contact = fields.Str()


class RopaRuleRefOut(StrictSchema):
    key = fields.Str()
    version = fields.Int()
    in_words = fields.Str()


class RopaLocationOut(StrictSchema):
    store = fields.Str()
    collection = fields.Str()
    field = fields.Str()
    category = fields.Str()
    location = fields.Str(metadata={"description": "store.collection.field"})


class RopaRecipientRefOut(StrictSchema):
    key = fields.Str()
    name = fields.Str()
    events = fields.List(fields.Str())


class RopaRecordOut(StrictSchema):
    purpose = fields.Str()
    version = fields.Int()
    title = fields.Str()
    titles = fields.Dict(keys=fields.Str(), values=fields.Str())
    descriptions = fields.Dict(keys=fields.Str(), values=fields.Str())
    legal_basis = fields.Str()
    direct_marketing = fields.Bool()
    data_subject_categories = fields.List(fields.Str())
    data_categories = fields.List(fields.Str())
    stored_in = fields.List(fields.Nested(RopaLocationOut))
    data_uses = fields.List(fields.Str())
    recipients = fields.List(fields.Nested(RopaRecipientRefOut))
    third_country_transfers = fields.Str()
    retention_period = fields.Str(allow_none=True)
    consent_validity = fields.Str()
    retention_rules = fields.List(fields.Nested(RopaRuleRefOut))


class RopaOut(StrictSchema):
    controller = fields.Nested(RopaContactOut)
    dpo = fields.Nested(RopaDpoOut)
    generated_at = fields.Str()
    data_subject_categories = fields.List(fields.Str())
    third_country_transfers = fields.Str()
    security_measures = fields.Str()
    records = fields.List(fields.Nested(RopaRecordOut))
    stores = fields.List(
        fields.Dict(),
        metadata={"description": "key, type, description, collections (fields, categories, hold)"},
    )
    recipients = fields.List(fields.Nested(RopaRecipientRefOut))
    retention_rules = fields.List(
        fields.Dict(), metadata={"description": "every active retention rule, with in_words"}
    )
