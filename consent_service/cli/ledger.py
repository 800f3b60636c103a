"""``consent-service ledger``: ledger audit (verify, checkpoints, auditor bundles) and maintenance."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from consent_service.cli.base import Group, _context, _fail, main


@main.group(cls=Group)
def ledger() -> None:
    """Ledger audit and maintenance."""


@ledger.command("verify")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--checkpoints",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also check the signed checkpoints of this file (a copy kept outside the database)",
)
@click.option("--public-key", "public_key", help="PEM file or base64 raw key for --checkpoints")
def ledger_verify(as_json: bool, checkpoint_file: Path | None, public_key: str | None) -> None:
    """Verify the hash chain, checkpoints and projection; exit 1 on any defect.

    The verification is recorded like one started in the console (``ledger.verification``), so
    the console's ledger page shows its result too."""
    from consent_service.crypto.signing import load_public_key
    from consent_service.errors import Conflict
    from consent_service.ledger.checkpoints import read_file
    from consent_service.ledger.verification import run_now

    ctx = _context()
    key = None
    if public_key:
        try:
            key = load_public_key(Path(public_key).read_text() if os.path.exists(public_key) else public_key)
        except ValueError as exc:
            _fail(f"cannot read the public key: {exc}")
    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and total:
            click.echo(f"\rverified {done:,}/{total:,} events ({100 * done // total}%)", err=True, nl=False)

    lines = list(read_file(checkpoint_file)) if checkpoint_file else []
    try:
        done = run_now(ctx, started_by="cli", progress=progress, external=lines, public_key=key)
    except Conflict as exc:
        _fail(exc.detail)
    if show:
        click.echo("", err=True)
    report = done["report"]
    if as_json:
        click.echo(json.dumps({k: v for k, v in report.items() if k != "details"}, indent=2))
    elif report["ok"]:
        click.echo(
            f"ledger OK: {report['events_checked']} events, head seq {report['head_seq']} "
            f"hash {report['head_hash']}, {report['checkpoints_checked']} checkpoints"
        )
    else:
        where = f" at seq {report['first_bad_seq']}" if report["first_bad_seq"] is not None else ""
        click.echo(f"ledger DEFECT{where}: {report['problem']}")
        for line in report["details"][:20]:
            click.echo(f"  {line}")
        for m in report["state_mismatches"]:
            click.echo(
                f"  consent_state {m['subject_id']} {m['target_type']} {m['target_key']}: {m['problem']}"
            )
    sys.exit(0 if report["ok"] else 1)


@ledger.command("export")
@click.option(
    "--subject", "subject_id", help="the events of this subject (sub_…) and of the subjects linked to it"
)
@click.option("--from", "since", help="events recorded from this ISO date or date-time (UTC unless stated)")
@click.option("--to", "until", help="events recorded before this date-time, or up to the end of this date")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="a new or empty directory to write the bundle into",
)
def ledger_export(subject_id: str | None, since: str | None, until: str | None, out: Path) -> None:
    """Write an auditor bundle: the selected events with proofs that each is in the log's signed
    Merkle tree, checkable offline with ``consent-service-verify bundle DIR``."""
    from consent_service.ledger.bundle import Selection, export, parse_when

    selection = Selection(
        subject_id=subject_id,
        since=parse_when(since, "from") if since else None,
        until=parse_when(until, "to", end=True) if until else None,
    )

    def progress(done: int, total: int) -> None:
        click.echo(f"exported {done:,}/{total:,} events", err=True)

    manifest = export(_context(), out, selection, progress=progress)
    counts = manifest["counts"]
    click.echo(
        f"bundle written to {out}: {counts['events']} events, {counts['checkpoints']} earlier checkpoint(s), "
        f"tree size {manifest['tree_size']}; verify with: consent-service-verify bundle {out} --log-key KEY"
    )


@ledger.command("rebuild-state")
def ledger_rebuild() -> None:
    """Rebuild the current-state projection from the ledger alone."""
    from consent_service.ledger.service import rebuild_state

    rows = rebuild_state(_context())
    click.echo(f"rebuilt consent state: {rows} rows")


@ledger.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write to a file")
def ledger_checkpoint(out: Path | None) -> None:
    """Sign a checkpoint of the current head, append it to the checkpoint file, print it."""
    from consent_service.ledger.checkpoints import latest_checkpoint

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


@ledger.command("witnesses")
@click.option("--cosign", is_flag=True, help="ask the due witnesses to cosign the latest checkpoint first")
def ledger_witnesses(cosign: bool) -> None:
    """The Merkle tree's latest checkpoint: whether witnesses cosigned it (CONSENT_LOG_WITNESSES,
    quorum CONSENT_LOG_WITNESS_QUORUM), and per witness the size it last cosigned and its last
    error, as JSON. Exits 1 while the latest checkpoint is not witnessed."""
    from consent_service.ledger import cosigning

    ctx = _context()
    if cosign:
        cosigning.cosign_round(ctx)
    report = cosigning.status(ctx)
    click.echo(json.dumps(report, indent=2))
    if not report["witnessed"]:
        sys.exit(1)
