"""``consent-service stats``: the consent counts behind the statistics."""

from __future__ import annotations

import click

from consent_service.cli.base import Group, _context, main
from consent_service.cli.progress import _run_with_progress


@main.group(cls=Group)
def stats() -> None:
    """Statistics: the consent counts kept with the ledger."""


@stats.command("rebuild")
def stats_rebuild() -> None:
    """Derive the consent counts again from the ledger alone (writers wait until it is done)."""
    from consent_service.ledger.stats import rebuild_counts

    ctx = _context()
    done = _run_with_progress("counted", "events", lambda progress: rebuild_counts(ctx, progress))
    click.echo(f"rebuilt consent counts: {done['cells']} cells, days in {done['time_zone']}")
    if done["time_zone_before"] != done["time_zone"]:
        click.echo(
            f"the counts were on days in {done['time_zone_before']} before; they are now on days in "
            f"{done['time_zone']} (CONSENT_TIMEZONE)"
        )
