"""The cookie scanner (``consent-service sites scan``) on a shop served locally, in Debian's
headless Chromium, with no network (``--offline``: only the shop's host resolves).

The shop is two pages of this test's own (a test-only blueprint on the real app) with the
service's banner and the demo site's offer: the server sets the necessary ``session`` cookie,
an inline script sets ``_track``, which no registry declares, before anything is asked, and the
declared ``_ga`` is set by a script the banner runs only with consent to analytics. A third page
embeds a frame of another site (``localhost``) whose script writes a storage key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Blueprint, Response, request

from consent_service import create_app
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.scan.cdp import CHROMIUM, Deadline, ScanFailed
from consent_service.scan.crawl import crawl
from consent_service.scan.report import declared_for, report
from tests.browser.chromium import need, served

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scan shop</title></head>
<body>
  <h1>Scan shop</h1>
  <a href="/scan-shop/about">About us</a> <a href="https://elsewhere.example/">elsewhere</a>
  <script>
    document.cookie = "_track=1; path=/; max-age=86400";
  </script>
  <script type="text/plain" data-consent="analytics">
    document.cookie = "_ga=GA1.1.42; path=/; max-age=86400";
  </script>
  <script src="/v1/public/banner.js" data-site-key="{key}" defer></script>
</body></html>
"""
FRAME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Widget</title></head>
<body>
  <p>A widget of another site</p>
  <script>
    localStorage.setItem("_widget_seen", "1");
    document.cookie = "_widget=1; path=/; SameSite=None; Secure";
  </script>
</body></html>
"""
TRACK_LINE = PAGE.splitlines().index('    document.cookie = "_track=1; path=/; max-age=86400";') + 1


@pytest.fixture
def shop_url(ctx: Context) -> Iterator[str]:
    need(CHROMIUM.is_file(), f"{CHROMIUM} is missing; install it: apt-get install chromium")
    app = create_app(context=ctx)
    holder: dict[str, str] = {}
    app.register_blueprint(shop_key_blueprint(holder))
    with served(app) as base:
        holder["key"] = seed(ctx, [base])["site"]["site_key"]
        yield f"{base}/scan-shop"


def shop_key_blueprint(holder: dict[str, str]) -> Blueprint:
    """The shop's blueprint, reading the site key once the demo site is seeded for the port."""

    blp = Blueprint("scan_shop", __name__)

    @blp.get("/scan-shop")
    def home() -> Response:
        response = Response(PAGE.replace("{key}", holder["key"]), mimetype="text/html")
        response.set_cookie("session", "s1", httponly=True)
        return response

    @blp.get("/scan-shop/about")
    def about() -> Response:
        page = PAGE.replace("{key}", holder["key"]).replace("Scan shop</h1>", "About</h1>")
        return Response(page, mimetype="text/html")

    @blp.get("/scan-frames")
    def framed() -> Response:
        # the shop's page with a frame of another site (localhost is not 127.0.0.1)
        frame = request.host_url.replace("127.0.0.1", "localhost") + "scan-shop/frame"
        page = PAGE.replace("{key}", holder["key"]).replace("</h1>", f'</h1><iframe src="{frame}"></iframe>')
        return Response(page, mimetype="text/html")

    @blp.get("/scan-shop/frame")
    def frame() -> Response:
        response = Response(FRAME, mimetype="text/html")
        response.set_cookie("_frame_header", "1", samesite="None", secure=True)
        return response

    return blp


def scan(ctx: Context, url: str, pages: int = 2) -> dict[str, Any]:
    passes = crawl(
        url, pages=pages, deadline=Deadline(120), chromium=CHROMIUM, offline=True, also_reach=["localhost"]
    )
    return report(url, declared_for(ctx, url), passes)


def doc_example() -> str:
    """The example output in docs/cookie-scan.md: its text block that begins with ``scan of``."""
    doc = (Path(__file__).resolve().parents[2] / "docs/cookie-scan.md").read_text()
    (block,) = re.findall(r"^```text\n(scan of .*?)^```", doc, re.S | re.M)
    return str(block)


def normalised(output: str, shop_url: str) -> list[str]:
    """The table's lines without what differs from run to run: port, keys, ids, times, spacing."""
    out = re.sub(r"http://127\.0\.0\.1:\d+", "BASE", output)
    out = re.sub(r"pk_[\w-]+?(?=\.settings\b|\s)", "KEY", out)
    out = re.sub(r"site_[0-9a-f]+", "SITE", out)
    out = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", out)
    return [" ".join(line.split()) for line in out.strip().splitlines()]


def by_name(result: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    (found,) = [p for p in result["passes"] if p["name"] == name]
    return {item["name"]: item for item in found["items"]}


def test_the_scan_finds_the_undeclared_cookie_its_script_and_what_consent_allowed(ctx, shop_url):
    result = scan(ctx, shop_url)
    about = shop_url + "/about"
    assert [p["pages"][:2] for p in result["passes"]][0] == [shop_url, about]
    assert [p["banner"] for p in result["passes"]] == ["shown", "shown", "shown"]

    before = by_name(result, "no_choice")
    track = before["_track"]
    assert track["flags"] == ["undeclared", "before_consent"]
    assert {"via": "script", "url": shop_url, "line": TRACK_LINE} in track["set_by"]
    assert track["party"] == "first" and track["expires"] != "session" and not track["http_only"]
    session = before["session"]
    assert session["flags"] == [] and session["strictly_necessary"] and session["http_only"]
    assert session["purpose"] == "essential" and session["expires"] == "session"
    assert {"via": "header", "url": shop_url} in session["set_by"]
    assert "_ga" not in before
    own = [i for n, i in before.items() if n.startswith("consent_service.")]
    assert own and all(i["kind"] == "localStorage" and i["purpose"] == "the banner's own" for i in own)
    assert all(i["flags"] == [] for i in own)
    # nothing that is not necessary before consent but the deliberate one
    assert {n for n, i in before.items() if not i["strictly_necessary"]} == {"_track"}

    accepted = by_name(result, "accept_all")
    ga = accepted["_ga"]
    assert ga["declared"] and ga["purpose"] == "analytics" and ga["flags"] == []
    assert ga["set_after_choice"] is True
    # the banner ran the blocked inline script once analytics was allowed
    assert [s["via"] for s in ga["set_by"]] == ["added-script"]
    assert ga["set_by"][0]["url"].endswith("/v1/public/banner.js"), ga

    rejected = by_name(result, "reject_all")
    assert "_ga" not in rejected
    not_necessary = {n: i for n, i in rejected.items() if not i["strictly_necessary"]}
    assert set(not_necessary) == {"_track"}  # left from before the choice; nothing was set after it
    assert not_necessary["_track"]["set_after_choice"] is False
    assert not_necessary["_track"]["flags"] == ["undeclared", "after_reject"]

    assert not result["clean"]
    assert {(f["pass"], f["name"]) for f in result["findings"]} == {
        ("no_choice", "_track"),
        ("accept_all", "_track"),
        ("reject_all", "_track"),
    }


def test_a_frame_of_another_site_is_hooked_too(ctx, shop_url):
    framed = shop_url.replace("/scan-shop", "/scan-frames")
    result = scan(ctx, framed, pages=1)
    widget = by_name(result, "no_choice")["_widget_seen"]
    frame_origin = shop_url.replace("127.0.0.1", "localhost").removesuffix("/scan-shop")
    assert widget["kind"] == "localStorage" and widget["origin"] == frame_origin
    assert widget["set_by"] == [{"via": "script", "url": frame_origin + "/scan-shop/frame", "line": 6}]
    assert widget["flags"] == ["undeclared", "before_consent"]


def test_the_command_prints_a_table_or_json_and_exits_2_on_findings(ctx, shop_url, monkeypatch):
    from consent_service.cli import main

    monkeypatch.setattr("consent_service.cli.scan._context", lambda: ctx)
    runner = CliRunner()
    shown = runner.invoke(main, ["sites", "scan", shop_url, "--offline", "--pages", "2"])
    assert shown.exit_code == 2, shown.output
    assert re.search(
        r"^  _track +127\.0\.0\.1 +/ .*undeclared,before_consent +script /scan-shop:7", shown.output, re.M
    )
    assert shown.output.rstrip().endswith("3 findings")
    assert normalised(shown.output, shop_url) == normalised(
        doc_example(), shop_url
    )  # the docs show a real run
    as_json = runner.invoke(main, ["sites", "scan", shop_url, "--offline", "--json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.output)["findings"]


def test_a_bad_url_no_site_an_unreachable_host_and_the_time_limit_end_the_scan(
    ctx, shop_url, monkeypatch, tmp_path
):
    from consent_service.cli import main

    monkeypatch.setattr("consent_service.cli.scan._context", lambda: ctx)
    runner = CliRunner()
    refused = {
        "is not an http(s) URL": ["file:///etc/passwd"],
        "no registered site allows the origin http://127.0.0.2:9": ["http://127.0.0.2:9/"],
        "Invalid value for '--pages'": [shop_url, "--pages", "0"],
        "not a host name: x, MAP * 10.0.0.1": [shop_url, "--offline", "--also-reach", "x, MAP * 10.0.0.1"],
        "Chromium is not installed": [shop_url, "--chromium", str(tmp_path / "no-chromium")],
        "Chromium could not be started": [shop_url, "--chromium", __file__],
    }
    for message, argv in refused.items():
        answer = runner.invoke(main, ["sites", "scan", *argv])
        assert answer.exit_code == 1 and message in answer.output, (argv, answer.output)
    with pytest.raises(ScanFailed, match=r"did not finish within 0\.5 s"):
        crawl(shop_url, pages=2, deadline=Deadline(0.5), chromium=CHROMIUM, offline=True)
    with pytest.raises(ScanFailed, match="did not load"):
        crawl("http://unreachable.example/", pages=1, deadline=Deadline(60), chromium=CHROMIUM, offline=True)


def test_the_banner_keeps_its_storage_under_the_prefix_the_scanner_knows():
    from consent_service.scan.report import BANNER_STORAGE_PREFIX

    source = (Path(__file__).resolve().parents[2] / "frontend/banner/src/storage.js").read_text()
    keys = re.findall(r'^const \w+ = "([^"]+)";', source, re.M)
    assert keys and all(k.startswith(BANNER_STORAGE_PREFIX) for k in keys), keys
