"""The ``consent-service`` command: database, keys, clients, sites, demo data, ledger, serve.

Every command reads the same ``CONSENT_*`` settings as the service, so without flags it works
on the same embedded SQLite database and key file as ``make run``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from consent_service.config import Config
from consent_service.errors import DomainError


def _config() -> Config:
    return Config.from_env()


def _context() -> Any:
    from consent_service.context import bootstrap

    return bootstrap(_config())


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            detail = exc.detail
            if exc.errors:
                detail += " " + json.dumps(exc.errors)
            _fail(detail, 2)


@click.group(cls=Group)
@click.version_option(package_name="consent_service")
def main() -> None:
    """Consent ledger, processing gate and data subject requests."""


# db ---------------------------------------------------------------------------------------
@main.group(cls=Group)
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from consent_service.migrate import upgrade

    url = _config().effective_database_url
    upgrade(url, revision)
    click.echo(f"database at revision {revision}: {_redact(url)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from consent_service.migrate import current

    click.echo(current(_config().effective_database_url) or "empty (run 'consent-service db upgrade')")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# keys -------------------------------------------------------------------------------------
@main.group(cls=Group)
def keys() -> None:
    """Master keys."""


@keys.command("init")
def keys_init() -> None:
    """Create the local key file (0600) if it does not exist."""
    from consent_service.crypto.keyring import LocalFileProvider

    config = _config()
    if config.master_keys:
        click.echo("keys come from CONSENT_MASTER_KEYS; nothing to create")
        return
    provider = LocalFileProvider(config.effective_key_file)
    if provider.init():
        click.echo(f"created key file {provider.path} (mode 600); back it up separately from the database")
    else:
        provider.load()
        click.echo(f"key file {provider.path} exists")


# clients ----------------------------------------------------------------------------------
@main.group(cls=Group)
def clients() -> None:
    """API clients and their tokens."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, help="repeat for several scopes")
def clients_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API client and print its token (shown only this once)."""
    from consent_service.auth.service import register_client

    client, token = register_client(_context(), name, list(scopes))
    click.echo(f"client {client['id']} ({client['name']}) scopes: {' '.join(client['scopes'])}", err=True)
    click.echo("token (shown once, store it now):", err=True)
    click.echo(token)


@clients.command("list")
def clients_list() -> None:
    """List API clients (never their tokens)."""
    from consent_service.auth.service import client_dict, list_clients

    ctx = _context()
    with ctx.uow(write=False) as uow:
        for c in list_clients(uow.session):
            d = client_dict(c)
            state = "revoked" if d["revoked_at"] else "active"
            click.echo(f"{d['id']}  {state:7}  {d['token_prefix']}…  {' '.join(d['scopes'])}  {d['name']}")


@clients.command("revoke")
@click.argument("client_id")
def clients_revoke(client_id: str) -> None:
    """Revoke a client's token."""
    from consent_service.auth.service import TOKEN_CACHE_SECONDS, revoke

    revoke(_context(), client_id)
    click.echo(f"revoked {client_id}; running workers refuse it within {TOKEN_CACHE_SECONDS:.0f} s")


# sites ------------------------------------------------------------------------------------
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
    from consent_service.registry.service import register_site

    site = register_site(_context(), name=name, origins=origins, purposes=purposes, cookies=cookies)
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


# demo -------------------------------------------------------------------------------------
@main.command()
def demo() -> None:
    """Seed demo purposes, cookies, a site and an admin client; print the demo token."""
    from consent_service.demo import seed

    result = seed(_context())
    click.echo(f"demo purposes: {', '.join(result['purposes'])}")
    click.echo(f"demo cookies:  {', '.join(result['cookies'])}")
    click.echo(
        f"demo site key: {result['site']['site_key']}  (origins: {', '.join(result['site']['allowed_origins'])})"
    )
    click.echo(f"demo API token (all scopes): {result['token']}")


# ledger -----------------------------------------------------------------------------------
@main.group(cls=Group)
def ledger() -> None:
    """Ledger audit and maintenance."""


@ledger.command("verify")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def ledger_verify(as_json: bool) -> None:
    """Verify the hash chain and checkpoints; exit 1 on any defect."""
    from consent_service.ledger.audit import verify

    ctx = _context()
    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and total:
            click.echo(f"\rverified {done:,}/{total:,} events ({100 * done // total}%)", err=True, nl=False)

    report = verify(ctx, progress)
    if show:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        click.echo(
            f"ledger OK: {report.events_checked} events, head seq {report.head_seq} "
            f"hash {report.head_hash}, {report.checkpoints_checked} checkpoints"
        )
    else:
        click.echo(f"ledger DEFECT at seq {report.first_bad_seq}: {report.problem}")
        for line in report.details[:20]:
            click.echo(f"  {line}")
    sys.exit(0 if report.ok else 1)


@ledger.command("rebuild-state")
def ledger_rebuild() -> None:
    """Rebuild the current-state projection from the ledger alone."""
    from consent_service.ledger import projection
    from consent_service.ledger.service import lock_head

    ctx = _context()
    with ctx.uow() as uow:
        lock_head(uow.session)
        rows = projection.rebuild(uow.session)
        uow.commit()
    click.echo(f"rebuilt consent state: {rows} rows")


@ledger.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write to a file")
def ledger_checkpoint(out: Path | None) -> None:
    """Sign a checkpoint of the current head and print (or write) it."""
    from consent_service.ledger.audit import latest_checkpoint

    doc = json.dumps(latest_checkpoint(_context()), indent=2)
    if out:
        out.write_text(doc + "\n")
        click.echo(f"checkpoint written to {out}")
    else:
        click.echo(doc)


@ledger.command("public-key")
def ledger_public_key() -> None:
    """Print the PEM public key that signs checkpoints and receipts."""
    click.echo(_context().signer.public_key_pem(), nl=False)


@ledger.command("check-checkpoint")
@click.argument("checkpoint", type=click.File("r"))
@click.option("--public-key", "public_key", required=True, help="PEM file, or base64 raw key")
def ledger_check_checkpoint(checkpoint: Any, public_key: str) -> None:
    """Check a checkpoint or receipt signature with the public key alone (no database)."""
    from consent_service.crypto.signing import load_public_key, verify_signed

    text = Path(public_key).read_text() if os.path.exists(public_key) else public_key
    try:
        key = load_public_key(text)
        document = json.load(checkpoint)
    except ValueError as exc:
        _fail(f"cannot read input: {exc}")
    if verify_signed(document, key):
        payload = document["payload"]
        click.echo(f"signature valid: seq {payload.get('seq')} head {payload.get('head_hash')}")
    else:
        _fail("signature INVALID")


# serve ------------------------------------------------------------------------------------
@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(bind: str, workers: int) -> None:
    """Serve the API with gunicorn."""
    args = [
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "consent_service.wsgi:app",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *args])
