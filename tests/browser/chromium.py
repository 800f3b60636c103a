"""Headless Debian Chromium driven by selenium, and the app served on a free local port.

Skips with a reason when Chromium, chromedriver or selenium are missing; fails instead under
CONSENT_TEST_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import REQUIRE_SERVERS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 15  # seconds
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)  # only the service answers


def need(condition: bool, message: str) -> None:
    if not condition:
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def chromium(profile: Path, extra_flags: Sequence[str] = (), *, console: bool = False) -> Iterator[Any]:
    """A headless Chromium with its profile in ``profile``; ``console`` keeps the console log."""
    need(CHROMIUM.is_file(), f"{CHROMIUM} is missing; install it: apt-get install chromium")
    need(CHROMEDRIVER.is_file(), f"{CHROMEDRIVER} is missing; install it: apt-get install chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        need(False, "selenium is not installed; pip install -e '.[test]'")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        *extra_flags,
    ):
        options.add_argument(flag)
    if console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium never runs Selenium Manager or downloads anything.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-consent-service", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path} is not a PNG screenshot"


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: CONSENT_TEST_SCREENSHOT_DIR, else the test's temporary folder."""
    folder = Path(os.environ.get("CONSENT_TEST_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def answered(driver: Any, button: Any) -> None:
    """Click a form's button and wait until the page it answers with has loaded.

    Reading right away would find the old page's elements, which go stale under the next
    step. The wait marks the old document and waits for a document without the mark, since
    an element of a page being torn down can fail with other errors than "stale" in
    chromedriver ("Node with given id does not belong to the document")."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__consentOldPage = true")
    button.click()

    def loaded(d: Any) -> bool:
        return bool(
            d.execute_script(
                "return window.__consentOldPage === undefined && document.readyState === 'complete'"
            )
        )

    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(loaded)
