"""``consent-service recipients``: the recipients told of changes, and how far each one following
consent changes has been told (``status``), or telling them now (``deliver``)."""

from __future__ import annotations

import json

import click

from consent_service.cli.base import Group, _context, main


@main.group(cls=Group)
def recipients() -> None:
    """Recipients told of changes (Art. 19) and of consent changes."""


@recipients.command("status")
def recipients_status() -> None:
    """Each consent subscription: its cursor, how far the ledger is ahead, its last error."""
    from consent_service.dsar.consent_hooks import status

    rows = status(_context())
    if not rows:
        click.echo("no recipient follows consent changes")
    for row in rows:
        error = (
            f"  attempts={row['attempts']} next={row['next_attempt_at'].isoformat()}"
            if row["attempts"]
            else ""
        )
        click.echo(
            f"{row['recipient']}  after_seq={row['after_seq']}  behind={row['behind']}{error}"
            f"  {row['last_error'] or ''}".rstrip()
        )


@recipients.command("deliver")
def recipients_deliver() -> None:
    """Send the consent webhooks that are due now (the worker does this periodically)."""
    from consent_service.dsar.consent_hooks import deliver

    click.echo(json.dumps(deliver(_context())))
