"""``/docs`` renders in a real browser that can reach nothing but the service.

Chromium resolves no host name (every lookup fails), so a page that needed a CDN would stay
blank. The test waits for Swagger UI to show the API's title and operations, fails on any error
in the browser console (a refused script or style under the page's Content-Security-Policy, a
file that did not load), runs axe-core (no serious or critical violation, an operation closed
and tried out) and takes screenshots at desktop and phone sizes into
CONSENT_TEST_SCREENSHOT_DIR (default: the test's temporary folder).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consent_service import create_app
from consent_service.context import Context
from tests.browser.axe import axe_source, violations
from tests.browser.chromium import WAIT, assert_png, served, shots_dir

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture
def base(ctx: Context) -> Iterator[str]:
    with served(create_app(context=ctx)) as url:
        yield url


def test_docs_render_offline_under_the_pages_policy(offline_browser, base, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = offline_browser
    folder = shots_dir(tmp_path)
    for name, (width, height) in SIZES.items():
        driver.set_window_size(width, height)
        driver.get(f"{base}/docs")
        title = WebDriverWait(driver, WAIT).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title")
        )
        assert title.text.startswith("consent_service"), title.text
        operations = driver.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")
        assert len(operations) > 20, len(operations)
        assert driver.execute_script("return typeof window.ui") == "object"
        found = violations(driver, axe_source())
        assert found == [], f"/docs at {name} size: {found}"
        shot = folder / f"docs-{name}.png"
        driver.save_screenshot(str(shot))
        assert_png(shot)
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_an_operation_opens_and_tries_out_against_the_service(offline_browser, base):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = offline_browser
    driver.get(f"{base}/docs")
    health = WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#operations-health-get_health .opblock-summary-control")
    )
    health.click()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    driver.find_element(By.CSS_SELECTOR, ".execute").click()
    status = WebDriverWait(driver, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status")
    )
    assert status.text.strip().startswith("200"), status.text
    found = violations(driver, axe_source())
    assert found == [], f"/docs with an operation tried out: {found}"
