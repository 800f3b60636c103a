"""Schemas of the statistics (``/v1/stats/…``)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, post_load, validate

from consent_service.api.schemas.common import KEY, StrictSchema
from consent_service.ledger.stats import INTERVALS, NO_SITE_PARAM, site_asked

FORMAT = fields.Str(load_default="json", validate=validate.OneOf(("json", "csv")))


class RangeQuery(StrictSchema):
    start = fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "first day (UTC); default: 30 days before `to`"},
    )
    end = fields.Date(
        data_key="to", load_default=None, metadata={"description": "last day (UTC); default: today"}
    )
    format = FORMAT


class ConsentStatsQuery(RangeQuery):
    start = fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "first day (a day of the counts' time zone); default: 30 days before `to`"},
    )
    end = fields.Date(
        data_key="to",
        load_default=None,
        metadata={"description": "last day; default: today in CONSENT_TIMEZONE"},
    )
    purpose = fields.Str(
        load_default=None, validate=KEY, metadata={"description": "one purpose; default: all"}
    )
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


class Buckets(fields.List):
    """A list of ``ConsentBucketOut`` (as the OpenAPI document says), written without a
    marshmallow field per number: a year by day is 365 buckets of 14 numbers each, which the
    field-by-field dump spent most of the endpoint's time on. ``consent_stats`` builds each
    bucket with exactly the schema's keys, and plain ints, floats, None and strings; only the
    dates need turning into text (tests compare this with the schema's own dump)."""

    def __init__(self) -> None:
        super().__init__(fields.Nested(ConsentBucketOut))

    def _serialize(
        self, value: Any, attr: str | None, obj: Any, **kwargs: Any
    ) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        return [
            {
                **bucket,
                "start": bucket["start"].isoformat(),
                "end": bucket["end"].isoformat(),
                "methods": dict(bucket["methods"]),
                "suppressed": list(bucket["suppressed"]),
            }
            for bucket in value
        ]


class ConsentStatsOut(StrictSchema):
    purpose = fields.Str(allow_none=True)
    site = fields.Str(allow_none=True)
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    interval = fields.Str()
    min_subjects = fields.Int()
    unsuppressed = fields.Bool()
    time_zone = fields.Str(metadata={"description": "the time zone whose calendar days the counts are on"})
    configured_time_zone = fields.Str(
        metadata={
            "description": "CONSENT_TIMEZONE; when it differs from time_zone, "
            "`consent-service stats rebuild` moves the counts to it"
        }
    )
    buckets = Buckets()


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
