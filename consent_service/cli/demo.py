"""``consent-service demo``: demo purposes, cookies, a site and an admin client."""

from __future__ import annotations

import click

from consent_service.cli.base import _context, main


@main.command()
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="URL",
    help="an origin the demo site allows besides the defaults, e.g. http://127.0.0.1:8123 (repeatable)",
)
def demo(origins: tuple[str, ...]) -> None:
    """Seed demo purposes, cookies, a site, an admin client, a DPO login, a shop store, a person's
    consent and an access request; print them."""
    from consent_service.demo import seed, seed_console_login, seed_people

    ctx = _context()
    result = seed(ctx, origins)
    login = seed_console_login(ctx)
    people = seed_people(ctx)
    click.echo(f"demo purposes: {', '.join(result['purposes'])}")
    click.echo(f"demo cookies:  {', '.join(result['cookies'])}")
    click.echo(
        f"demo site key: {result['site']['site_key']}  (origins: {', '.join(result['site']['allowed_origins'])})"
    )
    click.echo(f"demo API token (all scopes): {result['token']}")
    click.echo(f"demo console login (role dpo): {login['email']} / {login['password']}")
    click.echo(
        f"demo person: {people['person']} (newsletter consent, an access request by e-mail awaiting verification; store {people['store']!r})"
    )
