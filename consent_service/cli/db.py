"""``consent-service db``: the database schema (Alembic migrations)."""

from __future__ import annotations

import click

from consent_service.cli.base import Group, _config, _redact, main


@main.group(cls=Group)
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from consent_service.files import secure_data_dir, sqlite_path
    from consent_service.migrate import upgrade

    config = _config()
    url = config.effective_database_url
    secure_data_dir(config.data_dir, sqlite_path(url))
    upgrade(url, revision)
    click.echo(f"database at revision {revision}: {_redact(url)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from consent_service.migrate import current

    click.echo(current(_config().effective_database_url) or "empty (run 'consent-service db upgrade')")
