"""``consent-service requests``, ``outbox`` and ``deadlines``: data subject requests, their
manual tasks and packages, the messages waiting to be sent, and the legal deadlines."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from consent_service.cli.base import Group, _config, _context, _fail, main


@main.group(cls=Group)
def requests() -> None:
    """Data subject requests."""


@requests.command("list")
@click.option("--overdue", is_flag=True, help="only open requests past their deadline")
@click.option("--state", default=None)
@click.option("--type", "type_", default=None)
def requests_list(overdue: bool, state: str | None, type_: str | None) -> None:
    """List requests, soonest due first."""
    from consent_service.dsar.request_views import list_requests

    rows = list_requests(_context(), overdue=overdue, state=state, type=type_)
    for r in rows:
        flag = "OVERDUE" if r["overdue"] else ""
        click.echo(f"{r['id']}  {r['type']:13} {r['state']:16} due {r['due_at']:%Y-%m-%d}  {flag}")
    if not rows:
        click.echo("no requests")


@main.command("deadlines")
@click.argument("received_date")
@click.option(
    "--calendar",
    "code",
    default=None,
    help="holiday calendar (DE, DE-BY, FR, IE, none…); default CONSENT_HOLIDAYS",
)
def deadlines(received_date: str, code: str | None) -> None:
    """Print the deadlines of a request received on RECEIVED_DATE (JSON, ISO dates)."""
    from consent_service.calendars import CalendarError, calendar
    from consent_service.dsar.deadlines import deadlines_for, parse_received

    config = _config()
    try:
        calendar("none", config.timezone)
    except CalendarError as exc:
        _fail(f"CONSENT_TIMEZONE: {exc}", 2)
    try:
        cal = calendar(config.holidays if code is None else code, config.timezone)
    except CalendarError as exc:
        _fail(f"CONSENT_HOLIDAYS: {exc}" if code is None else f"--calendar: {exc}", 2)
    try:
        found = deadlines_for(parse_received(received_date, cal), cal)
    except ValueError as exc:
        _fail(str(exc), 2)
    click.echo(json.dumps(found.as_json()))


@requests.command("show")
@click.argument("request_id")
def requests_show(request_id: str) -> None:
    """Show a request with its audit trail (JSON)."""
    from consent_service.dsar.request_views import show

    click.echo(json.dumps(show(_context(), request_id), indent=2, default=str))


@requests.command("run")
@click.argument("request_id")
@click.option("--actor", default="cli", show_default=True, help="who runs it, for the audit trail")
def requests_run(request_id: str, actor: str) -> None:
    """Execute (or resume) a verified request across the stores; exit 1 if it failed."""
    from consent_service.dsar.execution import run_request

    def progress(store: str, status: str, detail: dict[str, Any]) -> None:
        click.echo(f"{store}: {status}  {json.dumps(detail, default=str)}")

    result = run_request(_context(), request_id, actor=actor, progress=progress)
    state = result["request"]["state"]
    pending = result.get("pending")
    click.echo(f"request {request_id}: {state}" + (f" (pending: {', '.join(pending)})" if pending else ""))
    if state == "failed" and result["request"].get("failure_reason"):
        click.echo(f"reason: {result['request']['failure_reason']}")
    sys.exit(1 if state == "failed" else 0)


@requests.command("tasks")
@click.argument("request_id")
def requests_tasks(request_id: str) -> None:
    """List a request's manual tasks (open and done)."""
    from consent_service.dsar.tasks import list_tasks

    rows = list_tasks(_context(), request_id)
    for t in rows:
        due = f"due {t['due_at']:%Y-%m-%d}" if t["due_at"] else ""
        click.echo(f"{t['id']}  {t['store']:16} {t['state']:5} {due}  {t['instructions']}")
        if t["state"] == "done":
            click.echo(f"    done by {t['done_by']} at {t['done_at']:%Y-%m-%d %H:%M}: {t['note']}")
    if not rows:
        click.echo("no tasks")


@requests.command("complete-task")
@click.argument("request_id")
@click.argument("task_id")
@click.option("--note", required=True, help="what was done (kept in the request's audit trail)")
@click.option("--actor", default="cli", show_default=True, help="who did it, for the audit trail")
def requests_complete_task(request_id: str, task_id: str, note: str, actor: str) -> None:
    """Close a manual task; the request completes when nothing else is pending."""
    from consent_service.dsar.tasks import complete_task

    result = complete_task(_context(), request_id, task_id, note=note, actor=actor)
    click.echo(f"task {task_id}: done; request {request_id}: {result['request']['state']}")


@main.group(cls=Group)
def outbox() -> None:
    """Messages waiting to be sent (e-mails)."""


@outbox.command("list")
def outbox_list() -> None:
    """Messages not sent yet, with their last error."""
    from consent_service.dsar.outbox import pending

    for m in pending(_context()):
        click.echo(
            f"{m['id']}  {m['kind']}  {m['state']:8} attempts={m['attempts']}  {m['last_error'] or ''}"
        )


@requests.command("purge-packages")
def requests_purge_packages() -> None:
    """Delete access packages past their retention (the worker does this periodically)."""
    from consent_service.dsar.package import purge_expired

    click.echo(f"purged {purge_expired(_context())} expired package(s)")


@outbox.command("deliver")
def outbox_deliver() -> None:
    """Send every message that is due now."""
    from consent_service.dsar.outbox import deliver

    click.echo(json.dumps(deliver(_context())))
