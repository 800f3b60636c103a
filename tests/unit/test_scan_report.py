"""The scanner's reading of what a browser reported, and its findings, without a browser."""

from __future__ import annotations

from consent_service.scan.crawl import (
    ACCEPT_ALL,
    NO_CHOICE,
    REJECT_ALL,
    Item,
    PassResult,
    Source,
    origin_of,
    same_origin_links,
    script_of,
    set_cookie_names,
)
from consent_service.scan.report import Declared, party, report

URL = "https://www.shop.example/"


def test_the_script_is_the_first_frame_outside_the_hook():
    stack = (
        "Error\n"
        "    at tell (consent-scan-hook.js:5:52)\n"
        "    at HTMLDocument.set (consent-scan-hook.js:11:7)\n"
        "    at track (https://cdn.example/t.js?v=2:1:230)\n"
        "    at https://www.shop.example/:14:5"
    )
    assert script_of(stack) == Source("script", "https://cdn.example/t.js?v=2", 1)
    assert script_of("Error\n    at consent-scan-hook.js:5:52\n    at <anonymous>:1:1") is None
    added = "Error\n    at HTMLDocument.set (consent-scan-hook.js:11:7)\n    at <anonymous>:2:21\n    at run (https://www.shop.example/banner.js:2:900)"
    assert script_of(added) == Source("added-script", "https://www.shop.example/banner.js", 2)


def test_set_cookie_headers_give_every_name():
    headers = {"Content-Type": "text/html", "set-cookie": "a=1; Path=/\nb=2; HttpOnly\n=odd"}
    assert set_cookie_names(headers) == ["a", "b"]
    assert set_cookie_names({"Set-Cookie": "sid=x"}) == ["sid"]


def test_origins_links_and_parties():
    assert origin_of("HTTPS://Shop.Example:443/a?b") == "https://shop.example"
    assert origin_of("http://127.0.0.1:5000/x") == "http://127.0.0.1:5000"
    links = [
        "https://shop.example/b#top",
        "https://other.example/",
        "mailto:x@shop.example",
        "https://shop.example:8443/",
    ]
    assert same_origin_links(links, "https://shop.example") == ["https://shop.example/b"]
    assert party(".shop.example", URL) == "first"
    assert party("www.shop.example", URL) == "first"
    assert party("ads.example", URL) == "third"
    assert party("example", "https://notexample/") == "third"


def _pass(name: str, *items: Item) -> PassResult:
    result = PassResult(name, banner="shown")
    for item in items:
        result.items[(item.kind, item.name, item.domain, item.path)] = item
    return result


def test_findings_per_pass():
    declared = Declared(
        {"id": "site_1", "name": "Shop"}, {"sid": ("essential", True), "_ga": ("analytics", False)}
    )
    sid = Item("cookie", "sid", "www.shop.example", "/", None, True)
    ga = Item("cookie", "_ga", ".shop.example", "/", 1_900_000_000.0)
    own = Item("localStorage", "consent_service.device_id", "https://www.shop.example")
    stray = Item("sessionStorage", "tracker", "https://www.shop.example")
    passes = [
        _pass(NO_CHOICE, sid, own, stray),
        _pass(ACCEPT_ALL, sid, ga, own),
        _pass(REJECT_ALL, sid, ga, own),
    ]
    passes[0].sources[("sessionStorage", "tracker")] = [Source("script", "https://cdn.example/t.js", 3)]
    out = report(URL, declared, passes)
    flags = {(f["pass"], f["name"]): f["flags"] for f in out["findings"]}
    assert flags == {
        (NO_CHOICE, "tracker"): ["undeclared", "before_consent"],
        (REJECT_ALL, "_ga"): ["after_reject"],
    }
    assert out["findings"][0]["set_by"] == [{"via": "script", "url": "https://cdn.example/t.js", "line": 3}]
    accepted = {i["name"]: i for i in out["passes"][1]["items"]}
    assert accepted["_ga"]["expires"] == "2030-03-17T17:46:40Z" and accepted["_ga"]["party"] == "first"
    assert accepted["sid"]["expires"] == "session" and accepted["consent_service.device_id"]["declared"]
    assert [i["kind"] for i in out["passes"][1]["items"]] == ["cookie", "cookie", "localStorage"]
    assert not out["clean"]
    assert report(URL, declared, passes[1:2])["clean"]


def test_offline_resolves_only_the_hosts_named():
    from pathlib import Path

    from consent_service.scan.cdp import flags

    rules = [f for f in flags(Path("profile"), ["shop.example", "cdn.example"]) if "resolver" in f]
    assert rules == ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE shop.example, EXCLUDE cdn.example"]
    assert not [f for f in flags(Path("profile"), None) if "resolver" in f]
    assert "--user-data-dir=profile" in flags(Path("profile"), None)
