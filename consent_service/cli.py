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


# db ---------------------------------------------------------------------------------------
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


class _KeyProgress:
    """Progress of a long key operation on stderr: a bar on a terminal, otherwise one line per
    10 % (``re-wrapped 500/5000 data keys (10%)``) so a piped or CI run shows it too."""

    def __init__(self, verb: str, noun: str) -> None:
        self.verb = verb
        self.noun = noun
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.next_percent = 10

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if self.tty:
            if self.bar is None:
                self.bar = click.progressbar(length=total, label=f"{self.verb} {self.noun}", file=sys.stderr)
                self.bar.__enter__()
            self.bar.update(min(done, self.bar.length) - self.bar.pos)
            return
        percent = 100 * done // total
        if percent >= self.next_percent or done >= total:
            click.echo(f"{self.verb} {done:,}/{total:,} {self.noun} ({percent}%)", err=True)
            sys.stderr.flush()
            self.next_percent = (percent // 10 + 1) * 10

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _run_with_progress(verb: str, noun: str, call: Any) -> Any:
    progress = _KeyProgress(verb, noun)
    try:
        return call(progress)
    finally:
        progress.close()


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
    from consent_service.subjects.rotation import adopt_keys

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
    scope_list = " ".join(str(s) for s in client["scopes"])  # type: ignore[attr-defined]
    click.echo(f"client {client['id']} ({client['name']}) scopes: {scope_list}", err=True)
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
            scope_list = " ".join(c.scopes)
            click.echo(f"{d['id']}  {state:7}  {d['token_prefix']}…  {scope_list}  {d['name']}")


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
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="URL",
    help="an origin the demo site allows besides the defaults, e.g. http://127.0.0.1:8123 (repeatable)",
)
def demo(origins: tuple[str, ...]) -> None:
    """Seed demo purposes, cookies, a site and an admin client; print the demo token."""
    from consent_service.demo import seed

    result = seed(_context(), origins)
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
@click.option(
    "--checkpoints",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also check the signed checkpoints of this file (a copy kept outside the database)",
)
@click.option("--public-key", "public_key", help="PEM file or base64 raw key for --checkpoints")
def ledger_verify(as_json: bool, checkpoint_file: Path | None, public_key: str | None) -> None:
    """Verify the hash chain, checkpoints and projection; exit 1 on any defect."""
    from consent_service.crypto.signing import load_public_key
    from consent_service.ledger.audit import verify
    from consent_service.ledger.checkpoints import read_file

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
    report = verify(ctx, progress, checkpoints=lines, public_key=key)
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
        where = f" at seq {report.first_bad_seq}" if report.first_bad_seq is not None else ""
        click.echo(f"ledger DEFECT{where}: {report.problem}")
        for line in report.details[:20]:
            click.echo(f"  {line}")
        for m in report.state_mismatches:
            click.echo(
                f"  consent_state {m['subject_id']} {m['target_type']} {m['target_key']}: {m['problem']}"
            )
    sys.exit(0 if report.ok else 1)


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


# requests and outbox ------------------------------------------------------------------------
@main.group(cls=Group)
def requests() -> None:
    """Data subject requests."""


@requests.command("list")
@click.option("--overdue", is_flag=True, help="only open requests past their deadline")
@click.option("--state", default=None)
@click.option("--type", "type_", default=None)
def requests_list(overdue: bool, state: str | None, type_: str | None) -> None:
    """List requests, soonest due first."""
    from consent_service.dsar.request_views import list_requests

    rows = list_requests(_context(), overdue=overdue, state=state, type=type_)
    for r in rows:
        flag = "OVERDUE" if r["overdue"] else ""
        click.echo(f"{r['id']}  {r['type']:13} {r['state']:16} due {r['due_at']:%Y-%m-%d}  {flag}")
    if not rows:
        click.echo("no requests")


@main.command("deadlines")
@click.argument("received_date")
@click.option(
    "--calendar",
    "code",
    default=None,
    help="holiday calendar (DE, DE-BY, FR, IE, none…); default CONSENT_HOLIDAYS",
)
def deadlines(received_date: str, code: str | None) -> None:
    """Print the deadlines of a request received on RECEIVED_DATE (JSON, ISO dates)."""
    from consent_service.calendars import CalendarError, calendar
    from consent_service.dsar.deadlines import deadlines_for, parse_received

    config = _config()
    try:
        calendar("none", config.timezone)
    except CalendarError as exc:
        _fail(f"CONSENT_TIMEZONE: {exc}", 2)
    try:
        cal = calendar(config.holidays if code is None else code, config.timezone)
    except CalendarError as exc:
        _fail(f"CONSENT_HOLIDAYS: {exc}" if code is None else f"--calendar: {exc}", 2)
    try:
        found = deadlines_for(parse_received(received_date, cal), cal)
    except ValueError as exc:
        _fail(str(exc), 2)
    click.echo(json.dumps(found.as_json()))


@requests.command("show")
@click.argument("request_id")
def requests_show(request_id: str) -> None:
    """Show a request with its audit trail (JSON)."""
    from consent_service.dsar.request_views import show

    click.echo(json.dumps(show(_context(), request_id), indent=2, default=str))


@requests.command("run")
@click.argument("request_id")
@click.option("--actor", default="cli", show_default=True, help="who runs it, for the audit trail")
def requests_run(request_id: str, actor: str) -> None:
    """Execute (or resume) a verified request across the stores; exit 1 if it failed."""
    from consent_service.dsar.execution import run_request

    def progress(store: str, status: str, detail: dict[str, Any]) -> None:
        click.echo(f"{store}: {status}  {json.dumps(detail, default=str)}")

    result = run_request(_context(), request_id, actor=actor, progress=progress)
    state = result["request"]["state"]
    pending = result.get("pending")
    click.echo(f"request {request_id}: {state}" + (f" (pending: {', '.join(pending)})" if pending else ""))
    if state == "failed" and result["request"].get("failure_reason"):
        click.echo(f"reason: {result['request']['failure_reason']}")
    sys.exit(1 if state == "failed" else 0)


@requests.command("tasks")
@click.argument("request_id")
def requests_tasks(request_id: str) -> None:
    """List a request's manual tasks (open and done)."""
    from consent_service.dsar.tasks import list_tasks

    rows = list_tasks(_context(), request_id)
    for t in rows:
        due = f"due {t['due_at']:%Y-%m-%d}" if t["due_at"] else ""
        click.echo(f"{t['id']}  {t['store']:16} {t['state']:5} {due}  {t['instructions']}")
        if t["state"] == "done":
            click.echo(f"    done by {t['done_by']} at {t['done_at']:%Y-%m-%d %H:%M}: {t['note']}")
    if not rows:
        click.echo("no tasks")


@requests.command("complete-task")
@click.argument("request_id")
@click.argument("task_id")
@click.option("--note", required=True, help="what was done (kept in the request's audit trail)")
@click.option("--actor", default="cli", show_default=True, help="who did it, for the audit trail")
def requests_complete_task(request_id: str, task_id: str, note: str, actor: str) -> None:
    """Close a manual task; the request completes when nothing else is pending."""
    from consent_service.dsar.tasks import complete_task

    result = complete_task(_context(), request_id, task_id, note=note, actor=actor)
    click.echo(f"task {task_id}: done; request {request_id}: {result['request']['state']}")


@main.group(cls=Group)
def outbox() -> None:
    """Messages waiting to be sent (e-mails)."""


@outbox.command("list")
def outbox_list() -> None:
    """Messages not sent yet, with their last error."""
    from consent_service.dsar.outbox import pending

    for m in pending(_context()):
        click.echo(
            f"{m['id']}  {m['kind']}  {m['state']:8} attempts={m['attempts']}  {m['last_error'] or ''}"
        )


@requests.command("purge-packages")
def requests_purge_packages() -> None:
    """Delete access packages past their retention (the worker does this periodically)."""
    from consent_service.dsar.package import purge_expired

    click.echo(f"purged {purge_expired(_context())} expired package(s)")


@outbox.command("deliver")
def outbox_deliver() -> None:
    """Send every message that is due now."""
    from consent_service.dsar.outbox import deliver

    click.echo(json.dumps(deliver(_context())))


@main.command()
@click.option("--interval", default=10.0, show_default=True, help="seconds between outbox rounds")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(min=1))
def worker(interval: float, processes: int, threads: int) -> None:
    """Run queued subject requests and retention runs (CONSENT_BROKER_URL, or the embedded queue),
    deliver the outbox and start scheduled retention runs."""
    config = _config()
    where = _redact(config.broker_url) if config.broker_url else "the embedded in-process queue"
    if processes > 1 and not config.broker_url:
        _fail("--processes needs a broker (CONSENT_BROKER_URL); the embedded queue lives in one process")
    click.echo(
        f"worker: {processes} process(es) x {threads} thread(s) on {where}; outbox every {interval:g} s",
        err=True,
    )
    if processes == 1:
        _work(threads, interval)
        return
    import multiprocessing
    import signal

    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=_work, args=(threads, interval), daemon=True) for _ in range(processes)]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join()
    except KeyboardInterrupt:
        for child in children:
            if child.pid is not None:
                os.kill(child.pid, signal.SIGINT)
        for child in children:
            child.join(timeout=30)
    click.echo("worker stopped", err=True)


def _work(threads: int, interval: float) -> None:
    """One worker process: Dramatiq worker threads plus the periodic outbox delivery."""
    import signal
    import threading

    from consent_service import logs
    from consent_service.jobs import work

    ctx = _context()
    logs.configure(ctx.config.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        work(ctx, threads=threads, stop=stop, interval=interval)
    except KeyboardInterrupt:
        stop.set()
    click.echo("worker stopped", err=True)


# stores -----------------------------------------------------------------------------------
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
    from consent_service.stores.registry import check_store

    report = check_store(_context(), key)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for check in report["checks"]:
            where = check["collection"] + (f".{check['field']}" if "field" in check else "")
            click.echo(f"{'ok  ' if check['ok'] else 'FAIL'}  {where}  {check.get('problem', '')}".rstrip())
        click.echo(f"store {key}: {'OK' if report['ok'] else 'NOT OK'}")
    sys.exit(0 if report["ok"] else 1)


# retention --------------------------------------------------------------------------------
@main.group(cls=Group)
def retention() -> None:
    """Retention rules, legal holds and the sweeper."""


class _SweepProgress:
    """A sweep's progress on stderr: a spinner-style bar per step on a terminal, otherwise a line
    per step every few seconds, so a piped or scheduled run shows it too."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.step = ""
        self.last = 0.0

    def __call__(self, step: str, entry: dict[str, Any]) -> None:
        import time

        counts = ", ".join(
            f"{name} {entry[name]:,}"
            for name in ("candidates", "deleted", "anonymised", "shredded", "held", "done")
            if entry.get(name)
        )
        line = f"{step}: {counts or 'nothing due so far'}"
        now = time.monotonic()
        if self.tty:
            if step != self.step and self.step:
                click.echo("", err=True)  # keep the finished step's last line
            click.echo("\r\033[K" + line[:200], err=True, nl=False)
        elif step != self.step or now - self.last >= 5:
            click.echo(line, err=True)
            self.last = now
        self.step = step

    def close(self) -> None:
        if self.tty and self.step:
            click.echo("", err=True)


def _print_report(report: dict[str, Any]) -> None:
    if not report.get("rules") and not report.get("skipped"):
        click.echo("no active retention rule reaches a registered SQL or Redis store")
    for entry in report.get("rules", []):
        where = f"{entry['store']}.{entry['collection']}" if entry["store"] else "subjects"
        counts = "  ".join(
            f"{name} {entry.get(name, 0):,}"
            for name in ("candidates", "deleted", "anonymised", "shredded", "held")
        )
        click.echo(f"{entry['rule']} v{entry['version']}  {where}  {entry['status']}  {counts}")
        for hold in entry.get("held_by", []):
            click.echo(f"    held: {hold.get('key')}: {hold.get('reason')}")
        for error in entry.get("errors", []):
            click.echo(f"    error: {error}")
        if entry.get("note"):
            click.echo(f"    {entry['note']}")
    for note in report.get("skipped", []):
        where = ".".join(x for x in (note.get("store"), note.get("collection")) if x)
        click.echo(f"{note['rule']}  {where or '-'}  skipped: {note['reason']}")
    for name, counts in (report.get("service") or {}).items():
        click.echo(f"service data: {name}  " + "  ".join(f"{k} {v:,}" for k, v in counts.items()))


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="count what is due, change nothing (the run is still logged)")
@click.option("--store", default=None, help="sweep only this store (the service's own data is then left out)")
@click.option("--json", "as_json", is_flag=True, help="print the run with its report as JSON")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="records per transaction (default: adapts to about 40 ms per transaction)",
)
def retention_run(dry_run: bool, store: str | None, as_json: bool, batch_size: int | None) -> None:
    """Apply the retention rules now; exit 1 if a step failed. Safe to rerun after a crash."""
    from consent_service.retention.runs import run_now

    progress = _SweepProgress()
    try:
        run = run_now(
            _context(),
            dry_run=dry_run,
            store=store,
            started_by="cli",
            progress=progress,
            batch_size=batch_size,
        )
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(run, indent=2, default=str))
    else:
        _print_report(run["report"])
        totals = run["report"].get("totals", {})
        click.echo(
            f"run {run['id']}: {run['state']}{' (dry run)' if dry_run else ''}; "
            + ", ".join(f"{k} {v:,}" for k, v in totals.items())
            + f"; logged as retention #{run['audit_seq']}"
        )
    sys.exit(1 if run["report"].get("totals", {}).get("errors") else 0)


@retention.command("preview")
@click.option("--store", default=None)
@click.option("--json", "as_json", is_flag=True)
def retention_preview(store: str | None, as_json: bool) -> None:
    """Show what a run would do now, without recording anything."""
    from consent_service.retention.sweeper import preview

    report = preview(_context(), store)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report)


@retention.command("runs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def retention_runs(limit: int) -> None:
    """List the latest runs."""
    from consent_service.retention.runs import list_runs

    for run in list_runs(_context(), limit=limit):
        totals = run["report"].get("totals") or {}
        click.echo(
            f"{run['id']}  {run['started_at']:%Y-%m-%d %H:%M}  {run['state']:11} "
            f"{'dry ' if run['dry_run'] else ''}{run['store'] or 'all stores'}  "
            + ", ".join(f"{k} {v}" for k, v in totals.items())
        )


@retention.command("show")
@click.argument("run_id")
def retention_show(run_id: str) -> None:
    """Show one run with its report (JSON)."""
    from consent_service.retention.runs import get_run

    click.echo(json.dumps(get_run(_context(), run_id), indent=2, default=str))


@retention.command("verify-log")
def retention_verify_log() -> None:
    """Verify the hash chain of the run reports (and of the holds log); exit 1 if broken."""
    from consent_service.auditlog.service import verify

    ctx = _context()
    broken = False
    for log in ("retention", "holds"):
        with ctx.uow(write=False) as uow:
            report = verify(uow.session, log)
        click.echo(f"{log}: {report.events_checked} entries, " + ("OK" if report.ok else "BROKEN"))
        for problem in report.details[:10]:
            click.echo(f"    {problem}")
        broken = broken or not report.ok
    sys.exit(1 if broken else 0)


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
        "--logger-class",
        "consent_service.logs.GunicornLogger",  # JSON lines without personal data or secrets
        "consent_service.wsgi:app",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *args])
