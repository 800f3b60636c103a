"""``consent-service sites``: websites whose banners record consent."""

from __future__ import annotations

import click

from consent_service.cli.base import Group, _context, main


@main.group(cls=Group)
def sites() -> None:
    """Websites whose banners record consent."""


@sites.command("create")
@click.option("--name", required=True)
@click.option("--origin", "origins", multiple=True, required=True, help="e.g. https://www.example.org")
@click.option("--purpose", "purposes", multiple=True, help="a purpose the banner offers")
@click.option("--cookie", "cookies", multiple=True, help="a cookie the banner offers")
def sites_create(
    name: str, origins: tuple[str, ...], purposes: tuple[str, ...], cookies: tuple[str, ...]
) -> None:
    """Register a site; prints its public site key for the banner."""
    from consent_service.auditlog.service import recorder
    from consent_service.registry.service import REGISTRY_LOG, register_site

    ctx = _context()
    record = recorder(ctx, REGISTRY_LOG, "cli")
    site = register_site(ctx, name=name, origins=origins, purposes=purposes, cookies=cookies, record=record)
    click.echo(f"site {site['id']} ({site['name']}) origins: {' '.join(site['allowed_origins'])}", err=True)
    click.echo(site["site_key"])


@sites.command("list")
def sites_list() -> None:
    """List sites with their keys and offers."""
    from consent_service.registry.service import list_sites, site_dict

    ctx = _context()
    with ctx.uow(write=False) as uow:
        for s in list_sites(uow.session):
            d = site_dict(s)
            click.echo(
                f"{d['id']}  {d['site_key']}  {d['name']}  origins={','.join(d['allowed_origins'])} "
                f"purposes={','.join(d['purposes'])} cookies={','.join(d['cookies'])}"
            )
