"""``consent-service sites``: websites whose banners record consent, and their banner settings.

The commands call ``registry.sites`` as ``/v1/sites`` and the console's site form do; a settings
document is the JSON of ``PUT /v1/sites/<id>/banner`` (docs/banner-settings.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from consent_service.cli.base import Group, _context, main
from consent_service.errors import InvalidInput, UnknownReference


@main.group(cls=Group)
def sites() -> None:
    """Websites whose banners record consent."""


def _stop(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _settings_file(path: Path) -> dict[str, Any]:
    """The settings document in ``path``: a JSON object, or exit 1 saying what is wrong."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        _stop(f"{path}: not a readable JSON file ({exc})")
    if not isinstance(doc, dict):
        _stop(f"{path}: the banner settings must be a JSON object")
    return dict(doc)


def _refused(exc: InvalidInput | UnknownReference) -> NoReturn:
    """Each bad field on its own line, then exit 1 (an unknown site is the group's exit 2)."""
    click.echo(f"error: {exc.detail}", err=True)
    for field, messages in sorted((exc.errors or {}).items()):
        for message in messages:
            click.echo(f"  {field}: {message}", err=True)
    sys.exit(1)


def _recorder(ctx: Any) -> Any:
    from consent_service.auditlog.service import recorder
    from consent_service.registry.sites import REGISTRY_LOG

    return recorder(ctx, REGISTRY_LOG, "cli")


@sites.command("create")
@click.option("--name", required=True)
@click.option("--origin", "origins", multiple=True, required=True, help="e.g. https://www.example.org")
@click.option("--purpose", "purposes", multiple=True, help="a purpose the banner offers")
@click.option("--cookie", "cookies", multiple=True, help="a cookie the banner offers")
@click.option(
    "--banner",
    "banner_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="a JSON file with the banner settings",
)
def sites_create(
    name: str,
    origins: tuple[str, ...],
    purposes: tuple[str, ...],
    cookies: tuple[str, ...],
    banner_file: Path | None,
) -> None:
    """Register a site; prints its public site key for the banner."""
    from consent_service.registry.sites import register_site

    banner = _settings_file(banner_file) if banner_file else None
    ctx = _context()
    try:
        site = register_site(
            ctx,
            name=name,
            origins=origins,
            purposes=purposes,
            cookies=cookies,
            banner=banner,
            record=_recorder(ctx),
        )
    except (InvalidInput, UnknownReference) as exc:
        _refused(exc)
    click.echo(f"site {site['id']} ({site['name']}) origins: {' '.join(site['allowed_origins'])}", err=True)
    click.echo(site["site_key"])


@sites.command("list")
def sites_list() -> None:
    """List sites with their keys and offers."""
    from consent_service.registry.sites import read_sites

    for d in read_sites(_context()):
        click.echo(
            f"{d['id']}  {d['site_key']}  {d['name']}  origins={','.join(d['allowed_origins'])} "
            f"purposes={','.join(d['purposes'])} cookies={','.join(d['cookies'])}"
        )


@sites.command("show")
@click.argument("site_id")
def sites_show(site_id: str) -> None:
    """Print a site as JSON, with its whole banner settings document."""
    from consent_service.registry.sites import read_site

    click.echo(json.dumps(read_site(_context(), site_id), indent=2, default=str, ensure_ascii=False))


@sites.command("delete")
@click.argument("site_id")
def sites_delete(site_id: str) -> None:
    """Remove a site: its site key stops working; the consent recorded through it stays."""
    from consent_service.registry.sites import remove_site

    ctx = _context()
    remove_site(ctx, site_id, record=_recorder(ctx))
    click.echo(f"site {site_id} removed", err=True)


@sites.command("banner")
@click.argument("site_id")
@click.argument("settings_file", type=click.Path(path_type=Path, dir_okay=False))
def sites_banner(site_id: str, settings_file: Path) -> None:
    """Replace a site's banner settings with the JSON document in SETTINGS_FILE."""
    from consent_service.registry.sites import set_site_banner

    banner = _settings_file(settings_file)
    ctx = _context()
    try:
        site = set_site_banner(ctx, site_id, banner, record=_recorder(ctx))
    except (InvalidInput, UnknownReference) as exc:
        _refused(exc)
    click.echo(f"site {site['id']}: banner settings saved", err=True)
