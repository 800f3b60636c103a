"""Nothing runs before consent, and Google Consent Mode v2, in a real browser.

One service and one offline Chromium for the module (each test starts from an empty device:
no cookies, no localStorage). The demo page (``/demo``) carries the blocked content: inline and
external analytics scripts, an advertising script that needs the ``_fbp`` cookie, a partner's
iframe and image. The Consent Mode pages are the snippets of docs/banner.md (the blocks marked
``<!-- example: … -->``), served as they are with this service's address and site key, so the
documentation is what is tested.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Response

from consent_service import create_app
from consent_service.demo import seed
from consent_service.registry import service as registry
from consent_service.registry.banner_settings import CONSENT_TYPES as TYPES
from consent_service.registry.sites import change_site_offer
from tests.browser.chromium import OFFLINE, WAIT, assert_png, chromium, served, shots_dir
from tests.browser.test_banner_browser import BANNER, Live, allowed, banner_ready, click, stored, wait_closed
from tests.conftest import make_context, migrate

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "banner.md"
PAGES: dict[str, str] = {}  # the test pages the service serves at /test-page/<name>
CONSENT_MODE = {
    "enabled": True,
    "mode": "advanced",
    "mapping": {
        "analytics_storage": ["analytics"],
        "ad_storage": ["ads"],
        "ad_user_data": ["ads"],
        "ad_personalization": ["ads"],
        "security_storage": ["essential"],
        "functionality_storage": ["essential"],
    },
    "ads_data_redaction": True,
    "url_passthrough": True,
    "regions": ["DE", "AT"],
    "wait_for_update": 700,
}
ANALYTICS_RAN = "return document.querySelectorAll('#analytics-log li').length === 3"


# fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("blocking")
    url = f"sqlite:///{folder / 'consent.db'}"
    migrate(url)
    ctx = make_context(url, folder)
    app = create_app(context=ctx)
    app.add_url_rule(
        "/test-page/<name>", "test_page", lambda name: Response(PAGES[name], mimetype="text/html")
    )
    try:
        with served(app) as base:
            seed(ctx, [base])
            # a cookie declared with its own path and domain, to see that deletion uses them
            registry.save_cookie(
                ctx,
                "_pk_id",
                {
                    "domain": "127.0.0.1",
                    "path": "/demo",
                    "provider": "Matomo",
                    "duration": "P13M",
                    "purpose": "analytics",
                },
            )
            yield Live(base, ctx)
    finally:
        ctx.db.dispose()


@pytest.fixture(scope="module")
def module_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium") / "profile", OFFLINE, console=True) as driver:
        yield driver


def demo_site(live: Live) -> dict[str, Any]:
    with live.ctx.uow(write=False) as uow:
        site = next(s for s in registry.list_sites(uow.session) if s.name == "Demo shop")
        return registry.site_dict(site)


def set_banner(live: Live, banner: dict[str, Any], cookies: list[str] | None = None) -> dict[str, Any]:
    site = demo_site(live)
    return change_site_offer(
        live.ctx,
        site["id"],
        name=site["name"],
        origins=site["allowed_origins"],
        purposes=site["purposes"],
        cookies=cookies if cookies is not None else ["session", "_ga", "_fbp"],
        banner=banner,
    )


@pytest.fixture
def live(module_live: Live) -> Iterator[Live]:
    set_banner(module_live, {})
    yield module_live


@pytest.fixture
def browser(module_browser: Any, module_live: Live) -> Iterator[Any]:
    """The module's browser as a new device: no cookies, nothing stored."""
    module_browser.get(f"{module_live.base}/health")
    module_browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    module_browser.execute_script("localStorage.clear()")
    yield module_browser


# helpers -------------------------------------------------------------------------------------


def switch_off(driver: Any, settings: Any, purpose: str) -> None:
    """Switch a purpose off in the open settings once the switch has stopped moving, and wait
    until it shows the change: a click while the layer settles can land beside it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    box = settings.find_element(By.CSS_SELECTOR, f"input[data-purpose='{purpose}']")
    assert box.is_selected(), f"{purpose} should be on before it is switched off"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    where: list[Any] = []

    def still(_: Any) -> bool:  # the layer has stopped moving (opening and scrolling settle)
        where.append(box.rect)
        return len(where) > 2 and where[-1] == where[-2] == where[-3]

    WebDriverWait(driver, WAIT, poll_frequency=0.05).until(still, f"the {purpose} switch in place")
    box.click()
    WebDriverWait(driver, WAIT).until(lambda d: not box.is_selected(), f"{purpose} switched off")


def wait_for(driver: Any, script: str, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(lambda d: d.execute_script(script), what)


def log(driver: Any, name: str) -> list[str]:
    return driver.execute_script(  # type: ignore[no-any-return]
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' li')).map(function (li) { return li.textContent; })",
        name,
    )


def cookies(driver: Any) -> dict[str, str]:
    pairs = (c.split("=", 1) for c in driver.execute_script("return document.cookie").split("; ") if c)
    return {name: value for name, value in pairs}


def settled(driver: Any) -> None:
    """Let the banner's observers and promises run (a round trip through the event loop)."""
    driver.execute_async_script(
        "var done = arguments[0]; setTimeout(function () { setTimeout(done, 50); }, 0);"
    )


def open_demo(driver: Any, live: Live) -> Any:
    from selenium.webdriver.common.by import By

    driver.get(f"{live.base}/demo")
    assert banner_ready(driver)["shown"] is True
    return driver.find_element(By.CSS_SELECTOR, BANNER)


def accept_all(driver: Any, live: Live, *, mark: bool = False) -> None:
    """Accept all on the demo page and wait for its analytics scripts; ``mark`` leaves a mark on
    the page first (``window.samePage``), which a reload would remove."""
    banner = open_demo(driver, live)
    if mark:
        driver.execute_script("window.samePage = true")
    click(banner, "accept_all")
    wait_closed(driver)
    wait_for(driver, ANALYTICS_RAN, "the analytics scripts ran")


def placeholders(driver: Any) -> list[str]:
    return driver.execute_script(  # type: ignore[no-any-return]
        "return Array.from(document.querySelectorAll('[data-consent-placeholder]')).map(function (p) { return p.textContent; })"
    )


def datalayer(driver: Any) -> list[list[Any]]:
    """window.dataLayer as lists; each entry must be an arguments object, as gtag() pushes it."""
    kinds, entries = driver.execute_script(
        "var dl = window.dataLayer || [];"
        "return [dl.map(function (a) { return Object.prototype.toString.call(a); }),"
        "        JSON.stringify(dl.map(function (a) { return Array.prototype.slice.call(a); }))];"
    )
    assert set(kinds) <= {"[object Arguments]"}, kinds
    return json.loads(entries)  # type: ignore[no-any-return]


def commands(layer: list[list[Any]]) -> list[str]:
    return [" ".join(str(part) for part in entry[:2]) for entry in layer]


def example(name: str) -> str:
    """The html block of docs/banner.md marked ``<!-- example: name -->``."""
    match = re.search(
        rf"<!-- example: {re.escape(name)} -->\n```html\n(.*?)^```", DOC.read_text(), re.S | re.M
    )
    assert match, f"docs/banner.md has no example {name!r}"
    return match.group(1)


def serve_example(live: Live, name: str) -> str:
    snippet = (
        example(name)
        .replace("https://consent.example", live.base)
        .replace("pk_…", demo_site(live)["site_key"])
    )
    PAGES[name] = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name}</title>\n{snippet}</head><body><p>Shop</p></body></html>'
    )
    return f"{live.base}/test-page/{name}"


# nothing runs before consent -------------------------------------------------------------------


def test_nothing_marked_runs_or_loads_before_consent(browser, live, tmp_path):
    open_demo(browser, live)
    settled(browser)
    browser.execute_script("document.getElementById('blocked-content').scrollIntoView()")
    screenshot = shots_dir(tmp_path) / "banner-blocked-content.png"
    assert browser.save_screenshot(str(screenshot))
    assert_png(screenshot)
    assert log(browser, "analytics-log") == []
    assert log(browser, "ads-log") == []
    assert "_ga" not in cookies(browser) and "_fbp" not in cookies(browser)
    assert (
        browser.execute_script("return document.getElementById('partner-frame').getAttribute('src')") is None
    )
    assert (
        browser.execute_script("return document.getElementById('partner-image').getAttribute('src')") is None
    )
    texts = placeholders(browser)
    assert len(texts) == 2  # the iframe and the image
    for text in texts:
        assert "Content blocked" in text
        assert "This content needs your consent to “Personalised advertising”." in text
        assert "Allow and show" in text


def test_accept_runs_the_scripts_in_document_order_without_a_reload(browser, live):
    accept_all(browser, live, mark=True)
    assert log(browser, "analytics-log") == [
        "inline analytics script ran",
        "external analytics script (demo/analytics.js) ran",
        "second inline analytics script ran, after the external one",
    ]
    assert log(browser, "ads-log") == ["advertising pixel ran and set the _fbp cookie"]
    assert browser.execute_script("return window.samePage") is True  # no reload
    assert {"_ga", "_fbp"} <= set(cookies(browser))
    frame = browser.execute_script("return document.getElementById('partner-frame').getAttribute('src')")
    assert frame == "/demo/partner.html"
    assert browser.execute_script("return document.getElementById('partner-image').src").startswith(
        "data:image/svg+xml"
    )
    assert placeholders(browser) == []

    browser.refresh()  # the next page load releases them from the stored choice
    wait_for(browser, ANALYTICS_RAN, "the scripts ran again")
    assert banner_ready(browser)["shown"] is False


def test_a_refused_cookie_keeps_what_sets_it_blocked(browser, live):
    from selenium.webdriver.common.by import By

    banner = open_demo(browser, live)
    click(banner, "settings")
    banner.find_element(By.CSS_SELECTOR, "input[data-purpose='ads']").click()  # its cookies follow
    fbp = banner.find_element(By.CSS_SELECTOR, "input[data-cookie='_fbp']")
    assert fbp.is_selected()
    fbp.click()
    click(banner, "custom")
    wait_closed(browser)
    wait_for(
        browser,
        "return document.getElementById('partner-frame').getAttribute('src') !== null",
        "the frame loaded",
    )
    settled(browser)
    _, state = stored(browser)
    assert state["decisions"]["ads"] is True and state["cookies"]["_fbp"] is False
    assert log(browser, "ads-log") == []  # the script marked data-consent-cookie="_fbp" stayed blocked
    assert "_fbp" not in cookies(browser)
    assert log(browser, "analytics-log") == []

    # data-consent-cookie alone: the cookie and its purpose decide (session is strictly necessary)
    browser.execute_script(
        "['_fbp', 'session'].forEach(function (name) {"
        "  var s = document.createElement('script'); s.type = 'text/plain'; s.setAttribute('data-consent-cookie', name);"
        "  s.text = 'window.ranFor = (window.ranFor || []).concat([\"' + name + '\"]);'; document.body.appendChild(s);"
        "});"
    )
    wait_for(browser, "return window.ranFor !== undefined", "the script for the session cookie ran")
    settled(browser)
    assert browser.execute_script("return window.ranFor") == ["session"]


def test_a_placeholder_allows_its_purpose_and_loads_the_content(browser, live):
    from selenium.webdriver.common.by import By

    banner = open_demo(browser, live)
    click(banner, "reject_all")
    wait_closed(browser)
    assert len(placeholders(browser)) == 2
    browser.find_element(By.CSS_SELECTOR, "[data-consent-placeholder='ads'] button").click()
    wait_for(
        browser,
        "return document.getElementById('partner-frame').getAttribute('src') !== null",
        "the frame loaded",
    )
    wait_for(
        browser,
        "return document.getElementById('partner-image').getAttribute('src') !== null",
        "the image loaded",
    )
    assert placeholders(browser) == []
    assert browser.find_element(By.ID, "partner-frame").is_displayed()
    device_id, state = stored(browser)
    assert state["decisions"]["ads"] is True and state["decisions"]["analytics"] is False
    assert allowed(live, device_id, "ads")  # recorded in the ledger, not only on the page
    assert not allowed(live, device_id, "analytics")
    assert log(browser, "analytics-log") == []


def test_withdrawal_deletes_the_declared_cookies_and_offers_a_reload(browser, live):
    from selenium.webdriver.common.by import By

    set_banner(live, {}, cookies=["session", "_ga", "_fbp", "_pk_id"])
    accept_all(browser, live)
    browser.execute_script(
        "document.cookie = '_pk_id=1; domain=127.0.0.1; path=/demo';"  # declared with this domain and path
        "document.cookie = 'other=1; path=/';"  # not declared: not the banner's to delete
    )
    assert {"_ga", "_fbp", "_pk_id", "other"} <= set(cookies(browser))

    browser.execute_script("return window.ConsentService.open()")
    settings = browser.find_element(By.CSS_SELECTOR, BANNER)
    switch_off(browser, settings, "analytics")
    click(settings, "custom")
    wait_closed(browser)
    toast = wait_for(
        browser, "return document.querySelector('.cs-toast button[data-action=reload]')", "the reload offer"
    )
    assert toast.text == "Reload page"
    assert (
        "Features that already run stop after a reload."
        in browser.find_element(By.CSS_SELECTOR, ".cs-toast").text
    )
    left = cookies(browser)
    assert "_ga" not in left and "_pk_id" not in left  # analytics' cookies, where they were declared
    assert "_fbp" in left and "other" in left  # ads are still allowed; undeclared cookies stay

    # withdrawing ads unloads the partner's frame and image again
    browser.execute_script("return window.ConsentService.open()")
    settings = browser.find_element(By.CSS_SELECTOR, BANNER)
    switch_off(browser, settings, "ads")
    click(settings, "custom")
    wait_closed(browser)
    wait_for(
        browser,
        "return document.querySelectorAll('[data-consent-placeholder]').length === 2",
        "placeholders back",
    )
    assert (
        browser.execute_script("return document.getElementById('partner-frame').getAttribute('src')")
        == "about:blank"
    )
    assert (
        browser.execute_script("return document.getElementById('partner-image').getAttribute('src')") is None
    )
    assert "_fbp" not in cookies(browser)

    toast = browser.find_element(By.CSS_SELECTOR, ".cs-toast button[data-action=reload]")
    toast.click()  # the reload stops the scripts that ran; they stay blocked
    assert banner_ready(browser)["shown"] is False
    settled(browser)
    assert log(browser, "analytics-log") == [] and log(browser, "ads-log") == []


def test_content_added_later_stays_blocked_until_consent(browser, live):
    banner = open_demo(browser, live)
    browser.execute_script(
        "var s = document.createElement('script'); s.type = 'text/plain'; s.setAttribute('data-consent', 'analytics');"
        "s.text = 'window.lateScriptRan = true;'; document.body.appendChild(s);"
        "var f = document.createElement('iframe'); f.id = 'late-frame'; f.setAttribute('data-consent', 'ads');"
        "f.setAttribute('data-src', '/demo/partner.html'); document.body.appendChild(f);"
    )
    wait_for(
        browser,
        "return document.querySelectorAll('[data-consent-placeholder]').length === 3",
        "a placeholder for it",
    )
    assert browser.execute_script("return window.lateScriptRan") is None
    assert browser.execute_script("return document.getElementById('late-frame').getAttribute('src')") is None
    click(banner, "accept_all")
    wait_for(browser, "return window.lateScriptRan === true", "the late script ran")
    assert (
        browser.execute_script("return document.getElementById('late-frame').getAttribute('src')")
        == "/demo/partner.html"
    )


# Google Consent Mode v2 ------------------------------------------------------------------------


def expected_default(granted: tuple[str, ...], extra: dict[str, Any]) -> dict[str, Any]:
    return {**{t: "granted" if t in granted else "denied" for t in TYPES}, **extra}


def test_advanced_mode_default_comes_first_then_updates_from_each_decision(browser, live):
    set_banner(live, {"consent_mode": CONSENT_MODE})
    url = serve_example(live, "consent-mode-advanced")
    browser.get(url)
    assert banner_ready(browser)["shown"] is True
    layer = datalayer(browser)
    # a new device: the banner knows none of the site's settings yet, so the strictest default,
    # before the page's own gtag('js') and gtag('config')
    assert layer[0] == ["consent", "default", expected_default((), {"wait_for_update": 500})]
    assert commands(layer)[1:4] == ["set ads_data_redaction", "js " + layer[2][1], "config G-XXXXXXXXXX"]
    # the settings arrived: only what differs (the necessary types, url_passthrough)
    assert layer[4:] == [
        ["consent", "update", {"functionality_storage": "granted", "security_storage": "granted"}],
        ["set", "url_passthrough", True],
    ]

    browser.refresh()  # the settings are known now
    assert banner_ready(browser)["shown"] is True
    layer = datalayer(browser)
    assert layer[0] == [
        "consent",
        "default",
        expected_default(
            ("functionality_storage", "security_storage"), {"wait_for_update": 700, "region": ["DE", "AT"]}
        ),
    ]
    assert layer[1:3] == [["set", "ads_data_redaction", True], ["set", "url_passthrough", True]]
    assert commands(layer)[3:] == ["js " + layer[3][1], "config G-XXXXXXXXXX"]  # no update before a decision

    click(browser.find_element("css selector", BANNER), "settings")
    browser.find_element("css selector", f"{BANNER} input[data-purpose='analytics']").click()
    click(browser.find_element("css selector", BANNER), "custom")
    wait_closed(browser)
    layer = datalayer(browser)
    assert layer[-1] == [
        "consent",
        "update",
        expected_default(("analytics_storage", "functionality_storage", "security_storage"), {}),
    ]

    browser.refresh()  # each page load: the update from the stored choice, right after the default
    layer = datalayer(browser)
    assert commands(layer)[:4] == [
        "consent default",
        "set ads_data_redaction",
        "set url_passthrough",
        "consent update",
    ]
    assert layer[3][2] == expected_default(
        ("analytics_storage", "functionality_storage", "security_storage"), {}
    )
    assert commands(layer)[4:6] == ["js " + layer[4][1], "config G-XXXXXXXXXX"]
    assert banner_ready(browser)["shown"] is False
    assert commands(datalayer(browser)).count("consent update") == 1


def test_basic_mode_keeps_the_google_tag_blocked_until_consent(browser, live):
    settings = {**CONSENT_MODE, "mode": "basic", "regions": [], "url_passthrough": False}
    set_banner(live, {"consent_mode": settings})
    url = serve_example(live, "consent-mode-basic")
    browser.get(url)  # a first page, so that the settings are known on the next
    banner_ready(browser)
    browser.refresh()
    assert banner_ready(browser)["shown"] is True
    settled(browser)
    layer = datalayer(browser)
    assert layer == [
        [
            "consent",
            "default",
            expected_default(("functionality_storage", "security_storage"), {"wait_for_update": 700}),
        ],
        ["set", "ads_data_redaction", True],
    ]  # no Google tag command: the tag and its configuration are blocked
    google = "return Array.from(document.scripts).filter(function (s) { return s.src.indexOf('googletagmanager.com') >= 0; }).length"
    assert browser.execute_script(google) == 0

    click(browser.find_element("css selector", BANNER), "reject_all")
    wait_closed(browser)
    settled(browser)
    assert commands(datalayer(browser)) == ["consent default", "set ads_data_redaction", "consent update"]
    assert browser.execute_script(google) == 0  # refused: the tag stays blocked

    browser.execute_script("return window.ConsentService.open()")
    click(browser.find_element("css selector", f"{BANNER} [data-layer='settings']"), "accept_all")
    wait_closed(browser)
    wait_for(
        browser,
        "return (window.dataLayer || []).some(function (a) { return a[0] === 'config'; })",
        "the tag's configuration",
    )
    layer = datalayer(browser)
    assert commands(layer)[:4] == [
        "consent default",
        "set ads_data_redaction",
        "consent update",
        "consent update",
    ]
    assert layer[3][2] == expected_default(tuple(t for t in TYPES if t != "personalization_storage"), {})
    assert commands(layer)[4:] == [
        "js " + layer[4][1],
        "config G-XXXXXXXXXX",
    ]  # the update before the tag's commands
    assert browser.execute_script(google) == 1


def test_the_banner_warns_about_a_setup_that_breaks_the_order(browser, live):
    """Google's tag before the banner, unmarked in basic mode, and data-consent-mode on a site
    whose settings have Consent Mode off: each is named in the browser console."""
    key = demo_site(live)["site_key"]
    PAGES["late"] = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>late</title>'
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXXXXXXXX"></script>'
        "<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}"
        "gtag('js', new Date()); gtag('config', 'G-XXXXXXXXXX');</script>"
        f'<script src="/v1/public/banner.js" data-site-key="{key}" data-consent-mode></script>'
        "</head><body></body></html>"
    )
    browser.get_log("browser")  # what earlier tests logged
    browser.get(f"{live.base}/test-page/late")
    banner_ready(browser)
    warnings = [e["message"] for e in browser.get_log("browser") if e["level"] == "WARNING"]
    for words in (
        "Google tag commands ran before the Consent Mode default",
        "Consent Mode is basic for this site, but a Google tag loads before consent",
        "data-consent-mode, but Consent Mode is off",
    ):
        assert any(words in w for w in warnings), (words, warnings)
    assert commands(datalayer(browser))[:3] == [
        "js " + datalayer(browser)[0][1],
        "config G-XXXXXXXXXX",
        "consent default",
    ]
