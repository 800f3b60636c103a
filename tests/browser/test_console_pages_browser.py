"""Every console page, in German and English, in a real browser: axe-core finds no serious or
critical violation, no page scrolls sideways at phone width, and each is photographed.

The pages are the ones an administrator (who sees every section) reaches by following links from
the inbox, on the demo's data: new pages are checked as soon as they are linked. Screenshots go to
CONSENT_TEST_SCREENSHOT_DIR (default: the test's temporary folder) as
``page-<path>-<language>-<size>.png``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from consent_service import create_app
from consent_service.web.i18n import LANGUAGE_COOKIE
from tests.browser.axe import axe_source, violations
from tests.browser.chromium import WAIT, assert_png, served, shots_dir
from tests.console_crawl import crawl, seed_console_data
from tests.console_helpers import PASSWORD, add_staff, sign_in

ADMIN = "admin@example.org"
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture
def app(ctx: Any) -> Any:
    seed_console_data(ctx)
    add_staff(ctx, email=ADMIN, role="admin")
    return create_app(context=ctx)


def html_pages(app: Any) -> list[str]:
    client = app.test_client()
    sign_in(client, email=ADMIN, password=PASSWORD)
    pages = crawl(client)
    return sorted(url for url, r in pages.items() if r.status_code == 200 and r.mimetype == "text/html")


def browser_sign_in(driver: Any, base: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/console/login")
    driver.find_element(By.ID, "email").send_keys(ADMIN)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form[action$='/console/login'] button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith("/console/requests"))


def shot_name(url: str, language: str, size: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", url.removeprefix("/console/").lower()).strip("-") or "home"
    return f"page-{slug[:80]}-{language}-{size}.png"


def test_every_console_page_is_accessible_and_fits_a_phone_in_both_languages(
    app: Any, offline_browser: Any, tmp_path: Any
) -> None:
    axe = axe_source()
    folder = shots_dir(tmp_path)
    urls = html_pages(app)
    assert "/console/requests" in urls
    driver = offline_browser
    found: dict[str, list[Any]] = {}
    sideways: list[str] = []
    with served(app) as base:
        driver.set_window_size(*SIZES["desktop"])
        browser_sign_in(driver, base)
        for language in ("en", "de"):
            driver.add_cookie({"name": LANGUAGE_COOKIE, "value": language, "path": "/console"})
            for url in urls:
                driver.set_window_size(*SIZES["desktop"])
                driver.get(base + url)
                assert driver.find_element("css selector", "html").get_attribute("lang") == language, url
                assert driver.find_elements("css selector", "h1"), f"{url} has no heading"
                problems = violations(driver, axe)
                if problems:
                    found[f"{url} ({language})"] = problems
                for size, (width, height) in SIZES.items():
                    driver.set_window_size(width, height)
                    shot = folder / shot_name(url, language, size)
                    driver.save_screenshot(str(shot))
                    assert_png(shot)
                    if size == "phone" and driver.execute_script(
                        "return document.documentElement.scrollWidth > window.innerWidth"
                    ):
                        sideways.append(f"{url} ({language})")
    assert found == {}
    assert sideways == [], "these pages scroll sideways at phone width"
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
