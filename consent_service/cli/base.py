"""The root ``consent-service`` group and what every command group shares: the settings, the
wired context, failing with a message and exit code, and the group class that turns a domain
error into one.

Every command reads the same ``CONSENT_*`` settings as the service, so without flags it works
on the same embedded SQLite database and key file as ``make run``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from consent_service.config import Config
from consent_service.errors import DomainError


def _config() -> Config:
    return Config.from_env()


def _context() -> Any:
    from consent_service.wiring import bootstrap

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


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
