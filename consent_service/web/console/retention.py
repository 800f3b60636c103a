"""The retention page: rules, legal holds and runs in one place, and the pages that change rules
and holds.

They call what ``/v1/retention/rules`` and ``/v1/holds`` call (``retention.service``): the rule is
validated against the registry and the stores there, a hold's audit entry lands with the hold,
and the staff account is the actor. Rules need ``registry:write``; holds ``request:manage``.
Retiring a rule and releasing a hold each have a confirmation page. Runs and the preview are in
``retention_runs``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _

from consent_service.errors import InvalidInput, NotFound
from consent_service.retention import runs
from consent_service.retention import service as retention
from consent_service.stores import registry
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, requires
from consent_service.web.console.retention_forms import (
    ACTION_NAMES,
    TRIGGER_SHORT,
    HoldForm,
    ReleaseForm,
    RetireForm,
    RuleForm,
    RunForm,
    map_errors,
    store_choices,
)
from consent_service.web.console.stores import actor, may, not_found, staff_name

RULES = "registry:write"
HOLDS = "request:manage"


def _zone() -> ZoneInfo:
    return ZoneInfo(context().config.timezone)


def _when(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return format_datetime(value, "medium")


def _stores() -> list[dict[str, Any]]:
    return registry.read_stores(context())


def rule_row(rule: dict[str, Any]) -> dict[str, Any]:
    trigger = rule["trigger"]
    return rule | {
        "trigger_name": TRIGGER_SHORT.get(trigger["type"], trigger["type"]),
        "trigger_detail": trigger.get("field") or trigger.get("purpose") or "",
        "action_name": ACTION_NAMES.get(rule["action"], rule["action"]),
    }


def hold_row(hold: dict[str, Any]) -> dict[str, Any]:
    state = "active" if hold["active"] else ("released" if hold["released_at"] else "ended")
    return hold | {
        "state": state,
        "ends": format_date(hold["ends_at"].astimezone(_zone()), "long") if hold["ends_at"] else "",
        "created": _when(hold["created_at"]),
        "released": _when(hold["released_at"]),
    }


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    return run | {
        "started": _when(run["started_at"]),
        "finished": _when(run["finished_at"]),
        "started_by_name": staff_name(run["started_by"]),
        "totals": (run.get("report") or {}).get("totals") or {},
    }


def overview(problem: str | None = None, status: int = 200) -> ResponseReturnValue:
    ctx = context()
    stores = _stores()
    run_form = RunForm()
    run_form.store.choices = store_choices(stores, _("All stores and the service's own data"))
    page = render_template(
        "console/retention/index.html",
        rules=[rule_row(r) for r in retention.read_rules(ctx, include_retired=True)],
        holds=[hold_row(h) for h in retention.read_holds(ctx)],
        runs=[run_row(r) for r in runs.list_runs(ctx, limit=20)],
        run_form=run_form,
        may_rules=may(RULES),
        may_holds=may(HOLDS),
        problem=problem,
        section="retention",
    )
    return page, status


@blueprint.route("/retention", endpoint="retention")
@requires("read")
def retention_page() -> ResponseReturnValue:
    return overview()


# Rules ----------------------------------------------------------------------------------------


def _rule_form(form: RuleForm, key: str | None) -> ResponseReturnValue:
    if form.validate_on_submit():
        try:
            retention.save_rule(context(), key or form.key.data or "", form.document(), actor=actor())
        except (InvalidInput, NotFound) as exc:
            map_errors(form, dict(exc.errors or {"key": [exc.detail]}), form.key)
        else:
            return redirect(url_for("console.retention") + "#rules")
    status = 422 if form.is_submitted() else 200
    return render_template("console/retention/rule.html", form=form, key=key, section="retention"), status


@blueprint.route("/retention/rules/new", methods=["GET", "POST"])
@requires(RULES)
def retention_rule_new() -> ResponseReturnValue:
    form = RuleForm()
    form.store.choices = store_choices(_stores(), _("Any store"))
    return _rule_form(form, None)


@blueprint.route("/retention/rules/<key>", methods=["GET", "POST"])
@requires(RULES)
def retention_rule_edit(key: str) -> ResponseReturnValue:
    try:
        rule = retention.read_rule(context(), key)
    except NotFound:
        return not_found()
    form = RuleForm()
    form.store.choices = store_choices(_stores(), _("Any store"))
    if not form.is_submitted():
        form.fill(rule)
    form.key.data = key  # the key names the rule: it is not changed here
    return _rule_form(form, key)


@blueprint.route("/retention/rules/<key>/retire", methods=["GET", "POST"])
@requires(RULES)
def retention_rule_retire(key: str) -> ResponseReturnValue:
    ctx = context()
    try:
        rule = retention.read_rule(ctx, key)
    except NotFound:
        return not_found()
    form = RetireForm()
    if form.validate_on_submit():
        retention.retire_rule(ctx, key)
        return redirect(url_for("console.retention") + "#rules")
    status = 422 if form.is_submitted() else 200
    return (
        render_template("console/retention/retire.html", form=form, rule=rule_row(rule), section="retention"),
        status,
    )


# Holds ----------------------------------------------------------------------------------------


@blueprint.route("/retention/holds/new", methods=["GET", "POST"])
@requires(HOLDS)
def retention_hold_new() -> ResponseReturnValue:
    form = HoldForm()
    form.store.choices = store_choices(_stores(), _("No store (a hold on a subject)"))
    if form.validate_on_submit():
        key = form.key.data or ""
        if key in {h["key"] for h in retention.read_holds(context())}:
            # placing a hold under an existing key would change that hold: refuse it here
            form.key.errors = [_("A hold with this key exists; choose another.")]
        else:
            try:
                retention.save_hold(context(), key, form.document(_zone()), actor=actor())
            except (InvalidInput, NotFound) as exc:
                map_errors(form, dict(exc.errors or {"key": [exc.detail]}), form.key)
            else:
                return redirect(url_for("console.retention") + "#holds")
    status = 422 if form.is_submitted() else 200
    return render_template("console/retention/hold.html", form=form, section="retention"), status


@blueprint.route("/retention/holds/<key>/release", methods=["GET", "POST"])
@requires(HOLDS)
def retention_hold_release(key: str) -> ResponseReturnValue:
    ctx = context()
    try:
        hold = retention.read_hold(ctx, key)
    except NotFound:
        return not_found()
    form = ReleaseForm()
    if hold["released_at"] is None and form.validate_on_submit():
        try:
            retention.release_hold(ctx, key, (form.reason.data or "").strip(), actor=actor())
        except InvalidInput as exc:
            map_errors(form, dict(exc.errors or {}), form.reason)
        else:
            return redirect(url_for("console.retention") + "#holds")
    status = 422 if form.is_submitted() else 200
    return (
        render_template(
            "console/retention/release.html", form=form, hold=hold_row(hold), section="retention"
        ),
        status,
    )
