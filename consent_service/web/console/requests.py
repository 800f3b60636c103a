"""The request pages: search (a POST form on the inbox), a new request entered by hand, and the
request page with its timeline, messages, stores, result and actions (``request_actions``).

Each page calls the function the API calls for the same thing: ``request_views.show`` (GET
/v1/requests/<id>), ``request_views.reports``, ``tasks.list_tasks``, ``requests.open_request``
(POST /v1/requests); the search by identity is ``request_views.requests_of``. Identities are
shown masked as the audit trail masks them (``verified.masked``); no personal data is put in a URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, get_flashed_messages, redirect, render_template, url_for
from flask import request as flask_request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_datetime
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, FieldList, FormField

from consent_service.dsar import request_views, tasks, verified
from consent_service.dsar import requests as dsar
from consent_service.dsar.requests import EXECUTED
from consent_service.errors import DomainError, NotFound
from consent_service.staff import service as staff
from consent_service.subjects.service import IdentityRef
from consent_service.web.console import blueprint
from consent_service.web.console.forms import STATE_NAMES, InboxFilter
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.console.inbox import _aware, render_inbox, request_row
from consent_service.web.console.request_forms import (
    IDENTITY_NAMES,
    LANGUAGE_NAMES,
    ExtendForm,
    NewCodeForm,
    NewRequestForm,
    RefuseForm,
    RunForm,
    SearchForm,
    TaskForm,
    VerifyForm,
    service_errors,
)

VERIFICATION_NAMES = {
    verified.BY_CODE: _l("verified by e-mail code"),
    verified.BY_DPO: _l("verified by the DPO"),
    verified.LINKED: _l("linked to a verified identity"),
    verified.PENDING: _l("not verified"),
}
MESSAGE_STATES = {
    "pending": _l("waiting to be sent"),
    "sending": _l("being sent"),
    "sent": _l("sent"),
    "dead": _l("could not be sent"),
    "deleted": _l("sent, since deleted"),
    "not_sent": _l("not sent: no e-mail address; tell the person by post"),
}
MESSAGE_KINDS = {
    "received": _l("Confirmation of receipt"),
    "verification_code": _l("Verification code"),
    "extended": _l("Extension of the deadline"),
    "refused": _l("Refusal"),
    "completed_access": _l("Access: the data is ready"),
    "completed_portability": _l("Portability: the data is ready"),
    "completed_erasure": _l("Erasure done"),
    "completed_rectification": _l("Rectification done"),
    "restriction_applied": _l("Restriction in force"),
    "restriction_lifted": _l("Restriction lifted"),
    "objection_in_force": _l("Objection in force"),
}
EVENT_NAMES = {
    "received": _l("Request received"),
    "person_message": _l("Message from the person"),
    "transition": _l("State changed"),
    "identities_verified": _l("Identities verified"),
    "wrong_code": _l("Wrong verification code"),
    "code_resent": _l("New verification code sent"),
    "extended": _l("Deadline extended"),
    "message_queued": _l("Message to the person"),
    "person_not_told": _l("Person not told by e-mail"),
    "retry_requested": _l("Run requested"),
    "store_completed": _l("Store done"),
    "store_pending": _l("Store waits"),
    "store_failed": _l("Store failed"),
    "package_created": _l("Package created"),
    "task_completed": _l("Manual task completed"),
    "kept_under_hold": _l("Kept under legal hold"),
}
STORE_STATES = {
    "done": _l("done"),
    "pending": _l("waiting for a manual task"),
    "accepted": _l("waiting for the store's answer"),
    "failed": _l("failed"),
}
ERASURE_ACTIONS = {
    "delete": _l("deleted"),
    "update": _l("anonymised"),
    "keep": _l("kept (not personal data to erase)"),
    "hold": _l("kept under a hold"),
}


def _date(value: dt.datetime | None, time: bool = False) -> str:
    if value is None:
        return ""
    return format_datetime(_aware(value), "medium") if time else format_date(_aware(value), "long")


def not_found() -> ResponseReturnValue:
    return render_template("console/error.html", kind="not_found"), 404


def form_fields(form: FlaskForm) -> list[Field]:
    """The fields of a form, those of its lists of sub-forms one by one (for the error summary)."""
    out: list[Field] = []
    for f in form:
        if isinstance(f, FieldList):
            for entry in f:
                out.extend(entry.form if isinstance(entry, FormField) else [entry])
        elif f.name != "csrf_token":
            out.append(f)
    return out


# Search --------------------------------------------------------------------------------------


@blueprint.route("/requests/search", methods=["GET", "POST"])
@requires("read")
def search_requests() -> ResponseReturnValue:
    """Find requests by id or by an identity. A POST that changes nothing: "read" is enough. The
    results have no address of their own (GET, e.g. after switching the language: the inbox)."""
    if flask_request.method == "GET":
        return redirect(url_for("console.inbox"))
    form = SearchForm()
    if not form.validate_on_submit():
        return _inbox_with(form), 400
    request_id = (form.request_id.data or "").strip()
    if request_id:
        try:
            request_views.show(context(), request_id)
        except NotFound:
            return render_template("console/requests/search.html", search=form, rows=[], section="requests")
        return redirect(url_for("console.request", request_id=request_id))
    identity = IdentityRef(form.identity_type.data, form.identity_value.data.strip())
    found = request_views.requests_of(context(), identity)
    return render_template("console/requests/search.html", search=form, rows=_rows(found), section="requests")


def _rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ctx = context()
    now, zone = ctx.now(), ZoneInfo(ctx.config.timezone)
    return [request_row(r, now, zone) for r in found]


def _inbox_with(search: SearchForm) -> str:
    """The inbox with the search form as sent (its errors shown)."""
    return render_inbox(InboxFilter(formdata=None), search)


# New request -----------------------------------------------------------------------------------


@blueprint.route("/requests/new", methods=["GET", "POST"])
@requires("request:open")
def new_request() -> ResponseReturnValue:
    form = NewRequestForm()
    if not form.is_submitted():
        form.language.data = context().config.default_language
        return _new_page(form)
    user = current_user()
    assert user is not None  # requires() let only the signed-in in
    if form.verify.data and not staff.can(user["role"], "request:verify"):
        return render_template("console/error.html", kind="forbidden"), 403
    valid = form.validate()
    changes = form.given_changes()
    if not valid or changes is None:
        return _new_page(form), 400
    ctx = context()
    zone = ZoneInfo(ctx.config.timezone)
    received_on: dt.date = form.received_on.data
    command = dsar.OpenRequest(
        type=form.type.data,
        identities=[IdentityRef(kind, value) for kind, value in form.given_identities()],
        verification={"method": "dpo", "note": form.note.data or ""}
        if form.verify.data
        else {"method": "email"},
        purposes=form.given_purposes(),
        changes=changes,
        # the start of that day in the controller's time zone: today is never "in the future"
        received_at=dt.datetime.combine(received_on, dt.time(), zone),
        language=form.language.data,
    )
    try:
        opened = dsar.open_request(ctx, command, actor=user["id"])
    except DomainError as exc:
        first = form.identities[0].form.value
        left = service_errors(
            form,
            exc.errors,
            {"received_at": form.received_on, "identities": first, "verification": form.note},
        )
        return _new_page(form, [exc.detail] if not exc.errors else left), 422
    flash(str(_l("The request was opened.")))
    return redirect(url_for("console.request", request_id=opened["id"]))


def _new_page(form: NewRequestForm, problems: list[Any] | None = None) -> str:
    return render_template(
        "console/requests/new.html",
        form=form,
        fields=form_fields(form),
        problems=problems or [],
        section="requests",
    )


# The request page ------------------------------------------------------------------------------


@blueprint.route("/requests/<request_id>")
@requires("read")
def request(request_id: str) -> ResponseReturnValue:
    return render_request(request_id)


def render_request(
    request_id: str, forms: dict[str, FlaskForm] | None = None, problem: Any = None, status: int = 200
) -> ResponseReturnValue:
    """The request page; ``forms`` replace the side panel's empty forms (a form sent with errors,
    ``problem`` the error of the action that no field takes)."""
    ctx = context()
    try:
        shown = request_views.show(ctx, request_id)
    except NotFound:
        return not_found()
    now, zone = ctx.now(), ZoneInfo(ctx.config.timezone)
    user = current_user()
    assert user is not None
    stores = request_views.stores_of(ctx, request_id)
    open_tasks = [t for t in tasks.list_tasks(ctx, request_id) if t["state"] == "open"]
    panel: dict[str, FlaskForm] = {
        "verify": VerifyForm(formdata=None),
        "extend": ExtendForm(formdata=None),
        "refuse": RefuseForm(formdata=None),
        "run": RunForm(formdata=None),
        "code": NewCodeForm(formdata=None),
    } | {f"task-{t['id']}": TaskForm(formdata=None, prefix=t["id"]) for t in open_tasks}
    panel |= forms or {}
    staff_names = {u["id"]: u["email"] for u in staff.list_users(ctx)}
    package_ready = shown["type"] in ("access", "portability") and any(
        e["action"] == "package_created" for e in shown["audit_trail"]
    )
    values = {
        "req": _header(shown, now, zone),
        "identities": _identities(shown["identities"]),
        "timeline": [_event(e, staff_names) for e in reversed(shown["audit_trail"])],
        "messages": [_message(m) for m in shown["messages"]],
        "stores": [_store(r) for r in stores],
        "open_tasks": open_tasks,
        "forms": panel,
        "problem": problem,
        "package_ready": package_ready,
        "can": {action: staff.can(user["role"], action) for action in staff.ACTIONS},
        "runs_on_stores": shown["type"] in EXECUTED,
        "code": _code(request_views.code_state(ctx, request_id), now),
        "confirmations": get_flashed_messages(),
        "section": "requests",
    }
    return render_template("console/requests/show.html", **values), status


def _code(state: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any] | None:
    """The request's e-mail code as the page shows it: until when it works, or that it expired."""
    if state is None:
        return None
    expires = _aware(state["expires_at"])
    return {
        "expires": format_datetime(expires, "medium"),
        "expired": expires <= now,
        "locked": state["locked"],
    }


def _header(req: dict[str, Any], now: dt.datetime, zone: ZoneInfo) -> dict[str, Any]:
    return request_row(req, now, zone) | {
        "language_name": LANGUAGE_NAMES.get(req["language"], req["language"])
    }


def _identities(identities: Any) -> list[dict[str, Any]] | None:
    """Masked identities with their verification; None once they can no longer be read."""
    if not isinstance(identities, list):
        return None
    return [
        {
            "kind": IDENTITY_NAMES.get(i["type"], i["type"]),
            "value": verified.masked(i["value"]),
            "verification": i["verification"],
            "verification_name": VERIFICATION_NAMES.get(i["verification"], i["verification"]),
        }
        for i in identities
    ]


def _name(names: dict[str, Any], key: Any) -> str:
    return str(names.get(str(key), key))


def _event(entry: dict[str, Any], staff_names: dict[str, str]) -> dict[str, Any]:
    details = entry["details"] or {}
    what = ""
    if entry["action"] == "transition":
        what = f"{_name(STATE_NAMES, details.get('from'))} → {_name(STATE_NAMES, details.get('to'))}"
    elif entry["action"] == "message_queued":
        what = _name(MESSAGE_KINDS, details.get("kind"))
    elif entry["action"].startswith("store_"):
        what = str(details.get("store", ""))
    elif entry["action"] == "person_message":
        what = str(details.get("note") or "")  # opened by ``request_views.show``; the person's words
    elif entry["action"] == "extended":
        what = (
            format_date(dt.datetime.fromisoformat(details["due_at"]), "long") if details.get("due_at") else ""
        )
    actor = entry["actor"]
    return {
        "when": _date(entry["recorded_at"], time=True),
        "what": EVENT_NAMES.get(entry["action"], entry["action"].replace("_", " ")),
        "detail": what,
        "who": staff_names.get(actor, actor),
        "by_staff": actor in staff_names,
    }


def _message(message: dict[str, Any]) -> dict[str, Any]:
    return message | {
        "kind_name": MESSAGE_KINDS.get(message["kind"], message["kind"]),
        "state_name": MESSAGE_STATES.get(message["state"], message["state"]),
        "language_name": LANGUAGE_NAMES.get(message["language"], message["language"] or ""),
        "when": _date(message["queued_at"], time=True),
    }


def _store(run: dict[str, Any]) -> dict[str, Any]:
    report = run["report"] or {}
    collections = [
        c
        | {
            "action_name": ERASURE_ACTIONS.get(c.get("action", ""), c.get("action", "")),
            "hold_reason": (c.get("hold") or {}).get("reason", ""),
        }
        for c in report.get("collections", [])
        if isinstance(c, dict)
    ]
    return {
        "store": run["store"],
        "status": run["status"],
        "status_name": STORE_STATES.get(run["status"], run["status"]),
        "when": _date(run["updated_at"], time=True),
        "collections": collections,
        "error": run["detail"].get("error", ""),
        "nothing_found": bool(report.get("note")),
    }
