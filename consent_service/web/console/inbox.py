"""The requests inbox: open requests with their deadlines, filtered by a GET form.

It lists what ``dsar.request_views.list_requests`` (the function behind ``GET /v1/requests``)
returns; without a state filter it shows the open requests only. Deadlines are counted in days
of the controller's time zone: "due in 5 days", "due today", "overdue by 2 days".
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, ngettext
from flask_babel import gettext as _

from consent_service.dsar.request_views import list_requests
from consent_service.dsar.requests import OPEN_STATES
from consent_service.staff import service as staff
from consent_service.web.console import blueprint
from consent_service.web.console.forms import STATE_NAMES, TYPE_NAMES, InboxFilter
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.console.request_forms import SearchForm


def days_left(due: dt.datetime, now: dt.datetime, zone: ZoneInfo) -> int:
    """Whole days from today to the due day, both in the controller's time zone (negative: late)."""
    return (_aware(due).astimezone(zone).date() - now.astimezone(zone).date()).days


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def deadline_text(days: int) -> str:
    if days > 0:
        return ngettext("due in %(num)d day", "due in %(num)d days", days)
    if days == 0:
        return _("due today")
    return ngettext("overdue by %(num)d day", "overdue by %(num)d days", -days)


def request_row(request_: dict[str, Any], now: dt.datetime, zone: ZoneInfo) -> dict[str, Any]:
    """A request as lists and its page show it: names in the page's language, dates, deadline."""
    days = days_left(request_["due_at"], now, zone)
    is_open = request_["state"] in OPEN_STATES
    return request_ | {
        "type_name": TYPE_NAMES.get(request_["type"], request_["type"]),
        "state_name": STATE_NAMES.get(request_["state"], request_["state"]),
        "received": format_date(_aware(request_["received_at"]), "long"),
        "due": format_date(_aware(request_["due_at"]), "long"),
        "deadline": deadline_text(days) if is_open else "",
        "urgency": ("overdue" if days < 0 else "soon" if days <= 7 else "") if is_open else "",
        "closed": format_date(_aware(request_["closed_at"]), "long") if request_["closed_at"] else "",
    }


@blueprint.route("/requests")
@requires("read")
def inbox() -> ResponseReturnValue:
    return render_inbox(InboxFilter(request.args), SearchForm(formdata=None))


def render_inbox(form: InboxFilter, search: SearchForm) -> str:
    """The inbox filtered by ``form``, with the search form (``requests.search_requests``)."""
    ctx = context()
    filters: dict[str, Any] = {}
    if form.validate():
        filters = {
            "type": form.type.data or None,
            "state": form.state.data or None,
            "overdue": bool(form.overdue.data),
            "due_within": form.due_within.data or None,
        }
    found = list_requests(ctx, **filters)
    if not filters.get("state"):
        found = [r for r in found if r["state"] in OPEN_STATES]
    now, zone = ctx.now(), ZoneInfo(ctx.config.timezone)
    rows = [request_row(r, now, zone) for r in found]
    filtered = any(filters.values())
    return render_template(
        "console/inbox.html",
        form=form,
        search=search,
        rows=rows,
        filtered=filtered,
        can_open=staff.can(current_user()["role"], "request:open"),  # type: ignore[index]
        section="requests",
    )
