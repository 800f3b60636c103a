"""A real browser (headless Debian Chromium, driven by selenium) uses the banner on ``/demo``.

The service runs for real on a free local port (werkzeug server thread, same context as the
test); the demo data is seeded for that origin (as `make run` does), the test clicks the banner and
checks the ledger through the service's Python API. Skips with a reason when Chromium,
chromedriver or selenium are missing; fails instead under CONSENT_TEST_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from consent_service import create_app
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger.queries import decide_one
from consent_service.subjects.service import IdentityRef
from tests.browser.chromium import WAIT, assert_png, chromium, served

BANNER = "#consent-service-banner"


@dataclass
class Live:
    base: str
    ctx: Context


def serve(ctx: Context, *, own_site: bool) -> Iterator[Live]:
    """Serve the app on a free port; with ``own_site`` the demo site is seeded for that origin.

    That is what ``make run`` does for its HOST:PORT; without it the demo site allows only its
    default origins (port 8000).
    """
    with served(create_app(context=ctx)) as base:
        seed(ctx, [base] if own_site else [])
        yield Live(base, ctx)


@pytest.fixture
def live(ctx: Context) -> Iterator[Live]:
    yield from serve(ctx, own_site=True)


@pytest.fixture
def live_foreign_origin(ctx: Context) -> Iterator[Live]:
    """Only the seeded demo site exists, and it does not allow this server's origin."""
    yield from serve(ctx, own_site=False)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver


# helpers -------------------------------------------------------------------------------------


def banner_ready(driver: Any) -> dict[str, Any]:
    """Wait for the banner to decide whether to ask; its answer ``{shown, error?}``."""
    return driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "window.ConsentService.ready.then(done, function (e) { done({error: String(e)}); });"
    )


def open_demo(driver: Any, live: Live, query: str = "") -> Any:
    from selenium.webdriver.common.by import By

    driver.get(f"{live.base}/demo{query}")
    state = banner_ready(driver)
    assert state["shown"] is True, state
    banner = driver.find_element(By.CSS_SELECTOR, BANNER)
    assert banner.is_displayed()
    return banner


def click(banner: Any, action: str) -> None:
    from selenium.webdriver.common.by import By

    banner.find_element(By.CSS_SELECTOR, f"button[data-action='{action}']").click()


def wait_closed(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(lambda d: not d.find_elements(By.CSS_SELECTOR, BANNER))


def stored(driver: Any) -> tuple[str, dict[str, Any]]:
    """The device id and the stored decision the banner left in localStorage."""
    device_id, state = driver.execute_script(
        "var key = document.querySelector('script[data-site-key]').dataset.siteKey;"
        "return [localStorage.getItem('consent_service.device_id'),"
        "        JSON.parse(localStorage.getItem('consent_service.consent.' + key))];"
    )
    assert device_id, "the banner stored no device id"
    return device_id, state


def allowed(live: Live, device_id: str, purpose: str) -> bool:
    return decide_one(live.ctx, IdentityRef("device_id", device_id), purpose).allowed


# tests ---------------------------------------------------------------------------------------


def test_accept_all_records_consent_and_the_banner_stays_closed(browser, live, tmp_path):
    from selenium.webdriver.common.by import By

    banner = open_demo(browser, live)
    assert banner.get_attribute("role") == "dialog"
    assert banner.get_attribute("aria-labelledby") == "consent-service-title"
    assert "Your privacy choices" in banner.text
    screenshot = tmp_path / "banner.png"
    assert browser.save_screenshot(str(screenshot))
    assert_png(screenshot)

    click(banner, "accept_all")
    wait_closed(browser)

    device_id, state = stored(browser)
    assert state["method"] == "accept_all"
    assert state["decisions"] == {"analytics": True, "newsletter": True, "ads": True}
    assert state["receipt_id"].startswith("rcpt_")
    assert allowed(live, device_id, "analytics")
    assert allowed(live, device_id, "ads")
    summary = browser.find_element(By.ID, "consent-summary").text
    assert "analytics: allowed" in summary, summary  # the page heard consent-service:decision

    browser.refresh()
    assert banner_ready(browser)["shown"] is False
    assert not browser.find_elements(By.CSS_SELECTOR, BANNER)
    assert "analytics: allowed" in browser.find_element(By.ID, "consent-summary").text


def test_reject_all_denies_analytics(browser, live):
    banner = open_demo(browser, live)
    click(banner, "reject_all")
    wait_closed(browser)

    device_id, state = stored(browser)
    assert state["decisions"] == {"analytics": False, "newsletter": False, "ads": False}
    assert not allowed(live, device_id, "analytics")
    assert not allowed(live, device_id, "ads")
    assert allowed(live, device_id, "essential")  # strictly necessary: never asked, always on


def test_german_settings_record_a_custom_choice_and_reopen(browser, live, tmp_path):
    from selenium.webdriver.common.by import By

    banner = open_demo(browser, live, "?lang=de")
    assert "Alle akzeptieren" in banner.text
    click(banner, "settings")
    screenshot = tmp_path / "banner-settings-de.png"
    assert browser.save_screenshot(str(screenshot))
    assert_png(screenshot)
    essential = banner.find_element(By.CSS_SELECTOR, "input[data-purpose='essential']")
    assert essential.is_selected() and not essential.is_enabled()
    assert "Immer aktiv" in banner.text
    assert "Website-Analyse" in banner.text
    banner.find_element(By.CSS_SELECTOR, "input[data-purpose='analytics']").click()
    click(banner, "custom")
    wait_closed(browser)

    device_id, state = stored(browser)
    assert state["method"] == "custom"
    assert allowed(live, device_id, "analytics")
    assert not allowed(live, device_id, "newsletter")

    browser.execute_script("return window.ConsentService.open()")
    reopened = browser.find_element(By.CSS_SELECTOR, BANNER)
    assert reopened.find_element(By.CSS_SELECTOR, "input[data-purpose='analytics']").is_selected()
    assert not reopened.find_element(By.CSS_SELECTOR, "input[data-purpose='ads']").is_selected()


def test_a_refused_decision_shows_an_error_and_keeps_the_banner(browser, live_foreign_origin, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    banner = open_demo(browser, live_foreign_origin)  # the demo site does not allow this origin
    click(banner, "accept_all")
    error = banner.find_element(By.CSS_SELECTOR, "[role='alert']")
    WebDriverWait(browser, WAIT).until(lambda d: error.is_displayed())
    assert "could not be saved" in error.text
    assert banner.is_displayed()
    assert banner.find_element(By.CSS_SELECTOR, "button[data-action='accept_all']").is_enabled()
    _, state = stored(browser)
    assert state is None
    screenshot = tmp_path / "banner-error.png"
    assert browser.save_screenshot(str(screenshot))
    assert_png(screenshot)
