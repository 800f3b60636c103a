"""The statistics page in a real browser, over decisions seeded on several days in three months
(the context's clock moved from day to day): Chart.js draws every chart under the console's
strict Content-Security-Policy (no violation in the browser's log), and what it draws is what
the tables say (its labels are the tables' row headers, each dataset's values the numbers in
the column of the same name, a hidden number a gap), in German and English, at desktop and phone
width; the DPO sees every number, an agent sees "fewer than 10" instead of small ones and a
text where a whole chart is held back; axe-core finds no serious or critical violation;
screenshots de/en, desktop and phone, go to CONSENT_TEST_SCREENSHOT_DIR."""

from __future__ import annotations

import datetime as dt
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
from tests.browser.pages import PUBLIC_SIZES, settle_at
from tests.browser.test_console_browser import (
    accessible,
    by_css,
    heading,
    shoot,
    sign_in,
    switch_language,
)
from tests.console_helpers import DPO, PASSWORD, add_staff, overdue_paper_request
from tests.fakes import FixedClock

AGENT = "agent@example.org"
BLANK = "document.createElement('canvas')"
TODAY = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)
MONTHS = "from=2025-11-01&to=2026-01-31&interval=month"
# per day: new subjects who accept all / reject all / choose (analytics only) on the site, who
# decide by API (newsletter only, no site), and earlier accepters who withdraw the newsletter
DAYS = {
    dt.date(2025, 11, 10): {"accept_all": 12, "reject_all": 2, "custom": 4, "api": 0, "withdraw": 0},
    dt.date(2025, 11, 24): {"accept_all": 5, "reject_all": 1, "custom": 1, "api": 3, "withdraw": 0},
    dt.date(2025, 12, 8): {"accept_all": 15, "reject_all": 5, "custom": 3, "api": 2, "withdraw": 2},
    dt.date(2026, 1, 12): {"accept_all": 10, "reject_all": 11, "custom": 2, "api": 0, "withdraw": 0},
    dt.date(2026, 1, 26): {"accept_all": 14, "reject_all": 3, "custom": 10, "api": 4, "withdraw": 3},
}
GRANTED = {
    "accept_all": [("analytics", True), ("newsletter", True)],
    "reject_all": [("analytics", False), ("newsletter", False)],
    "custom": [("analytics", True), ("newsletter", False)],
    "api": [("newsletter", True)],
}


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


def grants_per_month() -> dict[str, int]:
    """What the seeding grants per month (both purposes), from ``DAYS``."""
    out: dict[str, int] = {}
    for day, plan in DAYS.items():
        month = day.strftime("%Y-%m")
        out[month] = out.get(month, 0) + 2 * plan["accept_all"] + plan["custom"] + plan["api"]
    return out


@pytest.fixture
def live(clocked_ctx: Context, clock: FixedClock) -> Iterator[str]:
    ctx = clocked_ctx
    clock.now = dt.datetime.combine(min(DAYS), dt.time(9), tzinfo=dt.UTC)
    seed(ctx)
    add_staff(ctx)
    add_staff(ctx, email=AGENT, role="agent")
    with ctx.uow(write=False) as uow:
        site = list_sites(uow.session)[0].id
    accepters = []
    for day, plan in DAYS.items():
        clock.now = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
        for method in GRANTED:
            for n in range(plan[method]):
                who = f"{day.isoformat()}-{method}-{n}"
                decide(ctx, who, method, GRANTED[method], None if method == "api" else site)
                if method == "accept_all":
                    accepters.append(who)
        for _ in range(plan["withdraw"]):  # withdrawals of earlier grants, by API
            decide(ctx, accepters.pop(0), "api", [("newsletter", False)], None)
    clock.now = TODAY
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


# Per chart on the page: what Chart.js holds (labels, datasets), and the table of its section
# (column headers, then per row its header and cells), as the reader sees them.
DRAWN_AND_TABLED = """
const out = {};
for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
  const chart = Chart.getChart(canvas);
  const table = canvas.closest('section').querySelector('table');
  out[canvas.dataset.chart] = {
    labels: chart.data.labels,
    datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data})),
    headers: [...table.tHead.rows[0].cells].map(c => c.textContent.trim()),
    rows: [...table.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent.trim())),
  };
}
return out;
"""


def number(cell: str) -> float | None:
    """A table cell as the chart should have it: a gap for "–" and for a hidden number."""
    text = cell.removesuffix("%").strip()
    try:
        return float(text)
    except ValueError:
        return None


def charts_match_tables(driver: Any) -> dict[str, Any]:
    """Assert that every chart drawn shows its table's numbers; returns what was read."""
    found = driver.execute_script(DRAWN_AND_TABLED)
    for key, chart in found.items():
        assert chart["labels"] == [row[0] for row in chart["rows"]], key
        for dataset in chart["datasets"]:
            column = chart["headers"].index(dataset["label"])
            table = [number(row[column]) for row in chart["rows"]]
            drawn = [None if v is None else float(v) for v in dataset["data"]]
            assert drawn == table, f"{key}, {dataset['label']}"
        assert any(v is not None for d in chart["datasets"] for v in d["data"]), key
    return dict(found)


def dataset(chart: dict[str, Any], label: str) -> list[Any]:
    return list(next(d["data"] for d in chart["datasets"] if d["label"] == label))


def site_name(driver: Any) -> str:
    return str(by_css(driver, "#shares-heading ~ .table-wrap tbody th").text)


def at_each_width(driver: Any) -> dict[str, Any]:
    """At desktop and phone width: the charts are drawn (not blank) and show the tables."""
    read = {}
    for width, height in PUBLIC_SIZES.values():
        driver.set_window_size(width, height)
        settle_at(driver, width)
        assert all(charts_drawn(driver).values())
        read = charts_match_tables(driver)
    driver.set_window_size(*PUBLIC_SIZES["desktop"])
    return read


def whole_page(driver: Any, folder: Any, name: str) -> None:
    """The whole page at desktop and phone width (``shoot`` keeps to the window): every chart
    and table."""
    import base64

    for size, (width, height) in PUBLIC_SIZES.items():
        driver.set_window_size(width, height)
        settle_at(driver, width)
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"}
        )
        path = folder / f"console-{name}-{size}-full.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        assert_png(path)
    driver.set_window_size(*PUBLIC_SIZES["desktop"])


def no_csp_violations(driver: Any) -> None:
    log = driver.get_log("browser")
    bad = [e["message"] for e in log if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]]
    assert bad == []


def test_the_dpo_and_an_agent_see_charts_and_tables(offline_browser, live, tmp_path):
    axe = axe_source()
    folder = shots_dir(tmp_path)
    driver = offline_browser
    driver.set_window_size(*PUBLIC_SIZES["desktop"])
    sign_in(driver, live, DPO, PASSWORD)
    heading(driver, "Requests")
    by_css(driver, "nav.side a[href$='/console/statistics']").click()
    heading(driver, "Statistics")
    assert by_css(driver, "nav.side a[aria-current=page]").text == "Statistics"
    assert charts_drawn(driver) == {"optin": True, "shares": True, "withdrawals": True}
    # the paper request came before these 30 days: its chart says so instead of drawing nothing
    assert by_css(driver, "#chart-requests-empty").text == "No requests received in this period."
    by_day = at_each_width(driver)  # the last 30 days, by day: two days with decisions
    assert len(by_day["withdrawals"]["labels"]) == 30
    assert [v is not None for v in dataset(by_day["optin"], "analytics")].count(True) == 2
    canvas = by_css(driver, "canvas[data-chart=optin]")
    assert canvas.get_attribute("role") == "img" and "table below" in canvas.get_attribute("aria-label")
    main = by_css(driver, "main").text
    assert "every number" in main and "fewer than 10" not in main.split("subjects.", 1)[1]

    driver.get(f"{live}/console/statistics?{MONTHS}")
    heading(driver, "Statistics")
    assert charts_drawn(driver) == {"optin": True, "shares": True, "withdrawals": True, "requests": True}
    by_month = at_each_width(driver)
    assert by_month["withdrawals"]["labels"] == list(grants_per_month())
    grants = [int(row[1]) for row in by_month["withdrawals"]["rows"]]
    assert grants == list(grants_per_month().values())  # the seeded months, each in its bar
    assert by_month["shares"]["labels"][-1] == "No site"
    no_csp_violations(driver)
    accessible(driver, axe, "statistics, dpo, en")
    shoot(driver, folder, "statistics-dpo-en")
    whole_page(driver, folder, "statistics-dpo-en")
    switch_language(driver, "de")
    heading(driver, "Statistik")
    german = at_each_width(driver)
    assert german["shares"]["labels"][-1] == "Ohne Website"
    assert german["withdrawals"]["datasets"][0]["label"] == "Widerrufe"
    accessible(driver, axe, "statistics, dpo, de")
    shoot(driver, folder, "statistics-dpo-de")
    whole_page(driver, folder, "statistics-dpo-de")
    no_csp_violations(driver)
    driver.get(f"{live}/console/statistics?from=2020-01-01&to=2020-01-31")  # nothing there
    assert "Keine Entscheidungen in diesem Zeitraum." in by_css(driver, "#chart-optin-empty").text
    assert driver.find_elements("css selector", "canvas[data-chart]") == []
    accessible(driver, axe, "statistics, dpo, de, empty")
    shoot(driver, folder, "statistics-dpo-de-empty")

    driver.delete_all_cookies()
    sign_in(driver, live, AGENT, PASSWORD)
    driver.get(f"{live}/console/statistics?{MONTHS}")
    heading(driver, "Statistics")
    assert set(charts_drawn(driver)) == {"optin", "shares"}  # partly shown; the rest held back
    seen = at_each_width(driver)
    rate = dataset(seen["optin"], "analytics")  # fewer than 10 denials a day until January
    assert rate[:2] == [None, None] and rate[2] is not None  # a month held back is a gap
    assert seen["shares"]["labels"] == [site_name(driver), "No site"]
    assert {d["data"][1] for d in seen["shares"]["datasets"]} == {None}  # few decide by API
    assert "fewer than 10" in by_css(driver, "#withdrawals-heading ~ .table-wrap table").text
    assert "Too few people" in by_css(driver, "#chart-withdrawals-empty").text
    no_csp_violations(driver)
    accessible(driver, axe, "statistics, agent, en")
    shoot(driver, folder, "statistics-agent-en")
    whole_page(driver, folder, "statistics-agent-en")
    switch_language(driver, "de")
    heading(driver, "Statistik")
    at_each_width(driver)
    assert "weniger als 10" in by_css(driver, "#withdrawals-heading ~ .table-wrap table").text
    assert "Zu wenige Personen" in by_css(driver, "#chart-withdrawals-empty").text
    accessible(driver, axe, "statistics, agent, de")
    shoot(driver, folder, "statistics-agent-de")
    whole_page(driver, folder, "statistics-agent-de")
    no_csp_violations(driver)
