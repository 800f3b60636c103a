"""The records of processing activities (Art. 30(1)) on a page, and their JSON and CSV downloads.

The page shows what ``retention.ropa.build`` (the function behind ``GET /v1/ropa``) returns: the
controller and DPO, then one section per processing activity (purpose) with its legal basis,
categories of data subjects and data, where the data is stored, recipients, transfers and time
limits. Titles and descriptions are shown in the page's language where the purpose has them. The
downloads are the API's bytes (``RopaOut`` as JSON, ``ropa.to_csv``) as attachments named with the
day they were made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, ngettext
from flask_babel import lazy_gettext as _l

from consent_service.api.schemas.ropa import RopaOut
from consent_service.durations import DurationError, parse_duration
from consent_service.retention import ropa
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, requires
from consent_service.web.i18n import language

LEGAL_BASIS_NAMES = {
    "consent": _l("consent (Art. 6(1)(a))"),
    "contract": _l("performance of a contract (Art. 6(1)(b))"),
    "legal_obligation": _l("legal obligation (Art. 6(1)(c))"),
    "vital_interests": _l("vital interests (Art. 6(1)(d))"),
    "public_task": _l("public task (Art. 6(1)(e))"),
    "legitimate_interests": _l("legitimate interest (Art. 6(1)(f))"),
}


def duration_words(text: str | None) -> str:
    """An ISO 8601 duration (P2Y, P13M, P30D) in words of the page's language; "" for none."""
    if not text:
        return ""
    try:
        span = parse_duration(text)
    except DurationError:
        return text
    # One literal call per unit, so that the catalog extraction finds each text.
    parts = [
        ngettext("%(num)d year", "%(num)d years", span.years) if span.years else "",
        ngettext("%(num)d month", "%(num)d months", span.months) if span.months else "",
        ngettext("%(num)d day", "%(num)d days", span.days) if span.days else "",
        ngettext("%(num)d hour", "%(num)d hours", span.hours) if span.hours else "",
    ]
    parts = [part for part in parts if part]
    return ", ".join(parts) or text


def _in_page_language(texts: dict[str, str] | None, fallback: str) -> str:
    texts = texts or {}
    return texts.get(language()) or fallback


def _record(record: dict[str, Any]) -> dict[str, Any]:
    return record | {
        "shown_title": _in_page_language(record["titles"], record["title"]),
        "shown_description": _in_page_language(
            record["descriptions"], next(iter((record["descriptions"] or {}).values()), "")
        ),
        "basis_name": LEGAL_BASIS_NAMES.get(record["legal_basis"], record["legal_basis"]),
        "retention_words": duration_words(record["retention_period"]),
        "validity_words": duration_words(record["consent_validity"]),
    }


def _generated(doc: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(doc["generated_at"])


def _attachment(body: str | bytes, mimetype: str, doc: dict[str, Any], extension: str) -> Response:
    day = _generated(doc).astimezone(ZoneInfo(context().config.timezone)).date().isoformat()
    name = f"records-of-processing-{day}.{extension}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@blueprint.route("/records")
@requires("read")
def records() -> ResponseReturnValue:
    doc = ropa.build(context())
    return render_template(
        "console/records/index.html",
        doc=doc,
        records=[_record(r) for r in doc["records"]],
        generated=format_datetime(_generated(doc), "long"),
        section="records",
    )


@blueprint.route("/records.json")
@requires("read")
def records_json() -> ResponseReturnValue:
    doc = ropa.build(context())
    # The bytes of GET /v1/ropa: the API's schema through the app's JSON provider.
    body = current_app.json.response(RopaOut().dump(doc)).get_data()  # type: ignore[attr-defined]
    return _attachment(body, "application/json", doc, "json")


@blueprint.route("/records.csv")
@requires("read")
def records_csv() -> ResponseReturnValue:
    doc = ropa.build(context())
    return _attachment(ropa.to_csv(doc), "text/csv", doc, "csv")
