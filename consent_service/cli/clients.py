"""``consent-service clients``: API clients and their tokens."""

from __future__ import annotations

import click

from consent_service.cli.base import Group, _context, main


@main.group(cls=Group)
def clients() -> None:
    """API clients and their tokens."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, help="repeat for several scopes")
def clients_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API client and print its token (shown only this once)."""
    from consent_service.auth.service import register_client

    client, token = register_client(_context(), name, list(scopes), actor="cli")
    scope_list = " ".join(str(s) for s in client["scopes"])  # type: ignore[attr-defined]
    click.echo(f"client {client['id']} ({client['name']}) scopes: {scope_list}", err=True)
    click.echo("token (shown once, store it now):", err=True)
    click.echo(token)


@clients.command("list")
def clients_list() -> None:
    """List API clients (never their tokens)."""
    from consent_service.auth.service import clients as all_clients

    for d in all_clients(_context()):
        state = "revoked" if d["revoked_at"] else "active"
        scope_list = " ".join(str(s) for s in d["scopes"])  # type: ignore[attr-defined]
        click.echo(f"{d['id']}  {state:7}  {d['token_prefix']}…  {scope_list}  {d['name']}")


@clients.command("revoke")
@click.argument("client_id")
def clients_revoke(client_id: str) -> None:
    """Revoke a client's token."""
    from consent_service.auth.service import TOKEN_CACHE_SECONDS, revoke

    revoke(_context(), client_id, actor="cli")
    click.echo(f"revoked {client_id}; running workers refuse it within {TOKEN_CACHE_SECONDS:.0f} s")
