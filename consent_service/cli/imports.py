"""``consent-service import consents``: bring consent records exported by another platform in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from consent_service.cli.base import Group, _context, _fail, main
from consent_service.imports import mapping as mappings
from consent_service.imports import service as imports
from consent_service.imports.reader import FORMATS


@main.group(cls=Group, name="import")
def import_group() -> None:
    """Imports from other consent platforms."""


class _ImportProgress:
    """One line on stderr every 10,000 rows validated, and per 10 % written."""

    def __init__(self) -> None:
        self.next_percent = 10

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if phase == "validated":
            click.echo(f"validated {done:,} rows" + (" (all)" if total is not None else ""), err=True)
            return
        percent = 100 * done // total if total else 100
        if percent >= self.next_percent or done == total:
            click.echo(f"written {done:,}/{total or 0:,} rows ({percent}%)", err=True)
            self.next_percent = (percent // 10 + 1) * 10
        sys.stderr.flush()


@import_group.command("consents")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(FORMATS), required=True)
@click.option(
    "--mapping", "mapping_name", required=True, help=f"{', '.join(mappings.SHIPPED)} or a YAML file"
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def import_consents(file: Path, file_format: str, mapping_name: str, as_json: bool) -> None:
    """Validate every row of FILE, then write its decisions to the ledger (re-runs add nothing)."""
    mapping = mappings.load(mapping_name)
    try:
        report = imports.import_consents(
            _context(),
            lambda: file.open("rb"),
            file_format=file_format,
            mapping=mapping,
            actor_type="system",
            actor_id="import",
            progress=_ImportProgress(),
        )
    except imports.ImportRefused as refused:
        found = getattr(refused, "report", None)
        if as_json:
            doc = found.as_dict() if found else {"errors": refused.errors}
            click.echo(json.dumps({"refused": refused.detail, **doc}, indent=2))
        else:
            for error in found.errors if found else []:
                click.echo(f"row {error['row']}, {error['field']}: {error['message']}", err=True)
        _fail(refused.detail, 2)
        return
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"imported {report.written:,} decisions from {report.rows:,} rows ({report.source}); "
        f"{report.already_imported:,} were imported before, {report.erased_skipped:,} belong to erased subjects"
    )
