"""The banner's choices in a real browser: Reject all beside Accept all, closing without consent,
per-cookie switches, the floating button and links, when it asks again, GPC, the keyboard,
accessibility (axe-core) and screenshots of both layers in German and English, desktop and phone.

One service and one Chromium serve the whole module (a fresh device per test: the page's storage
is cleared and the site's banner settings reset before each). Time is simulated by rewriting the
decision the banner keeps in localStorage (``frontend/banner/src/storage.js``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from consent_service import create_app
from consent_service.context import Context
from consent_service.demo import DEMO_PURPOSES, seed
from consent_service.ledger.queries import history
from consent_service.registry import service as registry
from consent_service.registry.sites import change_site_offer, read_sites
from tests.browser.axe import axe_source, violations
from tests.browser.chromium import WAIT, assert_png, chromium, served, shots_dir
from tests.browser.test_banner_browser import BANNER, Live, allowed, banner_ready, click, stored, wait_closed
from tests.conftest import make_context, migrate

FLOAT = ".cs-float"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
REDUCED = {"name": "prefers-reduced-motion", "value": "reduce"}
COPY_SHOTS = Path("/tmp/shots-banner")  # noqa: S108 - where a reviewer looks at the screenshots


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("banner-choices")
    url = f"sqlite:///{folder / 'consent.db'}"
    migrate(url)
    context: Context = make_context(url, folder)
    with served(create_app(context=context)) as base:
        seed(context, [base])
        yield Live(base, context)
    context.db.dispose()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium") / "profile") as browser:
        yield browser


@pytest.fixture
def browser(driver: Any, live: Live) -> Iterator[Any]:
    """The module's browser as a fresh device: the site's default banner settings, no stored
    decision, desktop size; reduced motion, so that no element is caught fading in."""
    set_banner(live, {})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics("desktop"))
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [REDUCED]})
    driver.get(f"{live.base}/v1/public/banner.js")  # the demo's origin, without running the banner
    driver.execute_script("localStorage.clear()")
    yield driver
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


# helpers -------------------------------------------------------------------------------------


def metrics(size: str) -> dict[str, Any]:
    width, height = SIZES[size]
    return {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"}


def demo_site(live: Live) -> dict[str, Any]:
    return next(s for s in read_sites(live.ctx) if s["name"] == "Demo shop")


def set_banner(live: Live, banner: dict[str, Any]) -> None:
    """Replace the demo site's banner settings (what the site does not set takes the default)."""
    site = demo_site(live)
    change_site_offer(
        live.ctx,
        site["id"],
        name=site["name"],
        origins=site["allowed_origins"],
        purposes=site["purposes"],
        cookies=site["cookies"],
        banner=banner,
    )


def reopen(driver: Any) -> Any:
    """The settings as ``ConsentService.open()`` (the page's own link) shows them."""
    driver.execute_async_script("ConsentService.open().then(arguments[arguments.length - 1])")
    return banner(driver)


def load(driver: Any, live: Live, query: str = "") -> dict[str, Any]:
    """Open the demo page; the banner's answer whether it asks (``shown``, ``due``)."""
    driver.get(f"{live.base}/demo{query}")
    return banner_ready(driver)


def banner(driver: Any) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, BANNER)


def switch(root: Any, attr: str, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return root.find_element(By.CSS_SELECTOR, f"input[data-{attr}='{name}']")


def active(driver: Any) -> dict[str, Any]:
    """What has the focus: its action, switch, id and whether it is inside the banner."""
    return driver.execute_script(
        "var e = document.activeElement;"
        "return {action: e.getAttribute('data-action'), purpose: e.getAttribute('data-purpose'),"
        "        cookie: e.getAttribute('data-cookie'), id: e.id, cls: e.className,"
        "        inBanner: !!e.closest('#consent-service-banner')};"
    )


def keys(driver: Any, *sequence: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    chain = ActionChains(driver)
    for key in sequence:
        chain.send_keys(key)
    chain.perform()


def rewrite(driver: Any, script: str) -> None:
    """Change the stored decision (``s``) with ``script``, as time passing would."""
    driver.execute_script(
        "var key = 'consent_service.consent.' + document.querySelector('script[data-site-key]').dataset.siteKey;"
        "var s = JSON.parse(localStorage.getItem(key));"
        + script
        + ";localStorage.setItem(key, JSON.stringify(s));"
    )


def ago(**delta: int) -> str:
    """A moment that long ago, in calendar units (``months=13, minutes=1``)."""
    return (dt.datetime.now(dt.UTC) - relativedelta(**delta)).isoformat()


def decide_by(driver: Any, action: str) -> None:
    click(banner(driver), action)
    wait_closed(driver)


def ledger_events(live: Live, driver: Any) -> list[dict[str, Any]]:
    _, state = stored(driver)
    return list(history(live.ctx, state["subject_id"])["events"])


def style_of(driver: Any, element: Any) -> dict[str, Any]:
    return driver.execute_script(
        "var s = getComputedStyle(arguments[0]), r = arguments[0].getBoundingClientRect();"
        "var out = {height: Math.round(r.height)};"
        "['background-color','color','font-size','font-weight','font-family','border-top-width','border-top-style',"
        " 'border-top-color','border-radius','padding-top','padding-left','text-decoration-line','opacity']"
        ".forEach(function (p) { out[p] = s.getPropertyValue(p); });"
        "return out;",
        element,
    )


# first layer -------------------------------------------------------------------------------------


def test_reject_all_is_as_prominent_as_accept_all(browser, live):
    assert load(browser, live)["shown"] is True
    root = banner(browser)
    first = root.find_element("css selector", "[data-layer='first']")
    accept = first.find_element("css selector", "button[data-action='accept_all']")
    reject = first.find_element("css selector", "button[data-action='reject_all']")
    assert accept.is_displayed() and reject.is_displayed()
    assert style_of(browser, accept) == style_of(browser, reject)
    assert accept.rect["y"] == reject.rect["y"]  # side by side, neither below the fold of the other
    assert abs(accept.rect["width"] - reject.rect["width"]) <= 1


def test_closing_is_no_consent_and_the_banner_asks_again(browser, live):
    assert load(browser, live)["shown"] is True
    click(banner(browser), "close")
    wait_closed(browser)
    nothing = browser.execute_script(
        "return [localStorage.getItem('consent_service.device_id'), window.ConsentService.decisions()]"
    )
    assert nothing == [None, None]  # no decision kept, no device id sent anywhere
    assert load(browser, live)["shown"] is True
    keys(browser, "\ue00c")  # Escape
    wait_closed(browser)
    assert load(browser, live)["shown"] is True


# settings layer: per cookie, links -------------------------------------------------------------


def test_each_cookie_has_its_own_switch_and_a_refused_cookie_is_recorded(browser, live):
    assert load(browser, live)["shown"] is True
    root = banner(browser)
    click(root, "settings")
    analytics_cookies = root.find_element("css selector", "ul[aria-label='Cookies: Website analytics']")
    ga = analytics_cookies.find_element("css selector", "li.cs-cookie")
    assert "_ga" in ga.text and "Google Analytics" in ga.text and "13 months" in ga.text
    assert "Purpose" in ga.text and "Tells visits apart." in ga.text
    assert not switch(root, "cookie", "_ga").is_selected()  # nothing is on before a choice
    switch(root, "purpose", "analytics").click()
    switch(root, "purpose", "ads").click()
    assert switch(root, "cookie", "_ga").is_selected() and switch(root, "cookie", "_fbp").is_selected()
    switch(root, "cookie", "_fbp").click()
    assert switch(root, "purpose", "ads").is_selected()  # a cookie off leaves its purpose on
    click(root, "custom")
    wait_closed(browser)

    device_id, state = stored(browser)
    assert state["cookies"] == {"_fbp": False}
    events = ledger_events(live, browser)
    cookie_events = [(e["cookie"], e["decision"]) for e in events if e["cookie"]]
    assert cookie_events == [("_fbp", "denied")], events
    assert allowed(live, device_id, "ads") and allowed(live, device_id, "analytics")
    assert browser.execute_script(
        "return [ConsentService.cookieAllowed('_ga'), ConsentService.cookieAllowed('_fbp')]"
    ) == [
        True,
        False,
    ]
    # the demo's pixel waits for its _fbp cookie, analytics.js for _ga: one ran, one did not
    cookies = browser.execute_script("return document.cookie")
    assert "_ga=" in cookies and "_fbp=" not in cookies, cookies

    root = reopen(browser)
    assert not switch(root, "cookie", "_fbp").is_selected() and switch(root, "cookie", "_ga").is_selected()
    switch(root, "purpose", "analytics").click()  # the purpose off turns its cookies off
    assert not switch(root, "cookie", "_ga").is_selected()
    switch(root, "cookie", "_ga").click()  # a cookie on turns its purpose on again
    assert switch(root, "purpose", "analytics").is_selected()


def test_the_settings_link_to_the_privacy_policy_and_imprint(browser, live):
    set_banner(live, {"links": {"privacy": "/privacy-policy", "imprint": "/imprint"}})
    assert load(browser, live, "?lang=de")["shown"] is True
    root = banner(browser)
    click(root, "settings")
    links = {a.text: a.get_attribute("href") for a in root.find_elements("css selector", ".cs-links a")}
    assert links == {
        "Datenschutzerklärung": f"{live.base}/privacy-policy",
        "Impressum": f"{live.base}/imprint",
    }
    assert all(a.is_displayed() for a in root.find_elements("css selector", ".cs-links a"))
    root.find_element("link text", "Impressum").click()
    assert browser.current_url == f"{live.base}/imprint"


# withdrawal: the floating button -----------------------------------------------------------------


def test_the_floating_button_reopens_the_settings_and_gets_the_focus_back(browser, live):
    assert load(browser, live)["shown"] is True
    assert not browser.find_elements("css selector", FLOAT)  # not while the banner asks
    decide_by(browser, "accept_all")
    button = browser.find_element("css selector", FLOAT)
    assert button.is_displayed() and button.text == "Privacy settings"
    button.click()
    root = banner(browser)
    assert root.find_element("css selector", "[data-layer='settings']").is_displayed()
    assert not button.is_displayed()  # hidden while the dialog is open
    assert active(browser)["inBanner"] and active(browser)["purpose"] == "analytics"
    switch(root, "purpose", "analytics").click()  # withdraw one purpose, as easily as it was given
    click(root, "custom")
    wait_closed(browser)
    assert "float" in active(browser)["cls"]  # focus is back on the floating button
    device_id, _ = stored(browser)
    assert not allowed(live, device_id, "analytics") and allowed(live, device_id, "ads")

    keys(browser, "\ue007")  # Enter on the focused floating button
    assert active(browser)["inBanner"]
    keys(browser, "\ue00c")  # Escape closes without a new decision
    wait_closed(browser)
    assert "float" in active(browser)["cls"]

    page_button = browser.find_element("id", "privacy-settings")  # the page's own link
    page_button.click()
    assert active(browser)["inBanner"]
    keys(browser, "\ue00c")
    wait_closed(browser)
    assert active(browser)["id"] == "privacy-settings"


def test_a_site_with_its_own_link_hides_the_floating_button(browser, live):
    set_banner(live, {"floating_button": False})
    assert load(browser, live)["shown"] is True
    decide_by(browser, "reject_all")
    assert not browser.find_elements("css selector", FLOAT)
    assert load(browser, live)["shown"] is False
    assert not browser.find_elements("css selector", FLOAT)
    browser.find_element("id", "privacy-settings").click()  # the site's link still opens them
    assert banner(browser).find_element("css selector", "[data-layer='settings']").is_displayed()


def test_a_placeholders_allow_decides_only_its_purpose(browser, live):
    from selenium.webdriver.support.ui import WebDriverWait

    load(browser, live)
    decide_by(browser, "reject_all")
    _, before = stored(browser)
    browser.execute_script(
        "var f = document.createElement('iframe'); f.setAttribute('data-consent', 'ads');"
        "f.setAttribute('data-src', 'about:blank'); f.id = 'late-widget'; document.querySelector('main').appendChild(f);"
    )
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements("css selector", ".cs-placeholder button"))
    browser.find_element("css selector", ".cs-placeholder button").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element("id", "late-widget").get_attribute("src"))
    device_id, after = stored(browser)
    assert after["decisions"] == {"analytics": False, "newsletter": False, "ads": True}
    assert after["decided"]["newsletter"] == before["decided"]["newsletter"]  # its refusal still rests
    assert after["decided"]["ads"] != before["decided"]["ads"]
    assert after["cookies"] == {"_ga": False}
    last = [(e["purpose"] or e["cookie"], e["decision"]) for e in ledger_events(live, browser)][-2:]
    assert last == [("ads", "granted"), ("_fbp", "granted")]  # the purpose, and its cookie's refusal lifted
    assert allowed(live, device_id, "ads") and not allowed(live, device_id, "analytics")


# asking again ------------------------------------------------------------------------------------


def test_an_expired_consent_is_asked_again(browser, live):
    load(browser, live)
    decide_by(browser, "accept_all")
    _, state = stored(browser)
    assert state["valid_until"]["ads"]  # ads' consent is valid for six months
    assert load(browser, live)["shown"] is False
    rewrite(browser, f"s.valid_until.ads = '{ago(minutes=1)}'")
    assert load(browser, live) == {"shown": True, "due": ["ads"]}


def test_a_grant_is_asked_again_after_reask_after(browser, live):
    load(browser, live)
    decide_by(browser, "accept_all")
    rewrite(browser, f"s.decided.analytics = '{ago(months=12, days=27)}'")
    assert load(browser, live)["shown"] is False
    rewrite(browser, f"s.decided.analytics = '{ago(months=13, minutes=1)}'")  # the default: 13 months
    assert load(browser, live) == {"shown": True, "due": ["analytics"]}
    set_banner(live, {"reask_after": "P3M"})
    rewrite(
        browser, f"s.decided.analytics = new Date().toISOString(); s.decided.newsletter = '{ago(months=4)}'"
    )
    assert load(browser, live) == {"shown": True, "due": ["newsletter"]}


def test_a_refusal_is_not_asked_again_before_refusal_reask(browser, live):
    load(browser, live)
    decide_by(browser, "reject_all")
    rewrite(browser, f"for (var k in s.decided) {{ s.decided[k] = '{ago(months=5, days=27)}' }}")
    assert load(browser, live)["shown"] is False  # the default: six months
    rewrite(browser, f"s.decided.newsletter = '{ago(months=6, minutes=1)}'")
    assert load(browser, live) == {"shown": True, "due": ["newsletter"]}
    set_banner(live, {"refusal_reask": "P1Y"})
    assert load(browser, live)["shown"] is False
    # the person may always open the settings themselves
    assert reopen(browser).find_element("css selector", "[data-layer='settings']").is_displayed()


def test_a_material_change_of_a_purpose_is_asked_again(browser, live):
    load(browser, live)
    decide_by(browser, "accept_all")
    assert load(browser, live)["shown"] is False
    spec = DEMO_PURPOSES["analytics"]
    changed = {
        **spec,
        "descriptions": {**spec["descriptions"], "en": "Counts visits and clicks to improve the website."},
    }
    try:
        registry.save_purpose(live.ctx, "analytics", changed)
        assert load(browser, live) == {"shown": True, "due": ["analytics"]}
        assert (
            "Counts visits and clicks" in reopen(browser).find_element("id", "cs-purpose-analytics-text").text
        )
    finally:
        registry.save_purpose(live.ctx, "analytics", spec)


# GPC -------------------------------------------------------------------------------------------


@pytest.fixture
def gpc(browser: Any) -> Iterator[Any]:
    """The browser sends Global Privacy Control: navigator.globalPrivacyControl and Sec-GPC: 1."""
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": "Object.defineProperty(Navigator.prototype,'globalPrivacyControl',{get:()=>true})"},
    )
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Sec-GPC": "1"}})
    try:
        yield browser
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
        browser.execute_cdp_cmd("Network.disable", {})


def test_gpc_keeps_its_purposes_refused_under_accept_all_until_switched_on(gpc, live):
    assert load(gpc, live)["shown"] is True
    assert gpc.execute_script("return ConsentService.gpc") is True
    notice = banner(gpc).find_element("css selector", "[data-notice='gpc']")
    assert notice.text == "Your browser asked not to sell or share your data; we applied it."
    decide_by(gpc, "accept_all")
    device_id, state = stored(gpc)
    assert state["decisions"] == {"analytics": False, "newsletter": True, "ads": False}  # both honor GPC
    assert not allowed(live, device_id, "analytics") and allowed(live, device_id, "newsletter")
    assert load(gpc, live)["shown"] is False  # a refusal the signal asked for is not asked again

    gpc.find_element("css selector", FLOAT).click()
    root = banner(gpc)
    assert root.find_element("css selector", "[data-notice='gpc']").is_displayed()
    switch(root, "purpose", "analytics").click()
    root.find_element(
        "css selector", "[data-layer='settings'] [data-action='accept_all']"
    ).click()  # keeps it on
    wait_closed(gpc)
    _, state = stored(gpc)
    assert state["decisions"] == {"analytics": True, "newsletter": True, "ads": False}
    assert allowed(live, device_id, "analytics") and not allowed(live, device_id, "ads")


# keyboard, focus, motion, theme ------------------------------------------------------------------


def test_the_banner_works_with_the_keyboard_alone(browser, live):
    assert load(browser, live)["shown"] is True
    assert active(browser)["action"] == "accept_all"  # the focus moved into the banner
    keys(browser, "\ue004")  # Tab
    assert active(browser)["action"] == "reject_all"
    focused = browser.switch_to.active_element
    outline = browser.execute_script(
        "var s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]", focused
    )
    assert outline == ["solid", "3px"]  # the focus is visible
    keys(browser, "\ue004")
    assert active(browser)["action"] == "settings"
    keys(browser, "\ue007")  # Enter: the settings layer, focus on its first switch
    assert active(browser)["purpose"] == "analytics"
    keys(browser, " ")  # Space switches it on
    root = banner(browser)
    assert switch(root, "purpose", "analytics").is_selected() and switch(root, "cookie", "_ga").is_selected()
    order = []
    for _ in range(12):
        keys(browser, "\ue004")
        now = active(browser)
        order.append(now["purpose"] or now["cookie"] or now["action"])
        if now["action"] == "custom":
            break
    assert order == ["_ga", "newsletter", "ads", "_fbp", "custom"], order
    keys(browser, "\ue00d")  # Space on Save choices
    wait_closed(browser)
    device_id, state = stored(browser)
    assert state["method"] == "custom"
    assert state["decisions"] == {"analytics": True, "newsletter": False, "ads": False}
    assert allowed(live, device_id, "analytics")


def test_back_returns_to_the_first_layer_with_the_focus_on_settings(browser, live):
    load(browser, live)
    keys(browser, "\ue004", "\ue004", "\ue007")
    assert banner(browser).find_element("css selector", "[data-layer='settings']").is_displayed()
    browser.execute_script("document.querySelector('#consent-service-settings [data-action=back]').focus()")
    keys(browser, "\ue007")
    assert banner(browser).find_element("css selector", "[data-layer='first']").is_displayed()
    assert active(browser)["action"] == "settings"


def test_reduced_motion_turns_the_animation_off(browser, live):
    load(browser, live)
    animation = "return getComputedStyle(document.querySelector('#consent-service-banner')).animationName"
    assert browser.execute_script(animation) == "none"
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-reduced-motion", "value": "no-preference"}]},
    )
    load(browser, live)
    assert browser.execute_script(animation) == "cs-in"


def test_the_banner_takes_the_sites_theme(browser, live):
    set_banner(live, {"theme": {"background": "#14213d", "text": "#ffffff", "accent": "#9d0208"}})
    load(browser, live)
    root = banner(browser)
    colours = browser.execute_script(
        "var c = function (s) { return getComputedStyle(document.querySelector(s)); };"
        "return [c('#consent-service-banner').backgroundColor, c('#consent-service-banner').color,"
        "        c('[data-action=accept_all]').backgroundColor, c('[data-action=reject_all]').backgroundColor]"
    )
    assert colours == ["rgb(20, 33, 61)", "rgb(255, 255, 255)", "rgb(157, 2, 8)", "rgb(157, 2, 8)"]
    click(root, "settings")
    assert violations(browser, axe_source()) == []


# accessibility and screenshots -------------------------------------------------------------------


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["en", "de"])
def test_both_layers_pass_axe_and_are_photographed(browser, live, tmp_path, lang, size):
    axe = axe_source()
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics(size))
    set_banner(live, {"links": {"privacy": "/privacy-policy", "imprint": "/imprint"}})
    assert load(browser, live, f"?lang={lang}")["shown"] is True
    root = banner(browser)
    assert root.get_attribute("lang") == lang
    assert root.get_attribute("role") == "dialog"
    width = browser.execute_script("return document.documentElement.clientWidth")
    folder = shots_dir(tmp_path)
    COPY_SHOTS.mkdir(parents=True, exist_ok=True)
    for layer in ("first", "settings"):
        if layer == "settings":
            click(root, "settings")
        assert root.find_element("css selector", f"[data-layer='{layer}']").is_displayed()
        box = root.rect
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box  # nothing sticks out sideways
        assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", root)
        assert violations(browser, axe) == [], (lang, size, layer)
        shot = folder / f"banner-{layer}-{lang}-{size}.png"
        assert browser.save_screenshot(str(shot))
        assert_png(shot)
        shutil.copy(shot, COPY_SHOTS / shot.name)


# every language, and time moving on ------------------------------------------------------------


def test_each_language_renders_from_its_translation_file(browser, live):
    from consent_service.registry import banner_texts

    languages = list(banner_texts.languages())
    assert len(languages) >= 7
    set_banner(live, {"languages": languages})
    for lang in languages:
        assert load(browser, live, f"?lang={lang}")["shown"] is True, lang
        root = banner(browser)
        texts = banner_texts.texts(lang)
        assert root.get_attribute("lang") == lang
        assert root.find_element("css selector", "h2").text == texts["title"], lang
        for action, key in (("accept_all", "accept"), ("reject_all", "reject"), ("settings", "settings")):
            button = root.find_element("css selector", f"[data-layer='first'] [data-action='{action}']")
            assert button.text == texts[key], (lang, action)
        click(root, "settings")
        assert texts["alwaysOn"] in root.text and texts["cookieProvider"] in root.text, lang


# Runs before the page's scripts: Date as if `shift` milliseconds had passed since now.
MOVED_CLOCK = """(function () {
  var Real = Date, shift = %d;
  function Moved() {
    if (!(this instanceof Moved)) { return new Real(Real.now() + shift).toString(); }
    var args = Array.prototype.slice.call(arguments);
    return args.length ? new (Function.prototype.bind.apply(Real, [null].concat(args)))() : new Real(Real.now() + shift);
  }
  Moved.now = function () { return Real.now() + shift; };
  Moved.UTC = Real.UTC;
  Moved.parse = Real.parse;
  Moved.prototype = Real.prototype;
  window.Date = Moved;
})();"""


def later(driver: Any, live: Live, **delta: int) -> dict[str, Any]:
    """Load the demo with the browser's clock moved on by ``delta`` (calendar units)."""
    now = dt.datetime.now(dt.UTC)
    shift = int(((now + relativedelta(**delta)) - now).total_seconds() * 1000)
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": MOVED_CLOCK % shift})
    try:
        return load(driver, live)
    finally:
        driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


def test_the_banner_asks_again_when_the_clock_passes_each_consents_validity(browser, live):
    assert load(browser, live)["shown"] is True
    decide_by(browser, "accept_all")
    assert later(browser, live, months=5)["shown"] is False
    # the demo's ads purpose is valid for six months, analytics and the newsletter for twelve
    assert later(browser, live, months=7) == {"shown": True, "due": ["ads"]}
    assert later(browser, live, months=14) == {"shown": True, "due": ["analytics", "newsletter", "ads"]}
    assert load(browser, live)["shown"] is False  # today nothing is due
