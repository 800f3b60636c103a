"""The console in a real browser: a DPO signs in, finds an overdue paper request in the inbox,
switches the language, changes nothing and signs out; a wrong password is shown next to the form.

Every console page (sign-in, inbox, password) is checked by axe-core in German and English: no
serious or critical violation. Screenshots of sign-in and inbox, de and en, at desktop and phone
size go to CONSENT_TEST_SCREENSHOT_DIR (default: the test's temporary folder). The browser can
reach nothing but the service, so a page that needed another origin would show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service import create_app
from consent_service.context import Context
from tests.browser.axe import axe_source, violations
from tests.browser.chromium import WAIT, answered, assert_png, served, shots_dir
from tests.browser.pages import not_sideways, settle_at
from tests.console_helpers import DPO, PASSWORD, add_staff, overdue_paper_request

SIZES = {"desktop": (1366, 900), "phone": (390, 844), "narrow": (320, 700)}


@pytest.fixture
def live(ctx: Context) -> Iterator[str]:
    add_staff(ctx)
    with served(create_app(context=ctx)) as url:
        yield url


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.CSS_SELECTOR, selector))


def text_of(driver: Any, selector: str) -> str:
    """The text of ``selector`` on the page as it is now: read again while a navigation replaces it."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    return str(wait.until(lambda d: d.find_element(By.CSS_SELECTOR, selector).text))


def heading(driver: Any, expected: str) -> None:
    """Wait until the page's heading is ``expected`` (the page may still be loading)."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d: Any) -> bool:
        try:
            return str(d.find_element(By.CSS_SELECTOR, "h1").text) == expected
        except StaleElementReferenceException:
            return False

    try:
        WebDriverWait(driver, WAIT).until(shown)
    except TimeoutException:
        raise AssertionError(  # noqa: B904 - the wait's own error says nothing of the page
            f"the heading is not {expected!r}: {driver.find_element(By.CSS_SELECTOR, 'h1').text!r}"
        )


def accessible(driver: Any, axe: str, where: str) -> None:
    found = violations(driver, axe)
    assert found == [], f"{where}: {found}"


def shoot(driver: Any, folder: Path, name: str) -> None:
    for size, (width, height) in SIZES.items():
        driver.set_window_size(width, height)
        settle_at(driver, width)
        shot = folder / f"console-{name}-{size}.png"
        driver.save_screenshot(str(shot))
        assert_png(shot)
        if driver.execute_script(
            "const t = document.querySelector('table'); t && t.scrollIntoView(); return !!t"
        ):
            driver.save_screenshot(str(folder / f"console-{name}-{size}-table.png"))
            driver.execute_script("window.scrollTo(0, 0)")
        not_sideways(driver, name, size)
    driver.set_window_size(*SIZES["desktop"])


def switch_language(driver: Any, code: str) -> None:
    answered(driver, by_css(driver, f'form.language button[value="{code}"]'))
    by_css(driver, f'html[lang="{code}"] form.language button[value="{code}"][aria-pressed=true]')


def sign_in(driver: Any, base: str, email: str, password: str) -> None:
    driver.get(f"{base}/console/login")
    by_css(driver, "#email").send_keys(email)
    by_css(driver, "#password").send_keys(password)
    answered(driver, by_css(driver, "form[action$='/console/login'] button[type=submit]"))


def test_a_dpo_finds_the_overdue_paper_request_in_both_languages(offline_browser, live, ctx, tmp_path):
    axe = axe_source()
    folder = shots_dir(tmp_path)
    request_id = overdue_paper_request(ctx)
    driver = offline_browser
    driver.set_window_size(*SIZES["desktop"])
    driver.get(f"{live}/console/")
    heading(driver, "Sign in")
    accessible(driver, axe, "sign-in, en")
    shoot(driver, folder, "login-en")
    by_css(driver, "#email").click()  # the focused field is marked (looked at in the screenshot)
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", outline
    driver.save_screenshot(str(folder / "console-login-en-focus.png"))
    switch_language(driver, "de")
    heading(driver, "Anmelden")
    accessible(driver, axe, "sign-in, de")
    shoot(driver, folder, "login-de")

    sign_in(driver, live, DPO, PASSWORD)
    row = by_css(driver, "tbody tr.overdue")
    assert request_id in row.text and "Auskunft" in row.text and "verifiziert" in row.text
    assert "überfällig" in row.find_element("css selector", ".deadline").text
    assert by_css(driver, "nav.side a[aria-current=page]").text == "Betroffenenanfragen"
    assert DPO in by_css(driver, ".who").text
    accessible(driver, axe, "inbox, de")
    shoot(driver, folder, "inbox-de")
    switch_language(driver, "en")
    deadline = text_of(driver, "tbody tr.overdue .deadline")
    assert deadline.startswith("overdue by ") and deadline.endswith(" days"), deadline
    accessible(driver, axe, "inbox, en")
    shoot(driver, folder, "inbox-en")

    from selenium.webdriver.support.ui import WebDriverWait

    by_css(driver, "#overdue").click()
    by_css(driver, "form.filters button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: "overdue=y" in d.current_url)  # the filtered page
    assert request_id in text_of(driver, "tbody")

    driver.get(f"{live}/console/password")
    heading(driver, "Change password")
    accessible(driver, axe, "password, en")
    switch_language(driver, "de")
    heading(driver, "Passwort ändern")
    accessible(driver, axe, "password, de")

    by_css(driver, "header form[action$='/console/logout'] button").click()
    heading(driver, "Anmelden")
    driver.get(f"{live}/console/requests")
    heading(driver, "Anmelden")  # signed out: back to the sign-in page
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_a_wrong_password_is_shown_and_the_error_page_is_accessible(offline_browser, live):
    axe = axe_source()
    driver = offline_browser
    for language, message in (("en", "Wrong e-mail address or password."), ("de", "Falsche E-Mail-Adresse")):
        driver.get(f"{live}/console/login")
        switch_language(driver, language)
        sign_in(driver, live, DPO, "not the password at all")
        assert message in by_css(driver, ".summary").text
        assert by_css(driver, "#email").get_attribute("value") == DPO
        assert by_css(driver, "#password").get_attribute("value") == ""
        accessible(driver, axe, f"sign-in with an error, {language}")
        by_css(driver, "#password").send_keys("x")  # an empty field is reported next to it
        by_css(driver, "#email").clear()
        by_css(driver, "form[action$='/console/login'] button[type=submit]").click()
        assert by_css(driver, "#email-error").text
        accessible(driver, axe, f"sign-in with a field error, {language}")
