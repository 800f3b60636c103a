"""``consent-service retention``: run and inspect the sweeper, verify its log."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from consent_service.cli.base import Group, _context, main
from consent_service.cli.progress import _SweepProgress


@main.group(cls=Group)
def retention() -> None:
    """Retention rules, legal holds and the sweeper."""


def _print_report(report: dict[str, Any]) -> None:
    if not report.get("rules") and not report.get("skipped"):
        click.echo("no active retention rule reaches a registered SQL or Redis store")
    for entry in report.get("rules", []):
        where = f"{entry['store']}.{entry['collection']}" if entry["store"] else "subjects"
        counts = "  ".join(
            f"{name} {entry.get(name, 0):,}"
            for name in ("candidates", "deleted", "anonymised", "shredded", "held")
        )
        click.echo(f"{entry['rule']} v{entry['version']}  {where}  {entry['status']}  {counts}")
        for hold in entry.get("held_by", []):
            click.echo(f"    held: {hold.get('key')}: {hold.get('reason')}")
        for error in entry.get("errors", []):
            click.echo(f"    error: {error}")
        if entry.get("note"):
            click.echo(f"    {entry['note']}")
    for note in report.get("skipped", []):
        where = ".".join(x for x in (note.get("store"), note.get("collection")) if x)
        click.echo(f"{note['rule']}  {where or '-'}  skipped: {note['reason']}")
    for name, counts in (report.get("service") or {}).items():
        click.echo(f"service data: {name}  " + "  ".join(f"{k} {v:,}" for k, v in counts.items()))


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="count what is due, change nothing (the run is still logged)")
@click.option("--store", default=None, help="sweep only this store (the service's own data is then left out)")
@click.option("--json", "as_json", is_flag=True, help="print the run with its report as JSON")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="records per transaction (default: adapts to about 40 ms per transaction)",
)
def retention_run(dry_run: bool, store: str | None, as_json: bool, batch_size: int | None) -> None:
    """Apply the retention rules now; exit 1 if a step failed. Safe to rerun after a crash."""
    from consent_service.retention.runs import run_now

    progress = _SweepProgress()
    try:
        run = run_now(
            _context(),
            dry_run=dry_run,
            store=store,
            started_by="cli",
            progress=progress,
            batch_size=batch_size,
        )
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(run, indent=2, default=str))
    else:
        _print_report(run["report"])
        totals = run["report"].get("totals", {})
        click.echo(
            f"run {run['id']}: {run['state']}{' (dry run)' if dry_run else ''}; "
            + ", ".join(f"{k} {v:,}" for k, v in totals.items())
            + f"; logged as retention #{run['audit_seq']}"
        )
    sys.exit(1 if run["report"].get("totals", {}).get("errors") else 0)


@retention.command("preview")
@click.option("--store", default=None)
@click.option("--json", "as_json", is_flag=True)
def retention_preview(store: str | None, as_json: bool) -> None:
    """Show what a run would do now, without recording anything."""
    from consent_service.retention.sweeper import preview

    report = preview(_context(), store)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report)


@retention.command("runs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def retention_runs(limit: int) -> None:
    """List the latest runs."""
    from consent_service.retention.runs import list_runs

    for run in list_runs(_context(), limit=limit):
        totals = run["report"].get("totals") or {}
        click.echo(
            f"{run['id']}  {run['started_at']:%Y-%m-%d %H:%M}  {run['state']:11} "
            f"{'dry ' if run['dry_run'] else ''}{run['store'] or 'all stores'}  "
            + ", ".join(f"{k} {v}" for k, v in totals.items())
        )


@retention.command("show")
@click.argument("run_id")
def retention_show(run_id: str) -> None:
    """Show one run with its report (JSON)."""
    from consent_service.retention.runs import get_run

    click.echo(json.dumps(get_run(_context(), run_id), indent=2, default=str))


@retention.command("verify-log")
def retention_verify_log() -> None:
    """Verify the hash chain of the run reports (and of the holds log); exit 1 if broken."""
    from consent_service.auditlog.service import verify

    ctx = _context()
    broken = False
    for log in ("retention", "holds"):
        with ctx.uow(write=False) as uow:
            report = verify(uow.session, log)
        click.echo(f"{log}: {report.events_checked} entries, " + ("OK" if report.ok else "BROKEN"))
        for problem in report.details[:10]:
            click.echo(f"    {problem}")
        broken = broken or not report.ok
    sys.exit(1 if broken else 0)
