"""The three passes of a scan, each in a fresh Chromium profile: before any choice, after
"Accept all" and after "Reject all"; what the browser held after each page, and who set it.

Who set what: a script run in every document before the page's own replaces the
``document.cookie`` setter, ``Storage.setItem`` and ``cookieStore.set`` with ones that report
the key and the caller's stack (its first frame outside the hook is the script's URL and line);
``Set-Cookie`` headers are read from the responses (the request's URL). A storage key written
by a plain assignment (``localStorage.x = 1``) is seen but not attributed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

from consent_service.scan.cdp import Browser, Deadline, ScanFailed, evaluate, open_page, prepare

NO_CHOICE, ACCEPT_ALL, REJECT_ALL = "no_choice", "accept_all", "reject_all"
PASSES = (NO_CHOICE, ACCEPT_ALL, REJECT_ALL)
BANNER = "#consent-service-banner"
BINDING = "__consentScanReport"
HOOK_URL = "consent-scan-hook.js"
QUIET = 0.5  # seconds without a request in flight: the page has settled
SETTLE_AT_MOST = 5.0  # a page that never stops requesting is read after this
READY_AT_MOST = 10.0  # how long the banner may take to decide whether to ask

HOOK = """(function () {
  var report = window.BINDING;
  if (typeof report !== "function") { return; }
  try { delete window.BINDING; } catch (e) {}  // the page's own scripts cannot call it
  function tell(kind, key) {
    try { report(JSON.stringify({kind: kind, key: String(key), stack: new Error().stack || ""})); } catch (e) {}
  }
  var cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true, enumerable: cookie.enumerable,
    get: function () { return cookie.get.call(this); },
    set: function (value) {
      tell("cookie", String(value).split(";")[0].split("=")[0].trim());
      cookie.set.call(this, value);
    }
  });
  var setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    var area = "storage";
    try { area = this === window.localStorage ? "localStorage" : "sessionStorage"; } catch (e) {}
    tell(area, key);
    return setItem.apply(this, arguments);
  };
  if (window.CookieStore && CookieStore.prototype.set) {
    var storeSet = CookieStore.prototype.set;
    CookieStore.prototype.set = function (name) {
      tell("cookie", typeof name === "object" && name ? name.name : name);
      return storeSet.apply(this, arguments);
    };
  }
})();
//# sourceURL=HOOK_URL
""".replace("BINDING", BINDING).replace("HOOK_URL", HOOK_URL)

READY = (
    "new Promise(function (done) {"
    "  var cs = window.ConsentService;"
    "  if (!cs || !cs.ready) { done({present: false}); return; }"
    "  var t = setTimeout(function () { done({present: true, timeout: true}); }, WAIT_MS);"
    "  cs.ready.then(function (r) { clearTimeout(t); done({present: true, shown: !!(r && r.shown)}); },"
    "                function (e) { clearTimeout(t); done({present: true, error: String(e)}); });"
    "})"
).replace("WAIT_MS", str(int(READY_AT_MOST * 1000)))
STORAGE_KEYS = (
    "(function () { var out = {localStorage: [], sessionStorage: []};"
    "  try { out.localStorage = Object.keys(window.localStorage); } catch (e) {}"
    "  try { out.sessionStorage = Object.keys(window.sessionStorage); } catch (e) {}"
    "  return out; })()"
)
LINKS = "Array.from(document.links).map(function (a) { return a.href; })"
FRAME = re.compile(r"((?:https?|file)://[^\s()]+?):(\d+):(\d+)\)?\s*$")


@dataclass(frozen=True)
class Source:
    """Who set a cookie or key: a ``script`` (its URL and line), an ``added-script`` (code without a
    URL of its own, run by the script at URL and line) or a ``header`` (the response's URL)."""

    via: str
    url: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"via": self.via, "url": self.url}
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class Item:
    """A cookie (``kind`` "cookie") or a storage key (``localStorage``/``sessionStorage``) seen in a pass."""

    kind: str
    name: str
    domain: str  # a cookie's domain; a storage key's origin
    path: str = ""
    expires: float | None = None  # seconds since the epoch; None: a session cookie (or a key)
    http_only: bool = False
    secure: bool = False
    page: str = ""  # the page after which it was first seen
    after_choice: bool | None = None  # choice passes: first seen only after the click


@dataclass
class PassResult:
    name: str
    banner: str = "not looked for"  # shown | not shown | missing | error: …
    pages: list[str] = field(default_factory=list)
    items: dict[tuple[str, str, str, str], Item] = field(default_factory=dict)
    sources: dict[tuple[str, str], list[Source]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def script_of(stack: str) -> Source | None:
    """Who called the hook, from a JavaScript stack: its first frame outside the hook, a
    ``script`` with a URL; a frame without one (a script added at run time with inline code, or
    ``eval``) is told by the first frame that has one, as ``added-script``."""
    frames = [line.strip() for line in stack.splitlines()[1:] if line.strip() and HOOK_URL not in line]
    for depth, frame in enumerate(frames):
        match = FRAME.search(frame)
        if match:
            return Source("script" if depth == 0 else "added-script", match.group(1), int(match.group(2)))
    return None


def set_cookie_names(headers: dict[str, Any]) -> list[str]:
    """The cookie names of a response's ``Set-Cookie`` headers (the protocol joins them with newlines)."""
    names = []
    for key, value in headers.items():
        if key.lower() == "set-cookie":
            for line in str(value).split("\n"):
                name = line.split(";", 1)[0].split("=", 1)[0].strip()
                if name:
                    names.append(name)
    return names


class Tab:
    """A tab of a fresh browser that keeps what its pages set and who set it."""

    def __init__(self, browser: Browser, result: PassResult) -> None:
        self.browser = browser
        self.result = result
        self.loaded = False
        # request ids are unique in the browser; a frame's document request starts in the page's
        # session and ends in the frame's
        self.in_flight: set[str] = set()
        self.last_request = time.monotonic()
        self.urls: dict[str, str] = {}
        self.pending_headers: list[tuple[str, list[str]]] = []
        # the tab's events are told apart by their session: the page's, and one per frame of
        # another site (which Chromium runs in a process of its own)
        self.session = ""
        self.frames: set[str] = set()
        browser.handlers.append(self._event)
        self.session = open_page(browser, [HOOK], [BINDING])

    def _add_source(self, kind: str, name: str, source: Source | None) -> None:
        if source is None:
            return
        known = self.result.sources.setdefault((kind, name), [])
        if source not in known and len(known) < 10:
            known.append(source)

    def _attached(self, child: str, kind: str) -> None:
        """A frame of another site (hooked like the page) or a worker, waiting to start."""
        try:
            if kind == "iframe":
                prepare(self.browser, child, [HOOK], [BINDING])
        except ScanFailed:
            pass  # gone before it was prepared
        finally:
            try:
                self.browser.call("Runtime.runIfWaitingForDebugger", {}, child)
            except ScanFailed:
                pass

    def _event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if session is None or (session != self.session and session not in self.frames):
            return
        if method == "Target.attachedToTarget":
            child, kind = params["sessionId"], params["targetInfo"]["type"]
            if kind == "iframe":
                self.frames.add(child)
            self.browser.tasks.append(lambda: self._attached(child, kind))
        elif method == "Target.detachedFromTarget":
            self.frames.discard(params.get("sessionId", ""))
        elif method == "Page.loadEventFired":
            if session == self.session:
                self.loaded = True
        elif method == "Network.requestWillBeSent":
            self.urls[params["requestId"]] = params["request"]["url"]
            self.in_flight.add(params["requestId"])
            self.last_request = time.monotonic()
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self.in_flight.discard(params["requestId"])
            self.last_request = time.monotonic()
        elif method == "Network.responseReceivedExtraInfo":
            names = set_cookie_names(params.get("headers", {}))
            if names:
                self.pending_headers.append((params["requestId"], names))
        elif method == "Runtime.bindingCalled" and params.get("name") == BINDING:
            try:
                call = json.loads(params["payload"])
                self._add_source(str(call["kind"]), str(call["key"]), script_of(str(call["stack"])))
            except (ValueError, KeyError, TypeError):
                pass  # a malformed report is left out

    def _attribute_headers(self) -> None:
        for request_id, names in self.pending_headers:
            url = self.urls.get(request_id)
            for name in names:
                self._add_source("cookie", name, Source("header", url) if url else None)
        self.pending_headers.clear()

    def visit(self, url: str, *, required: bool = False) -> bool:
        """Open ``url``; False (and a note) when it does not load, which ends the scan when
        ``required`` (the first page)."""
        self.loaded = False
        answer = self.browser.call("Page.navigate", {"url": url}, self.session)
        if answer.get("errorText"):
            if required:
                raise ScanFailed(f"{url} did not load: {answer['errorText']}")
            self.result.notes.append(f"{url} did not load: {answer['errorText']}")
            return False
        if not self.browser.pump(lambda: self.loaded, f"loading {url}", within=30):
            self.result.notes.append(f"{url}: no load event within 30 s; read as it was")
        if url not in self.result.pages:
            self.result.pages.append(url)
        return True

    def settle(self) -> None:
        """Wait until no request has been in flight for ``QUIET`` seconds (at most ``SETTLE_AT_MOST``)."""
        self.browser.pump(
            lambda: not self.in_flight and time.monotonic() - self.last_request >= QUIET,
            "waiting for the page to settle",
            within=SETTLE_AT_MOST,
        )

    def banner_state(self) -> str:
        state = evaluate(self.browser, self.session, READY) or {}
        if not state.get("present"):
            return "missing"
        if state.get("error") or state.get("timeout"):
            return f"error: {state.get('error') or f'it did not decide within {READY_AT_MOST:g} s'}"
        return "shown" if state.get("shown") else "not shown"

    def choose(self, action: str) -> bool:
        """Click the banner's button for ``action``; True once the banner has closed."""
        clicked = evaluate(
            self.browser,
            self.session,
            f"(function () {{ var b = document.querySelector(\"{BANNER} button[data-action='{action}']\");"
            " if (!b) { return false; } b.click(); return true; })()",
        )
        if not clicked:
            return False
        closed = f'!document.querySelector("{BANNER}")'
        return self.browser.pump(
            lambda: bool(evaluate(self.browser, self.session, closed)),
            "waiting for the banner to close",
            within=READY_AT_MOST,
        )

    def links(self) -> list[str]:
        return [str(href) for href in evaluate(self.browser, self.session, LINKS) or []]

    def snapshot(self, page: str, *, after_choice: bool | None) -> None:
        """Add what the browser holds now: every cookie, and the page's storage keys."""
        self._attribute_headers()
        origin = origin_of(page)
        found: list[Item] = []
        for c in self.browser.call("Storage.getCookies").get("cookies", []):
            found.append(
                Item(
                    "cookie",
                    c["name"],
                    c["domain"],
                    c.get("path", "/"),
                    None if c.get("session") or c.get("expires", -1) < 0 else float(c["expires"]),
                    bool(c.get("httpOnly")),
                    bool(c.get("secure")),
                )
            )
        keys = evaluate(self.browser, self.session, STORAGE_KEYS) or {}
        for area in ("localStorage", "sessionStorage"):
            found.extend(Item(area, str(k), origin) for k in keys.get(area, []))
        for frame in list(self.frames):
            try:
                keys = evaluate(self.browser, frame, STORAGE_KEYS) or {}
                frame_origin = str(evaluate(self.browser, frame, "location.origin"))
            except ScanFailed:
                continue  # the frame went away
            for area in ("localStorage", "sessionStorage"):
                found.extend(Item(area, str(k), frame_origin) for k in keys.get(area, []))
        for item in found:
            key = (item.kind, item.name, item.domain, item.path)
            if key not in self.result.items:
                item.page, item.after_choice = page, after_choice
                self.result.items[key] = item


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def check_url(url: str) -> str:
    """The start URL, if it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScanFailed(f"{url!r} is not an http(s) URL")
    return url


def same_origin_links(links: Sequence[str], origin: str) -> list[str]:
    out = []
    for href in links:
        url = urldefrag(href).url
        if url.startswith(("http://", "https://")) and origin_of(url) == origin:
            out.append(url)
    return out


def run_pass(
    name: str,
    pages: list[str],
    limit: int,
    deadline: Deadline,
    chromium: Path,
    only_hosts: Sequence[str] | None,
) -> PassResult:
    """One pass in a fresh profile. The first pass (no choice) finds the pages: the start URL and
    same-origin links of the pages visited, up to ``limit``; the others visit the same pages,
    clicking the banner on the first and then visiting every page again."""
    result = PassResult(name)
    origin = origin_of(pages[0])
    with Browser(chromium, deadline, only_hosts) as browser:
        tab = Tab(browser, result)
        if name == NO_CHOICE:
            queue, seen = list(pages[:1]), set(pages[:1])
            while queue and len(result.pages) < limit:
                page = queue.pop(0)
                if not tab.visit(page, required=page == pages[0]):
                    continue
                if page == pages[0]:
                    result.banner = tab.banner_state()
                tab.settle()
                tab.snapshot(page, after_choice=None)
                for link in same_origin_links(tab.links(), origin):
                    if link not in seen:
                        seen.add(link)
                        queue.append(link)
            return result
        tab.visit(pages[0], required=True)
        result.banner = tab.banner_state()
        tab.settle()
        tab.snapshot(pages[0], after_choice=False)
        if result.banner != "shown":
            result.notes.append(f"the banner was not shown ({result.banner}): no choice was made")
        elif not tab.choose(name):
            result.notes.append(f"the banner's {name} button did not close it")
        tab.settle()
        tab.snapshot(pages[0], after_choice=True)
        for page in pages:
            if tab.visit(page):
                tab.settle()
                tab.snapshot(page, after_choice=True)
    return result


def crawl(
    url: str,
    *,
    pages: int,
    deadline: Deadline,
    chromium: Path,
    offline: bool,
    also_reach: Sequence[str] = (),
) -> list[PassResult]:
    """The three passes over ``url`` and up to ``pages - 1`` same-origin pages it links to;
    ``offline``: no host name but the URL's and ``also_reach`` resolves."""
    check_url(url)
    only_hosts = [str(urlsplit(url).hostname), *also_reach] if offline else None
    first = run_pass(NO_CHOICE, [url], pages, deadline, chromium, only_hosts)
    found = first.pages
    return [first, *(run_pass(name, found, pages, deadline, chromium, only_hosts) for name in PASSES[1:])]
