"""Records of processing and the ledger in a real browser: a DPO opens the records, downloads the
CSV (the API's bytes), starts a verification of the whole ledger and watches its progress
follow the work (the page's script) until the result is there.

axe-core checks the records, ledger and verification pages in German and English (no serious or
critical violation); screenshots of each, de and en, desktop and phone, go to
CONSENT_TEST_SCREENSHOT_DIR. The verification is held in the queue at first, so that its waiting
page is seen and checked, then handed to the service's embedded queue, which runs it in the background.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service import create_app, jobs
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import verification
from consent_service.ledger.checkpoints import latest_checkpoint
from consent_service.retention import ropa
from tests.browser.axe import axe_source
from tests.browser.chromium import WAIT, assert_png, served, shots_dir
from tests.browser.test_console_browser import (
    SIZES,
    accessible,
    by_css,
    heading,
    shoot,
    sign_in,
    switch_language,
    text_of,
)
from tests.console_helpers import DPO, PASSWORD, add_staff
from tests.integration.helpers import consent, email

SUBJECTS = 100  # three decisions each: 300 events


@pytest.fixture
def live(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    seed(ctx)
    add_staff(ctx)
    for n in range(SUBJECTS):
        consent(
            ctx,
            identity=email(f"visitor{n}"),
            decisions=[
                ("purpose", "analytics", True),
                ("purpose", "newsletter", n % 2 == 0),
                ("cookie", "_ga", True),
            ],
        )
    latest_checkpoint(ctx)
    monkeypatch.setattr(verification, "BATCH", 20)  # fifteen batches, each recording its progress
    held: list[str] = []
    ctx.caches[verification.VERIFIER] = lambda _ctx, verification_id: held.append(verification_id)
    ctx.caches["held-verifications"] = held
    with served(create_app(context=ctx)) as url:
        yield url


def allow_downloads(driver: Any, folder: Path) -> None:
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})


def downloaded(folder: Path, suffix: str) -> Path:
    from selenium.webdriver.support.ui import WebDriverWait

    def found(_: Any) -> Path | None:
        files = [p for p in folder.glob(f"*{suffix}") if p.stat().st_size > 0]
        return files[0] if files else None

    return WebDriverWait(None, WAIT).until(found)  # type: ignore[arg-type]


def shoot_record(driver: Any, folder: Path, name: str) -> None:
    """The newsletter's section, desktop and phone: the screenshots of ``shoot`` show the top only."""
    for size in ("desktop", "phone"):
        driver.set_window_size(*SIZES[size])
        driver.execute_script("document.getElementById('purpose-newsletter').scrollIntoView()")
        shot = folder / f"console-{name}-{size}.png"
        driver.save_screenshot(str(shot))
        assert_png(shot)
    driver.set_window_size(*SIZES["desktop"])


def test_a_dpo_reads_the_records_and_watches_a_verification_finish(offline_browser, live, ctx, tmp_path):
    axe = axe_source()
    folder = shots_dir(tmp_path)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = offline_browser
    driver.set_window_size(*SIZES["desktop"])
    allow_downloads(driver, downloads)
    sign_in(driver, live, DPO, PASSWORD)
    heading(driver, "Requests")

    driver.get(f"{live}/console/records")
    heading(driver, "Records of processing")
    assert "2 years" in text_of(driver, "#purpose-newsletter")
    assert by_css(driver, "nav.side a[aria-current=page]").text == "Records of processing"
    accessible(driver, axe, "records, en")
    shoot(driver, folder, "records-en")
    shoot_record(driver, folder, "records-en-newsletter")
    by_css(driver, "a[href$='/console/records.csv']").click()
    csv_file = downloaded(downloads, ".csv")
    assert csv_file.name.startswith("records-of-processing-")
    assert csv_file.read_bytes() == ropa.to_csv(ropa.build(ctx)).encode()
    switch_language(driver, "de")
    heading(driver, "Verzeichnis von Verarbeitungstätigkeiten")
    assert "2 Jahre" in text_of(driver, "#purpose-newsletter")
    accessible(driver, axe, "records, de")
    shoot(driver, folder, "records-de")
    shoot_record(driver, folder, "records-de-newsletter")

    driver.get(f"{live}/console/ledger")
    heading(driver, "Ledger")
    assert "Das Ledger wurde noch nicht geprüft." in text_of(driver, "main")
    accessible(driver, axe, "ledger, de")
    shoot(driver, folder, "ledger-de")
    by_css(driver, "form[action$='/console/ledger/verifications'] button").click()
    heading(driver, "Prüfung des Ledgers")
    assert text_of(driver, "#state") == "in der Warteschlange"
    assert "0 von 300 Ereignissen geprüft" in text_of(driver, ".progress")
    assert driver.find_elements("css selector", '#live[role=status][data-live="2"]')  # followed by the script
    waiting = driver.current_url
    accessible(driver, axe, "verification waiting, de")
    shoot(driver, folder, "verification-waiting-de")
    switch_language(driver, "en")
    heading(driver, "Verification of the ledger")
    accessible(driver, axe, "verification waiting, en")
    shoot(driver, folder, "verification-waiting-en")

    assert driver.current_url == waiting
    held = ctx.caches["held-verifications"]
    assert len(held) == 1
    jobs.enqueue_verification(ctx, held[0])  # the service's own queue takes it now
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(lambda d: "completed" in text_of(d, "#state"))
    assert "intact" in text_of(driver, "main")
    assert "300 of 300 events checked (100 %)" in text_of(driver, ".progress")
    assert not driver.find_elements("css selector", "[data-live]")
    accessible(driver, axe, "verification done, en")
    shoot(driver, folder, "verification-done-en")
    switch_language(driver, "de")
    heading(driver, "Prüfung des Ledgers")
    assert "intakt" in text_of(driver, "main")
    accessible(driver, axe, "verification done, de")
    shoot(driver, folder, "verification-done-de")

    by_css(driver, "main a[href$='/console/ledger']").click()
    heading(driver, "Ledger")
    assert "intakt" in text_of(driver, "main") and "gültig" in text_of(driver, "main table")
    switch_language(driver, "en")
    heading(driver, "Ledger")
    accessible(driver, axe, "ledger, en")
    shoot(driver, folder, "ledger-en")
    done = verification.latest(ctx)
    assert done is not None and done["ok"] is True and done["checked"] == 300 and done["started_by"] == DPO
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
