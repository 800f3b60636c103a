"""``consent-service optin``: double opt-in housekeeping."""

from __future__ import annotations

import click

from consent_service.cli.base import Group, _context, main
from consent_service.optin import service as optin


@main.group(cls=Group, name="optin")
def optin_group() -> None:
    """Double opt-in confirmation links."""


@optin_group.command("purge")
def purge() -> None:
    """Delete confirmation links never confirmed once CONSENT_OPTIN_RETENTION has passed."""
    click.echo(f"deleted {optin.purge(_context()):,} unconfirmed confirmation links")
