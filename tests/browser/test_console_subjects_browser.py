"""The subject pages in a real browser: a DPO looks Anna up by e-mail, sees the notice she saw
when she consented (not the purpose's newer text), opens the proof of consent for the newsletter
and downloads it as PDF. The PDF's first page is rendered to a PNG (pypdfium2) that must not be
blank; it goes to the screenshot folder with the pages' screenshots (de and en, desktop, phone
and 320 px). axe-core checks the lookup, subject and proof pages in German and English.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service import create_app
from consent_service.context import Context
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
from tests.console_subjects_data import (
    ANNA,
    NEW_TEXT,
    OLD_TEXT,
    change_newsletter_text,
    consent,
    register_purposes,
)


@pytest.fixture
def anna(ctx: Context) -> str:
    """Anna's subject id: she consented to the newsletter's version 1; the text changed since."""
    register_purposes(ctx)
    subject_id = consent(ctx, ANNA).subject_id
    change_newsletter_text(ctx)
    add_staff(ctx)
    return subject_id


@pytest.fixture
def live(ctx: Context, anna: str) -> Iterator[str]:
    with served(create_app(context=ctx)) as url:
        yield url


def downloaded(folder: Path) -> Path:
    """The one finished download in ``folder``, waited for."""
    from selenium.webdriver.support.ui import WebDriverWait

    def done(_: Any) -> Path | None:
        files = [p for p in folder.iterdir() if not p.name.endswith(".crdownload")]
        return files[0] if files and not list(folder.glob("*.crdownload")) else None

    return WebDriverWait(None, WAIT).until(done)


def first_page_png(pdf: Path, png: Path) -> float:
    """Render the PDF's first page to ``png``; the share of its pixels that are not white."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        image = document[0].render(scale=1.5).to_pil().convert("L")
    finally:
        document.close()
    image.save(png)
    histogram = image.histogram()
    return 1 - sum(histogram[245:]) / sum(histogram)


def shoot_part(driver: Any, folder: Path, name: str, selector: str) -> None:
    """A phone-size screenshot scrolled to ``selector`` (long hashes and signatures must wrap)."""
    driver.set_window_size(*SIZES["phone"])
    driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", selector)
    shot = folder / f"console-{name}-phone.png"
    driver.save_screenshot(str(shot))
    assert_png(shot)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    driver.set_window_size(*SIZES["desktop"])


def test_a_dpo_proves_that_anna_consented_to_the_newsletter(offline_browser, live, anna, tmp_path):
    axe = axe_source()
    folder = shots_dir(tmp_path)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = offline_browser
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_window_size(*SIZES["desktop"])
    sign_in(driver, live, DPO, PASSWORD)
    heading(driver, "Requests")
    by_css(driver, "nav.side a[href$='/console/subjects']").click()
    heading(driver, "Subjects")
    assert by_css(driver, "nav.side a[aria-current=page]").text == "Subjects"
    accessible(driver, axe, "subject lookup, en")
    shoot(driver, folder, "subjects-lookup-en")

    by_css(driver, "#value").send_keys("nobody@example.org")
    by_css(driver, "form[action$='/console/subjects'] button[type=submit]").click()
    assert "No subject was found" in text_of(driver, "[role=status]")
    accessible(driver, axe, "subject lookup without a match, en")
    switch_language(driver, "de")
    heading(driver, "Betroffene")
    assert by_css(driver, "label[for=kind]").text == "Suchen nach"
    accessible(driver, axe, "subject lookup, de")
    shoot(driver, folder, "subjects-lookup-de")
    switch_language(driver, "en")
    heading(driver, "Subjects")
    by_css(driver, "#value").clear()
    by_css(driver, "#value").send_keys(ANNA.value)
    by_css(driver, "form[action$='/console/subjects'] button[type=submit]").click()
    heading(driver, f"Subject {anna}")
    assert "anna@example.org" not in driver.current_url and "a***@example.org" in text_of(driver, "main")
    shown = text_of(driver, ".event .notice-text")
    assert OLD_TEXT in shown and NEW_TEXT not in text_of(driver, "main")
    accessible(driver, axe, "subject, en")
    shoot(driver, folder, "subject-en")
    switch_language(driver, "de")
    heading(driver, f"Betroffene Person {anna}")
    assert "Einwilligung in eine frühere Version des Zwecks" in text_of(driver, "table")
    accessible(driver, axe, "subject, de")
    shoot(driver, folder, "subject-de")

    by_css(driver, "a[href*='/proof?purpose=newsletter']").click()
    heading(driver, "Nachweis der Einwilligung: Newsletter")
    assert "Diese Ereignisse sind unverändert." in text_of(driver, "article.proof")
    accessible(driver, axe, "proof, de")
    shoot(driver, folder, "proof-de")
    switch_language(driver, "en")
    heading(driver, "Proof of consent: Newsletter")
    proof = text_of(driver, "article.proof")
    assert OLD_TEXT in proof and "These events verify." in proof and "signature verifies" in proof
    accessible(driver, axe, "proof, en")
    shoot(driver, folder, "proof-en")
    shoot_part(driver, folder, "proof-en-receipts", "article.proof table.facts:nth-last-of-type(2)")

    by_css(driver, "a[href*='/proof.pdf?purpose=newsletter']").click()
    pdf = downloaded(downloads)
    assert pdf.name == f"proof-of-consent-{anna}-newsletter.pdf" and pdf.read_bytes().startswith(b"%PDF-")
    png = folder / "console-proof-en-pdf-page1.png"
    inked = first_page_png(pdf, png)
    assert_png(png)
    assert 0.01 < inked < 0.5, f"the PDF's first page looks blank or solid ({inked:.3f} of it is inked)"
    heading(driver, "Proof of consent: Newsletter")  # the download left the page as it was
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
