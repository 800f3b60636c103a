"""Schemas of the statistics (``/v1/stats/…``)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, post_load, validate

from consent_service.api.schemas.common import KEY, StrictSchema
from consent_service.ledger.stats import INTERVALS, NO_SITE_PARAM, site_asked

FORMAT = fields.Str(load_default="json", validate=validate.OneOf(("json", "csv")))


class RangeQuery(StrictSchema):
    start = fields.Date(
        data_key="from", load_default=None, metadata={"description": "first day (UTC); default: 30 days before `to`"}
    )
    end = fields.Date(data_key="to", load_default=None, metadata={"description": "last day (UTC); default: today"})
    format = FORMAT


class ConsentStatsQuery(RangeQuery):
    purpose = fields.Str(load_default=None, validate=KEY, metadata={"description": "one purpose; default: all"})
    site = fields.Str(
        load_default=None,
        validate=validate.Length(1, 40),
        metadata={
            "description": f"one site's id, or `{NO_SITE_PARAM}`: the decisions made not through a banner"
            " (API clients, imports, forms); default: all"
        },
    )
    interval = fields.Str(load_default="day", validate=validate.OneOf(INTERVALS))

    @post_load
    def no_site(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return data | {"site": site_asked(data["site"])}


class MethodSharesOut(StrictSchema):
    accept_all = fields.Float(allow_none=True)
    reject_all = fields.Float(allow_none=True)
    custom = fields.Float(allow_none=True)
    gpc = fields.Float(allow_none=True)
    api = fields.Float(allow_none=True)
    other = fields.Float(allow_none=True)


class ConsentBucketOut(StrictSchema):
    start = fields.Date()
    end = fields.Date()
    grants = fields.Int(allow_none=True)
    denials = fields.Int(allow_none=True)
    withdrawals = fields.Int(allow_none=True)
    pending = fields.Int(allow_none=True)
    opt_in_rate = fields.Float(allow_none=True)
    methods = fields.Nested(MethodSharesOut)
    suppressed = fields.List(fields.Str(), metadata={"description": "the numbers held back (shown as null)"})


class ConsentStatsOut(StrictSchema):
    purpose = fields.Str(allow_none=True)
    site = fields.Str(allow_none=True)
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    interval = fields.Str()
    min_subjects = fields.Int()
    unsuppressed = fields.Bool()
    buckets = fields.List(fields.Nested(ConsentBucketOut))


class RequestTypeOut(StrictSchema):
    type = fields.Str()
    received = fields.Int(allow_none=True)
    completed = fields.Int(allow_none=True)
    median_days = fields.Float(allow_none=True)
    p95_days = fields.Float(allow_none=True)
    within_deadline = fields.Float(allow_none=True)
    overdue_now = fields.Int(allow_none=True)
    suppressed = fields.List(fields.Str())


class RequestStatsOut(StrictSchema):
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    min_subjects = fields.Int()
    unsuppressed = fields.Bool()
    types = fields.List(fields.Nested(RequestTypeOut))
