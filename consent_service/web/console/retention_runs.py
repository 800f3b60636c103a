"""Retention runs in the console: the preview, starting a run, and a run's page.

They call what ``/v1/retention/preview`` and ``/v1/retention/runs`` call (``sweeper.preview``,
``runs.start_run``, ``runs.get_run``). Starting returns at once (the run goes to the task queue,
or runs here when none is wired, as the API does) and sends the browser to the run's page. While
the run is queued or running, its state and counts are a live region (``data-live``) that
``static/console.js`` fetches again every two seconds, loading the page once the run is done (no
timed reload, which WCAG 2.2.1 would not allow; without the script a link shows the counts). A real run (not a dry run) has a confirmation page that
says what it will do; only one run goes at a time.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consent_service.errors import Conflict, NotFound
from consent_service.retention import runs, sweeper
from consent_service.stores import registry
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, requires
from consent_service.web.console.retention import HOLDS, _when, overview, run_row
from consent_service.web.console.retention_forms import RealRunForm, RunForm, store_choices
from consent_service.web.console.stores import actor, not_found

UNFINISHED = ("queued", "running")
SERVICE_STEPS = {
    "proofs": _l("Proofs of consent (address, browser, page)"),
    "verification_codes": _l("Verification codes"),
    "outbox": _l("Messages sent"),
    "packages": _l("Access packages"),
    "request_contacts": _l("Contact data of requesters"),
    "subjects": _l("Subjects with nothing left to keep"),
}
COUNTS = ("candidates", "deleted", "anonymised", "shredded", "held")


def _start(store: str | None, *, dry_run: bool) -> ResponseReturnValue | None:
    """Start a run and send the browser to its page; None when another run is in progress."""
    try:
        run = runs.start_run(context(), dry_run=dry_run, store=store or None, started_by=actor())
    except Conflict:
        return None
    return redirect(url_for("console.retention_run", run_id=run["id"]))


def _busy() -> str:
    return _("A retention run is in progress. Wait for it to finish, then start another.")


@blueprint.route("/retention/runs", methods=["POST"])
@requires(HOLDS)
def retention_run_start() -> ResponseReturnValue:
    """Start a dry run (it changes nothing, so it needs no confirmation)."""
    form = RunForm()
    form.store.choices = store_choices(registry.read_stores(context()), _("All stores"))
    if not form.validate_on_submit():
        return overview(_("Choose one of the registered stores."), 422)
    return _start(form.store.data, dry_run=True) or overview(_busy(), 409)


@blueprint.route("/retention/runs/real", methods=["GET", "POST"])
@requires(HOLDS)
def retention_run_confirm() -> ResponseReturnValue:
    """Start a real run after a confirmation that names what it does."""
    form = RealRunForm()
    form.store.choices = store_choices(
        registry.read_stores(context()), _("All stores and the service's own data")
    )
    problem = None
    if form.validate_on_submit():
        started = _start(form.store.data, dry_run=False)
        if started is not None:
            return started
        problem = _busy()
    status = 409 if problem else 422 if form.is_submitted() else 200
    return (
        render_template(
            "console/retention/run_confirm.html", form=form, problem=problem, section="retention"
        ),
        status,
    )


@blueprint.route("/retention/runs/<run_id>")
@requires("read")
def retention_run(run_id: str) -> ResponseReturnValue:
    try:
        run = runs.get_run(context(), run_id)
    except NotFound:
        return not_found()
    report = run.get("report") or {}
    unfinished = run["state"] in UNFINISHED
    return render_template(
        "console/retention/run.html",
        run=run_row(run) | {"report": report},
        unfinished=unfinished,
        report=_report(report),
        section="retention",
    )


@blueprint.route("/retention/preview")
@requires("read")
def retention_preview() -> ResponseReturnValue:
    """What a run would do now (a dry run that is not recorded)."""
    report = sweeper.preview(context())
    return render_template("console/retention/preview.html", report=_report(report), section="retention")


def _report(report: dict[str, Any]) -> dict[str, Any]:
    """A sweep report as the pages show it: per rule and collection, counts, and what was left out."""
    service = report.get("service") or {}
    return {
        "rules": report.get("rules") or [],
        "skipped": report.get("skipped") or [],
        "holds": report.get("holds") or [],
        "service": [
            (SERVICE_STEPS.get(step, step), counts)
            for step, counts in service.items()
            if isinstance(counts, dict)
        ],
        "totals": report.get("totals") or {},
        "now": _when(report.get("now")),
        "counts": COUNTS,
    }
