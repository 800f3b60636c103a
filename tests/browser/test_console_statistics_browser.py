"""The statistics page in a real browser: Chart.js draws every chart under the console's strict
Content-Security-Policy (no violation in the browser's log), the DPO sees every number and an
agent sees "fewer than 10" instead of small ones; axe-core finds no serious or critical
violation in German and English; screenshots de/en, desktop and phone, go to
CONSENT_TEST_SCREENSHOT_DIR."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consent_service import create_app
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger.service import DecisionInput, RecordConsent, record_consent
from consent_service.registry.sites import list_sites
from consent_service.subjects.service import IdentityRef
from tests.browser.axe import axe_source
from tests.browser.chromium import assert_png, served, shots_dir
from tests.browser.test_console_browser import (
    SIZES,
    accessible,
    by_css,
    heading,
    shoot,
    sign_in,
    switch_language,
)
from tests.console_helpers import DPO, PASSWORD, add_staff, overdue_paper_request

AGENT = "agent@example.org"
BLANK = "document.createElement('canvas')"


def decide(ctx: Context, who: str, method: str, granted: list[tuple[str, bool]], site: str | None) -> None:
    record_consent(
        ctx,
        RecordConsent(
            decisions=[DecisionInput("purpose", key, g) for key, g in granted],
            channel="banner" if site else "api",
            method=method,
            actor_type="site" if site else "client",
            actor_id=site or "cli_statistics",
            subject=IdentityRef("email", f"{who}@example.org"),
            language="de",
            jurisdiction="DE",
        ),
    )


@pytest.fixture
def live(ctx: Context) -> Iterator[str]:
    seed(ctx)
    add_staff(ctx)
    add_staff(ctx, email=AGENT, role="agent")
    with ctx.uow(write=False) as uow:
        site = list_sites(uow.session)[0].id
    for n in range(30):  # many accept all on the site, a few reject or choose, some by API
        decide(ctx, f"a{n}", "accept_all", [("analytics", True), ("newsletter", True)], site)
    for n in range(4):
        decide(ctx, f"r{n}", "reject_all", [("analytics", False), ("newsletter", False)], site)
    for n in range(12):
        decide(ctx, f"c{n}", "custom", [("analytics", True), ("newsletter", False)], site)
    for n in range(3):  # withdrawals of earlier grants
        decide(ctx, f"a{n}", "api", [("newsletter", False)], None)
    overdue_paper_request(ctx)
    with served(create_app(context=ctx)) as url:
        yield url


def charts_drawn(driver: Any) -> dict[str, bool]:
    from selenium.webdriver.support.ui import WebDriverWait

    script = (
        "const out = {}; for (const c of document.querySelectorAll('canvas[data-chart]')) {"
        f" const b = {BLANK}; b.width = c.width; b.height = c.height;"
        " out[c.dataset.chart] = c.width > 0 && c.toDataURL() !== b.toDataURL(); } return out;"
    )
    WebDriverWait(driver, 15).until(lambda d: all(d.execute_script(script).values()))
    return dict(driver.execute_script(script))


def whole_page(driver: Any, folder: Any, name: str) -> None:
    """The whole page at desktop width (``shoot`` keeps to the window): every chart and table."""
    import base64

    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"})
    path = folder / f"console-{name}-full.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert_png(path)


def no_csp_violations(driver: Any) -> None:
    log = driver.get_log("browser")
    bad = [e["message"] for e in log if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]]
    assert bad == []


def test_the_dpo_and_an_agent_see_charts_and_tables(offline_browser, live, tmp_path):
    axe = axe_source()
    folder = shots_dir(tmp_path)
    driver = offline_browser
    driver.set_window_size(*SIZES["desktop"])
    sign_in(driver, live, DPO, PASSWORD)
    heading(driver, "Requests")
    by_css(driver, "nav.side a[href$='/console/statistics']").click()
    heading(driver, "Statistics")
    assert by_css(driver, "nav.side a[aria-current=page]").text == "Statistics"
    assert charts_drawn(driver) == {"optin": True, "shares": True, "withdrawals": True, "requests": True}
    canvas = by_css(driver, "canvas[data-chart=optin]")
    assert canvas.get_attribute("role") == "img" and "table below" in canvas.get_attribute("aria-label")
    main = by_css(driver, "main").text
    assert "every number" in main and "fewer than 10" not in main.split("subjects.", 1)[1]
    no_csp_violations(driver)
    accessible(driver, axe, "statistics, dpo, en")
    shoot(driver, folder, "statistics-dpo-en")
    whole_page(driver, folder, "statistics-dpo-en")
    switch_language(driver, "de")
    heading(driver, "Statistik")
    charts_drawn(driver)
    accessible(driver, axe, "statistics, dpo, de")
    shoot(driver, folder, "statistics-dpo-de")
    no_csp_violations(driver)

    driver.delete_all_cookies()
    sign_in(driver, live, AGENT, PASSWORD)
    driver.get(f"{live}/console/statistics")
    heading(driver, "Statistics")
    assert charts_drawn(driver)["optin"]
    assert "fewer than 10" in by_css(driver, "#withdrawals-heading ~ .table-wrap table").text
    no_csp_violations(driver)
    accessible(driver, axe, "statistics, agent, en")
    shoot(driver, folder, "statistics-agent-en")
    switch_language(driver, "de")
    heading(driver, "Statistik")
    assert "weniger als 10" in by_css(driver, "#withdrawals-heading ~ .table-wrap table").text
    accessible(driver, axe, "statistics, agent, de")
    shoot(driver, folder, "statistics-agent-de")
    whole_page(driver, folder, "statistics-agent-de")
    no_csp_violations(driver)
