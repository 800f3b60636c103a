"""What the registry declares for a scanned site, and the findings of a scan.

A cookie or storage key is *declared* when the site's offer names a registered cookie of that
name; its purpose says whether it is strictly necessary. The banner's own storage keys
(``consent_service.…``, frontend/banner/src/storage.js) are necessary and declared by the
service itself. Findings, per pass:

- ``undeclared``: not in the site's offer;
- ``before_consent``: present before any choice and not strictly necessary;
- ``after_reject``: present after "Reject all" and not strictly necessary.

An undeclared cookie counts as not necessary: nothing says it is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from consent_service.context import Context
from consent_service.registry import service as registry
from consent_service.registry import sites as registry_sites
from consent_service.scan.cdp import ScanFailed
from consent_service.scan.crawl import NO_CHOICE, REJECT_ALL, PassResult, origin_of

BANNER_STORAGE_PREFIX = "consent_service."
BANNER_OWN = "the banner's own"


@dataclass(frozen=True)
class Declared:
    """The site and what its offer declares: cookie name -> (purpose, strictly necessary)."""

    site: dict[str, Any]
    cookies: dict[str, tuple[str, bool]]


def declared_for(ctx: Context, url: str, site_id: str | None = None) -> Declared:
    """The registered site whose allowed origins include ``url``'s origin (or ``site_id``), with
    the cookies its offer declares."""
    if site_id is not None:
        site = registry_sites.read_site(ctx, site_id)
    else:
        origin = origin_of(url)
        matches = [
            s
            for s in registry_sites.read_sites(ctx)
            if origin in {origin_of(o) for o in s["allowed_origins"]}
        ]
        if not matches:
            raise ScanFailed(f"no registered site allows the origin {origin}; name one with --site")
        if len(matches) > 1:
            ids = ", ".join(s["id"] for s in matches)
            raise ScanFailed(f"several sites allow the origin {origin} ({ids}); name one with --site")
        site = matches[0]
    necessary = {p["key"]: bool(p["strictly_necessary"]) for p in registry.read_purposes(ctx)}
    offered = set(site["cookies"])
    cookies = {
        c["name"]: (c["purpose"], necessary.get(c["purpose"], False))
        for c in registry.read_cookies(ctx)
        if c["name"] in offered
    }
    return Declared({"id": site["id"], "name": site["name"]}, cookies)


def party(domain: str, url: str) -> str:
    """``first`` when the cookie's domain is the scanned host or a parent domain of it."""
    host = (urlsplit(url).hostname or "").lower()
    bare = domain.lstrip(".").lower()
    return "first" if host == bare or host.endswith("." + bare) else "third"


def expiry(seconds: float | None) -> str:
    if seconds is None:
        return "session"
    return (
        dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def report(url: str, declared: Declared, passes: Sequence[PassResult]) -> dict[str, Any]:
    """The scan's report: per pass every cookie and storage key with its purpose, source and
    flags, and the findings (``clean`` when there are none)."""
    out_passes = []
    findings = []
    for result in passes:
        rows = []
        for item in sorted(
            result.items.values(), key=lambda i: (i.kind != "cookie", i.kind, i.name, i.domain)
        ):
            if item.kind != "cookie" and item.name.startswith(BANNER_STORAGE_PREFIX):
                purpose: str | None = BANNER_OWN
                necessary = is_declared = True
            elif item.kind == "cookie" and item.name in declared.cookies:
                purpose, necessary = declared.cookies[item.name]
                is_declared = True
            else:
                purpose, necessary, is_declared = None, False, False
            flags = []
            if not is_declared:
                flags.append("undeclared")
            if result.name == NO_CHOICE and not necessary:
                flags.append("before_consent")
            if result.name == REJECT_ALL and not necessary:
                flags.append("after_reject")
            row: dict[str, Any] = {
                "kind": item.kind,
                "name": item.name,
                "domain" if item.kind == "cookie" else "origin": item.domain,
            }
            if item.kind == "cookie":
                row |= {
                    "path": item.path,
                    "expires": expiry(item.expires),
                    "http_only": item.http_only,
                    "secure": item.secure,
                    "party": party(item.domain, url),
                }
            row |= {
                "declared": is_declared,
                "purpose": purpose,
                "strictly_necessary": necessary,
                "first_seen_on": item.page,
                "set_after_choice": item.after_choice,
                "set_by": [s.as_dict() for s in result.sources.get((item.kind, item.name), [])],
                "flags": flags,
            }
            rows.append(row)
            if flags:
                findings.append(
                    {"pass": result.name, **{k: row[k] for k in ("kind", "name", "flags", "set_by")}}
                )
        out_passes.append(
            {
                "name": result.name,
                "banner": result.banner,
                "pages": result.pages,
                "items": rows,
                "notes": result.notes,
            }
        )
    return {
        "url": url,
        "site": declared.site,
        "passes": out_passes,
        "findings": findings,
        "clean": not findings,
    }
