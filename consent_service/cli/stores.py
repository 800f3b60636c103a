"""``consent-service stores``: the data stores that subject requests run across."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from consent_service.cli.base import Group, _context, _fail, main


@main.group(cls=Group)
def stores() -> None:
    """Data stores that subject requests run across."""


@stores.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def stores_load(file: Path) -> None:
    """Register the stores of a YAML file ('stores: {key: ...}' or one store with 'key:')."""
    import yaml

    from consent_service.stores.registry import documents_from_file, save_stores

    try:
        doc = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        _fail(f"{file} is not valid YAML: {exc}")
    for key, created in save_stores(_context(), documents_from_file(doc)):
        click.echo(f"{'registered' if created else 'updated'} store {key}")


@stores.command("list")
def stores_list() -> None:
    """List the registered stores (connections without secrets)."""
    from consent_service.stores.registry import read_stores

    for store in read_stores(_context()):
        target = store["connection"].get("url") or store["connection"].get("endpoint") or ""
        click.echo(f"{store['key']}  {store['type']:6}  {','.join(store['collections'])}  {target}")


@stores.command("test")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def stores_test(key: str, as_json: bool) -> None:
    """Check a store's connection, tables, columns and key patterns; exit 1 when not ok."""
    from consent_service.stores.registry import run_check

    report = run_check(_context(), key, actor="cli")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for check in report["checks"]:
            where = check["collection"] + (f".{check['field']}" if "field" in check else "")
            click.echo(f"{'ok  ' if check['ok'] else 'FAIL'}  {where}  {check.get('problem', '')}".rstrip())
        click.echo(f"store {key}: {'OK' if report['ok'] else 'NOT OK'}")
    sys.exit(0 if report["ok"] else 1)
