"""``consent-service keys``: master keys and blind-index keys (create, rotate, retire, adopt a backup)."""

from __future__ import annotations

import json

import click

from consent_service.cli.base import Group, _config, _context, _fail, _redact, main
from consent_service.cli.progress import _run_with_progress


@main.group(cls=Group)
def keys() -> None:
    """Master keys."""


@keys.command("init")
def keys_init() -> None:
    """Create the local key file (0600) if it does not exist."""
    from consent_service.crypto.keyring import LocalFileProvider
    from consent_service.files import secure_data_dir

    config = _config()
    if config.master_keys:
        click.echo("keys come from CONSENT_MASTER_KEYS; nothing to create")
        return
    secure_data_dir(config.data_dir, config.effective_key_file)
    provider = LocalFileProvider(config.effective_key_file)
    if provider.init():
        click.echo(f"created key file {provider.path} (mode 600); back it up separately from the database")
    else:
        provider.load()
        click.echo(f"key file {provider.path} exists")


@keys.command("rotate")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1))
def keys_rotate(batch_size: int) -> None:
    """Create a new master key version and re-wrap every data key with it (resumable)."""
    from consent_service.subjects.rotation import rotate

    ctx = _context()
    result = _run_with_progress(
        "re-wrapped", "data keys", lambda progress: rotate(ctx, batch_size=batch_size, progress=progress)
    )
    from consent_service.stores.registry import reseal_connections

    resealed = reseal_connections(ctx)
    if resealed:
        click.echo(f"re-sealed {resealed} data store connection(s) under the new master key")
    how = "resumed an interrupted rotation" if result["resumed"] else "created a new master key"
    click.echo(
        f"master key version {result['current_version']} is current ({how}); "
        f"re-wrapped {result['rewrapped']:,} data keys"
    )
    if result["remaining"]:
        _fail(f"{result['remaining']:,} data keys still use older versions; run 'keys rotate' again")
    if result["old_versions"]:
        old = ", ".join(str(v) for v in result["old_versions"])
        click.echo(
            f"older master key versions still in the keyring: {old}. Restart the service, then retire "
            "each with 'consent-service keys retire VERSION' once the backups taken while it was "
            "current have expired"
        )


@keys.command("retire")
@click.argument("version", type=int)
def keys_retire(version: int) -> None:
    """Destroy an old master key version (refused while any data key uses it)."""
    from consent_service.subjects.rotation import retire

    retire(_context(), version)
    click.echo(
        f"retired master key version {version}: data keys wrapped by it, in any backup, are unreadable"
    )


@keys.command("reindex")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1))
def keys_reindex(batch_size: int) -> None:
    """Create a new blind-index key and recompute every identity's blind index (resumable)."""
    from consent_service.subjects.rotation import SETTLE_SECONDS, reindex

    ctx = _context()
    click.echo(f"waiting {SETTLE_SECONDS:.0f} s so running processes load the new index key", err=True)
    result = _run_with_progress(
        "re-indexed", "identities", lambda progress: reindex(ctx, batch_size=batch_size, progress=progress)
    )
    how = "resumed an interrupted run" if result["resumed"] else "created a new index key"
    click.echo(
        f"blind-index key version {result['current_version']} is current ({how}); "
        f"re-indexed {result['reindexed']:,} identities, {result['forgotten']:,} erased ones keep no index"
    )
    if result["remaining"]:
        _fail(
            f"{result['remaining']:,} identities still use an older index key "
            f"({result['unreadable']:,} unreadable); the old key is kept"
        )
    if result["removed_versions"]:
        removed = ", ".join(str(v) for v in result["removed_versions"])
        click.echo(f"removed old blind-index key versions: {removed}")


@keys.command("status")
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
def keys_status(as_json: bool) -> None:
    """Show key versions and how many data keys and identities use each."""
    from consent_service.subjects.rotation import status

    report = status(_context())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"keys from {report['key_source']}")
    click.echo(
        f"master keys: current {report['current_kek']}, in keyring {report['kek_versions']}, "
        f"rotation pending for {report['rotation_pending']:,} data keys"
    )
    for version, counts in report["data_keys"].items():
        marker = "" if version in report["kek_versions"] else "  (not in keyring)"
        click.echo(f"  v{version}: {counts['live']:,} live, {counts['shredded']:,} shredded{marker}")
    click.echo(
        f"blind-index keys: current {report['current_index']}, in keyring {report['index_versions']}, "
        f"re-index pending for {report['reindex_pending']:,} identities"
    )
    for version, count in report["identities"].items():
        click.echo(f"  v{version}: {count:,} identities")


@keys.command("adopt-backup")
@click.argument("database_url")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1))
def keys_adopt_backup(database_url: str, batch_size: int) -> None:
    """Make a restored database copy readable with the current keys, keeping erasures erased."""
    from consent_service.subjects.backups import adopt_keys

    ctx = _context()
    result = _run_with_progress(
        "adopted",
        "subjects",
        lambda progress: adopt_keys(ctx, database_url, batch_size=batch_size, progress=progress),
    )
    click.echo(
        f"copy at {_redact(database_url)}: {result['adopted']:,} subjects readable with the current keys, "
        f"{result['erased']:,} erased (shredded in the live database), "
        f"{result['missing']:,} erased (unknown to the live database), "
        f"{result['reindexed']:,} identities re-indexed"
    )
