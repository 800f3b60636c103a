"""Every console page a signed-in staff member can reach by following links, for the tests that
check all pages at once (roles, accessibility)."""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from consent_service.context import Context
from consent_service.demo import seed, seed_people

HREF = re.compile(r'href="([^"]+)"')
# pages that end the session or only serve files for the pages themselves
NOT_FOLLOWED = ("/console/static/", "/console/logout")
# POSTs that only read (searches: no personal data in URLs), open to every role
SEARCHES = {"console.subjects", "console.search_requests"}
# the routes a staff member may POST to whatever the role: their own session and account, and
# the console's own "not found" page for any method
OWN_ACCOUNT = {
    "console.login",
    "console.login_code",
    "console.logout",
    "console.language",
    "console.password",
    "console.enrol",
    "console.enrol_start",
    "console.disable_2fa",
    "console.not_found",
}


def seed_console_data(ctx: Context) -> None:
    """The demo's purposes, cookies, site, shop store, person, consent and request."""
    seed(ctx)
    seed_people(ctx)


def links(html: str, base: str) -> list[str]:
    found = []
    for href in HREF.findall(html):
        url = urldefrag(urljoin(base, href.replace("&amp;", "&")))[0]
        parts = urlsplit(url)
        if parts.netloc or not parts.path.startswith("/console/"):
            continue
        if parts.path.startswith(NOT_FOLLOWED):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def crawl(client: Any, start: str = "/console/requests", limit: int = 400) -> dict[str, Any]:
    """GET every console URL reachable from ``start`` by links; returns the responses by URL."""
    seen: dict[str, Any] = {}
    todo = deque([start])
    while todo and len(seen) < limit:
        url = todo.popleft()
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response
        if response.status_code == 200 and response.mimetype == "text/html":
            todo.extend(u for u in links(response.get_data(as_text=True), url) if u not in seen)
    return seen
