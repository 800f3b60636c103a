"""The banner's size and time to first layer (``python -m bench.run --banner-only``; part of ``make bench``).

Serves a fresh SQLite service with gunicorn, seeds the demo shop for that origin, and loads
``/demo`` in headless Chromium (Debian's, as the browser tests) with an empty profile each time:
the time from ``DOMContentLoaded`` to the first frame painted with the banner's first layer in
the page, median of ``loads`` loads. The baseline, measured in the same browser in the same
run, alternating with the banner loads: a script on the same page that, at ``DOMContentLoaded``,
makes one ``fetch`` of ``/health`` and waits for the next frame — the floor of any banner that
asks its server before it shows. Also the gzip size of ``banner.js`` and whether the site's
offer answers ``304`` to its ``ETag``.
"""

from __future__ import annotations

import gzip
import http.client
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import backends
from bench.server import HOST, Gunicorn

SERVED = backends.REPO / "consent_service" / "api" / "static" / "banner.js"
TARGET_MS = 100.0
TARGET_GZIP = 15_000

# Runs before any page script (DevTools protocol): notes DOMContentLoaded and the first frame
# after the banner's dialog enters the page, or (baseline) after one fetch of /health.
PROBE = """
window.__bench = {};
document.addEventListener('DOMContentLoaded', function () {
  window.__bench.dcl = performance.now();
  if (location.search.indexOf('bench=baseline') >= 0) {
    fetch('/health', {credentials: 'omit', cache: 'no-store'}).then(function (r) { return r.text(); }).then(function () {
      window.__bench.fetched = performance.now();
      requestAnimationFrame(function () { window.__bench.shown = performance.now(); });
    }, function (e) { window.__bench.error = String(e); });
  }
});
new MutationObserver(function (records, observer) {
  if (document.getElementById('consent-service-banner')) {
    observer.disconnect();
    requestAnimationFrame(function () { window.__bench.shown = performance.now(); });
  }
}).observe(document, {childList: true, subtree: true});
"""


def gzip_size() -> int:
    return len(gzip.compress(SERVED.read_bytes(), 9))


def _offer_etag(port: int, site_key: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", f"/v1/public/sites/{site_key}?lang=en")
        first = conn.getresponse()
        first.read()
        etag = first.getheader("ETag")
        out: dict[str, Any] = {"etag": bool(etag), "cache_control": first.getheader("Cache-Control")}
        if etag:
            conn.request("GET", f"/v1/public/sites/{site_key}?lang=en", headers={"If-None-Match": etag})
            second = conn.getresponse()
            second.read()
            out["revalidated_status"] = second.status
        return out
    finally:
        conn.close()


def _one_load(driver: Any, base: str, baseline: bool) -> float:
    """One load of /demo with an empty profile for the origin; ms from DOMContentLoaded to the
    frame with the first layer (baseline: with the banner script blocked, to one fetch + frame)."""
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": base, "storageTypes": "all"})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/v1/public/banner.js"] if baseline else []})
    driver.get(base + "/demo?lang=en" + ("&bench=baseline" if baseline else ""))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        marks = driver.execute_script("return window.__bench || {};")
        if "shown" in marks and "dcl" in marks:
            return float(marks["shown"] - marks["dcl"])
        time.sleep(0.01)
    state = driver.execute_script(
        "return [location.href, typeof window.ConsentService, !!document.getElementById('consent-service-banner'),"
        " JSON.stringify(localStorage), window.__bench]"
    )
    raise RuntimeError(f"the first layer (or the baseline fetch) did not come within 15 s: {state}")


def measure(entry: dict[str, Any], loads: int, log: Callable[[str], None], out: Path) -> None:
    from tests.browser.chromium import chromium

    entry["gzip_bytes"] = gzip_size()
    entry["raw_bytes"] = SERVED.stat().st_size
    log(f"banner: banner.js {entry['raw_bytes']:,} bytes, {entry['gzip_bytes']:,} gzip")
    backend = backends.sqlite_backend()
    server: Gunicorn | None = None
    try:
        backends.prepare(backend)
        server = Gunicorn(backend.env, out / "gunicorn-banner.log", threads=4)
        server.wait_healthy()
        backends._cli(backend, "demo", "--origin", server.base_url)
        site_key = _site_key(backend)
        entry["offer"] = _offer_etag(server.port, site_key)
        with (
            tempfile.TemporaryDirectory(prefix="bench-banner-") as profile,
            chromium(Path(profile)) as driver,
        ):
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})  # first visits
            url = server.base_url
            for _ in range(3):  # warm-up: caches, the server's first requests
                _one_load(driver, url, False)
                _one_load(driver, url, True)
            banner: list[float] = []
            baseline: list[float] = []
            for i in range(loads):
                order = (False, True) if i % 2 == 0 else (True, False)
                for is_baseline in order:
                    (baseline if is_baseline else banner).append(_one_load(driver, url, is_baseline))
        entry["loads"] = loads
        entry["first_layer_ms"] = _spread(banner)
        entry["baseline_ms"] = _spread(baseline)
        entry["ratio"] = round(
            entry["first_layer_ms"]["median"] / max(entry["baseline_ms"]["median"], 0.1), 2
        )
        entry["target_ms"] = TARGET_MS
        log(
            f"banner: first layer {entry['first_layer_ms']['median']:.1f} ms after DOMContentLoaded (median of "
            f"{loads}); one fetch + frame {entry['baseline_ms']['median']:.1f} ms; ratio {entry['ratio']}"
        )
    finally:
        if server is not None:
            server.stop()
        problems = backend.cleanup()
        if problems:
            entry.setdefault("cleanup_problems", []).extend(problems)


def _site_key(backend: backends.Backend) -> str:
    listing = backends._cli(backend, "sites", "list")
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) > 2 and "Demo" in line:
            return parts[1]
    raise RuntimeError(f"no demo site in: {listing}")


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }
