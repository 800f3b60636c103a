"""``consent-service sites scan URL``: the cookie scanner (``consent_service.scan``) on the
command line; a table for people, ``--json`` for machines.

Exit codes: 0 the scan found nothing, 2 it has findings, 1 it could not scan (also for a bad
option, so that 2 always means findings)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from consent_service.cli.base import _context, _fail
from consent_service.cli.sites import sites
from consent_service.errors import DomainError
from consent_service.scan.cdp import CHROMIUM, Deadline, ScanFailed
from consent_service.scan.crawl import check_url, crawl, origin_of

FINDINGS_EXIT = 2
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")


class _BadOption(click.UsageError):
    exit_code = 1


class ScanCommand(click.Command):
    """Bad options exit with 1, not click's 2, which this command keeps for findings."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _BadOption(exc.format_message(), exc.ctx) from exc


def _host_names(hosts: tuple[str, ...]) -> tuple[str, ...]:
    """Host names as they are (Chromium's resolver rules take them as written)."""
    if bad := [h for h in hosts if not HOST_NAME.fullmatch(h)]:
        raise click.BadParameter(f"not a host name: {', '.join(bad)}")
    return hosts


@sites.command("scan", cls=ScanCommand)
@click.argument("url")
@click.option(
    "--pages",
    default=1,
    show_default=True,
    type=click.IntRange(1, 200),
    help="pages to visit: the URL and same-origin pages it links to",
)
@click.option(
    "--site",
    "site_id",
    help="the registered site to check against (default: the one allowing the URL's origin)",
)
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    help="seconds the whole scan may take",
)
@click.option(
    "--offline", is_flag=True, help="resolve no host name but the URL's (no other server is reached)"
)
@click.option(
    "--also-reach",
    "also_reach",
    multiple=True,
    metavar="HOST",
    callback=lambda _ctx, _param, hosts: _host_names(hosts),
    help="with --offline, let HOST resolve too (e.g. a staging copy's own CDN)",
)
@click.option(
    "--chromium",
    type=click.Path(dir_okay=False, path_type=Path),
    default=str(CHROMIUM),
    show_default=True,
    help="the Chromium to run (Debian's package by default)",
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def scan(
    url: str,
    pages: int,
    site_id: str | None,
    timeout: float,
    offline: bool,
    also_reach: tuple[str, ...],
    chromium: Path,
    as_json: bool,
) -> None:
    """Scan a site's cookies and storage before any choice, after Accept all and after Reject all."""
    from consent_service.scan.report import declared_for, report  # reads the registry

    try:
        check_url(url)
        declared = declared_for(_context(), url, site_id)
        passes = crawl(
            url,
            pages=pages,
            deadline=Deadline(timeout),
            chromium=chromium,
            offline=offline,
            also_reach=also_reach,
        )
    except (ScanFailed, DomainError) as exc:
        _fail(str(exc.detail if isinstance(exc, DomainError) else exc), 1)
        return
    result = report(url, declared, passes)
    click.echo(json.dumps(result, indent=2) if as_json else table(result))
    if not result["clean"]:
        raise SystemExit(FINDINGS_EXIT)


COLUMNS = ("NAME", "DOMAIN", "PATH", "EXPIRES", "HTTPONLY", "PARTY", "PURPOSE", "WHEN", "FLAGS", "SET BY")
WHEN = {None: "-", False: "before", True: "after"}  # first seen before or after the click


def _short(url: str, origin: str) -> str:
    """A URL of the scanned origin without it (``/shop:7``); others in full."""
    return url[len(origin) :] or "/" if url.startswith(origin + "/") or url == origin else url


def _set_by(sources: list[dict[str, Any]], origin: str) -> str:
    shown = [
        f"{s['via']} {_short(s['url'], origin)}" + (f":{s['line']}" if s.get("line") else "")
        for s in sources[:2]
    ]
    return ", ".join(shown) + (f" (+{len(sources) - 2})" if len(sources) > 2 else "") or "-"


def table(result: dict[str, Any]) -> str:
    """The report as text: per pass a table of cookies and storage keys (URLs of the scanned
    origin shortened to their path), then the number of findings."""
    origin = origin_of(result["url"])
    lines = [f"scan of {result['url']} for site {result['site']['id']} ({result['site']['name']})"]
    for p in result["passes"]:
        pages = " ".join(_short(page, origin) for page in p["pages"])
        lines += ["", f"{p['name']}: banner {p['banner']}; pages: {pages}"]
        lines += [f"  note: {n}" for n in p["notes"]]
        rows = [COLUMNS]
        for item in p["items"]:
            cookie = item["kind"] == "cookie"
            rows.append(
                (
                    item["name"] if cookie else f"{item['kind']}:{item['name']}",
                    item["domain"] if cookie else "-",
                    item["path"] if cookie else "-",
                    item["expires"] if cookie else "-",
                    ("yes" if item["http_only"] else "no") if cookie else "-",
                    item["party"] if cookie else "-",
                    item["purpose"] or "-",
                    WHEN[item["set_after_choice"]],
                    ",".join(item["flags"]) or "-",
                    _set_by(item["set_by"], origin),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
        for row in rows:
            lines.append(
                "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[-1]
            )
    count = len(result["findings"])
    lines += ["", "clean: no findings" if result["clean"] else f"{count} finding{'s' if count != 1 else ''}"]
    return "\n".join(lines)
