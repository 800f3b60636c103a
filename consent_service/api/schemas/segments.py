"""Schemas of segments and suppression lists."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import IDENTITY_TYPE, StrictSchema
from consent_service.ledger.segments import MAX_LIMIT


class SegmentQuery(StrictSchema):
    cursor = fields.Str(
        load_default=None,
        validate=validate.Length(1, 400),
        metadata={"description": "the previous page's next_cursor (opaque)"},
    )
    limit = fields.Int(load_default=100, validate=validate.Range(1, MAX_LIMIT))
    identity = fields.Str(
        load_default=None,
        validate=IDENTITY_TYPE,
        metadata={"description": "add each subject's identity of this type (needs vault:decrypt)"},
    )
    unsubscribe_links = fields.Bool(
        load_default=False,
        metadata={"description": "add each subject's one-click unsubscribe URL and List-Unsubscribe headers"},
    )


class UnsubscribeOut(StrictSchema):
    url = fields.Str()
    headers = fields.Dict(
        keys=fields.Str(),
        values=fields.Str(),
        metadata={
            "description": "List-Unsubscribe and List-Unsubscribe-Post (RFC 8058), to add to the e-mail"
        },
    )


class SegmentItemOut(StrictSchema):
    subject_id = fields.Str()
    identity = fields.Str(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    unsubscribe = fields.Nested(UnsubscribeOut)


class SegmentOut(StrictSchema):
    items = fields.List(fields.Nested(SegmentItemOut))
    next_cursor = fields.Str(allow_none=True)
    feed_after = fields.Int(metadata={"description": "follow GET /v1/events?after= from here"})


class SuppressionQuery(StrictSchema):
    format = fields.Str(load_default="json", validate=validate.OneOf(("json", "csv")))
