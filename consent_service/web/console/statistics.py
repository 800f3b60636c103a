"""The statistics page: opt-in rate per purpose, method shares per site, withdrawals, and the
data subject requests, each as a table (the content), a chart (an enhancement drawn by
``static/statistics.js`` with Chart.js from a JSON block) and a CSV download.

The page and its downloads call ``ledger.stats.consent_stats`` and ``dsar.stats.request_stats``,
the functions behind ``GET /v1/stats/…``, and write CSV with the same functions as the API
(``consent_csv``, ``request_csv``), so the minimum-subjects rule is applied in one place: every
staff role may read the statistics, only a role with ``stats:unsuppressed`` (the DPO, and so the
administrator) sees numbers for fewer subjects. The opt-in rate asks once per purpose and the
shares once per site (one bucket for the whole range), and once more for the decisions made not
through a banner ("no site": API clients, imports, forms), each a grouped read of the daily counts.
A chart with nothing to draw says why instead: every number in it is held back by the
minimum-subjects rule (``hidden``), or there is nothing in the range (``empty``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from consent_service.dsar import stats as request_stats
from consent_service.dsar.messages import type_name
from consent_service.errors import InvalidInput
from consent_service.ledger import stats
from consent_service.registry.service import list_purposes
from consent_service.registry.sites import list_sites
from consent_service.staff import service as staff
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.i18n import language

UNSUPPRESSED = "stats:unsuppressed"
INTERVAL_NAMES = {"day": _l("per day"), "week": _l("per week"), "month": _l("per month")}
SHARES = ("accept_all", "reject_all", "custom", "gpc", "api", "other")
SHARE_NAMES = {
    "accept_all": _l("Accept all"),
    "reject_all": _l("Reject all"),
    "custom": _l("Custom choice"),
    "gpc": _l("GPC signal"),
    "api": _l("Through the API"),
    "other": _l("Other"),
}
NO_SITE_NAME = _l("No site")


class StatsFilter(FlaskForm):
    """The page's filters: a GET form (nothing personal, so no CSRF token)."""

    class Meta:
        csrf = False

    purpose = SelectField(_l("Purpose"), default="", validate_choice=False)
    site = SelectField(_l("Site"), default="", validate_choice=False)
    start = DateField(_l("From"), validators=[Optional()], name="from")
    end = DateField(_l("To"), validators=[Optional()], name="to")
    interval = SelectField(
        _l("Interval"), choices=[SelectChoice(k, v) for k, v in INTERVAL_NAMES.items()], default="day"
    )


def _filter(purposes: list[str], sites: dict[str, str]) -> StatsFilter:
    form = StatsFilter(request.args)
    form.purpose.choices = [SelectChoice("", _l("All purposes")), *(SelectChoice(p, p) for p in purposes)]
    form.site.choices = [
        SelectChoice("", _l("All sites")),
        *(SelectChoice(s, name) for s, name in sites.items()),
        SelectChoice(stats.NO_SITE_PARAM, _l("No site (API, imports, forms)")),
    ]
    return form


def _unsuppressed() -> bool:
    user = current_user()
    return user is not None and staff.can(user["role"], UNSUPPRESSED)


def _query(form: StatsFilter) -> dict[str, Any]:
    return {
        "purpose": form.purpose.data or None,
        "site": stats.site_asked(form.site.data),
        "start": form.start.data,
        "end": form.end.data,
        "interval": form.interval.data,
    }


def _form_errors(form: StatsFilter, error: InvalidInput) -> None:
    names = {
        "from": form.start,
        "to": form.end,
        "purpose": form.purpose,
        "site": form.site,
        "interval": form.interval,
    }
    for name, messages in (error.errors or {}).items():
        field = names.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]


def _site_param(site: str | None) -> str:
    """A site of ``consent_stats`` as the filter's value."""
    if site is None:
        return ""
    return stats.NO_SITE_PARAM if site == stats.NO_SITE else site


def _state(values: list[Any], suppressed: bool, zero_is_data: bool = False) -> str | None:
    """Why a chart has nothing to draw: ``hidden`` when the minimum-subjects rule holds back
    every number that is not 0 (a held-back number is never 0), ``empty`` when there is
    nothing; ``None`` when it has something to draw (a 0 % rate or share is something)."""
    if any(v is not None and (zero_is_data or v) for v in values):
        return None
    return "hidden" if suppressed else "empty"


def _label(bucket: dict[str, Any], interval: str) -> str:
    start: dt.date = bucket["start"]
    if interval == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


def _dashboard(
    ctx: Any, query: dict[str, Any], unsuppressed: bool, purposes: list[str], sites: dict[str, str]
) -> dict[str, Any]:
    overall = stats.consent_stats(ctx, unsuppressed=unsuppressed, **query)
    interval = overall["interval"]
    start, end = overall["start"], overall["end"]
    chosen = [query["purpose"]] if query["purpose"] else purposes
    per_purpose = [
        (key, stats.consent_stats(ctx, **(query | {"purpose": key}), unsuppressed=unsuppressed))
        for key in chosen
    ]
    range_query = query | {"interval": stats.WHOLE_RANGE, "start": start, "end": end}
    chosen_sites = [query["site"]] if query["site"] is not None else [*sites, stats.NO_SITE]
    names = sites | {stats.NO_SITE: str(NO_SITE_NAME)}
    per_site = []
    for key in chosen_sites:
        bucket = stats.consent_stats(ctx, **(range_query | {"site": key}), unsuppressed=unsuppressed)[
            "buckets"
        ][0]
        decided = None
        if all(bucket[n] is not None for n in ("grants", "denials", "withdrawals")):
            decided = bucket["grants"] + bucket["denials"] + bucket["withdrawals"]
        per_site.append(
            {"site": _site_param(key), "name": names.get(key, key), "decided": decided, "bucket": bucket}
        )
    requests_answer = request_stats.request_stats(ctx, start=start, end=end, unsuppressed=unsuppressed)
    types = [t | {"name": type_name(t["type"], language())} for t in requests_answer["types"]]
    labels = [_label(b, interval) for b in overall["buckets"]]
    charts: dict[str, dict[str, Any]] = {
        "optin": {
            "kind": "line",
            "percent": True,
            "labels": labels,
            "series": [
                {
                    "label": key,
                    "data": [
                        None if b["opt_in_rate"] is None else round(100 * b["opt_in_rate"], 1)
                        for b in a["buckets"]
                    ],
                }
                for key, a in per_purpose
            ],
        },
        "shares": {
            "kind": "bar",
            "stacked": True,
            "percent": True,
            "labels": [row["name"] for row in per_site],
            "series": [
                {
                    "label": str(SHARE_NAMES[m]),
                    "data": [
                        None
                        if row["bucket"]["methods"][m] is None
                        else round(100 * row["bucket"]["methods"][m], 1)
                        for row in per_site
                    ],
                }
                for m in SHARES
            ],
        },
        "withdrawals": {
            "kind": "bar",
            "labels": labels,
            "series": [
                {"label": str(_l("Withdrawals")), "data": [b["withdrawals"] for b in overall["buckets"]]}
            ],
        },
        "requests": {
            "kind": "bar",
            "labels": [t["name"] for t in types],
            "series": [
                {"label": str(_l("Received")), "data": [t["received"] for t in types]},
                {"label": str(_l("Completed")), "data": [t["completed"] for t in types]},
                {"label": str(_l("Overdue now")), "data": [t["overdue_now"] for t in types]},
            ],
        },
    }
    held_back = {
        "optin": any("opt_in_rate" in b["suppressed"] for _, a in per_purpose for b in a["buckets"]),
        "shares": any("methods" in row["bucket"]["suppressed"] for row in per_site),
        "withdrawals": any("withdrawals" in b["suppressed"] for b in overall["buckets"]),
        "requests": any({"received", "completed", "overdue_now"} & set(t["suppressed"]) for t in types),
    }
    for key, spec in charts.items():
        values = [value for series in spec["series"] for value in series["data"]]
        spec["state"] = _state(values, held_back[key], zero_is_data=spec.get("percent", False))
    return {
        "params": {
            "purpose": overall["purpose"] or "",
            "site": _site_param(overall["site"]),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "interval": interval,
        },
        "overall": overall,
        "labels": labels,
        "per_purpose": per_purpose,
        "per_site": per_site,
        "requests": requests_answer | {"types": types},
        "charts": charts,
        "range_query": range_query,
    }


def _names() -> tuple[list[str], dict[str, str]]:
    """The purposes' keys and the sites' names by id (a site is shown by its name)."""
    with context().uow(write=False) as uow:
        purposes = [p.key for p in list_purposes(uow.session)]
        sites = {s.id: s.name for s in list_sites(uow.session)}
    return purposes, sites


@blueprint.route("/statistics")
@requires("read")
def statistics() -> ResponseReturnValue:
    purposes, sites = _names()
    form = _filter(purposes, sites)
    unsuppressed = _unsuppressed()
    values: dict[str, Any] = {
        "form": form,
        "unsuppressed": unsuppressed,
        "min_subjects": context().config.stats_min_subjects,
        "share_names": SHARE_NAMES,
        "interval_names": INTERVAL_NAMES,
        "shares": SHARES,
        "section": "statistics",
    }
    if not form.validate():
        return render_template("console/statistics/index.html", board=None, **values), 400
    try:
        board = _dashboard(context(), _query(form), unsuppressed, purposes, sites)
    except InvalidInput as error:
        _form_errors(form, error)
        return render_template("console/statistics/index.html", board=None, **values), 400
    form.start.data, form.end.data = board["overall"]["start"], board["overall"]["end"]  # the range shown
    return render_template("console/statistics/index.html", board=board, **values)


def _csv(text: str, name: str) -> Response:
    return Response(
        text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


@blueprint.route("/statistics/consents.csv")
@requires("read")
def statistics_consents_csv() -> ResponseReturnValue:
    purposes, sites = _names()
    form = _filter(purposes, sites)
    form.interval.choices = [*form.interval.choices, SelectChoice(stats.WHOLE_RANGE, stats.WHOLE_RANGE)]
    if not form.validate():
        return Response(
            "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items()),
            400,
            mimetype="text/plain",
        )
    try:
        answer = stats.consent_stats(context(), unsuppressed=_unsuppressed(), **_query(form))
    except InvalidInput as error:
        return Response(str(error), 400, mimetype="text/plain")
    return _csv(stats.consent_csv(answer), "consent-statistics")


@blueprint.route("/statistics/requests.csv")
@requires("read")
def statistics_requests_csv() -> ResponseReturnValue:
    purposes, sites = _names()
    form = _filter(purposes, sites)
    if not form.validate():
        return Response(
            "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items()),
            400,
            mimetype="text/plain",
        )
    try:
        answer = request_stats.request_stats(
            context(), start=form.start.data, end=form.end.data, unsuppressed=_unsuppressed()
        )
    except InvalidInput as error:
        return Response(str(error), 400, mimetype="text/plain")
    return _csv(request_stats.request_csv(answer), "request-statistics")
