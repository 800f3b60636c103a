"""Access to the console in a real browser: sign-in throttling (the lock-out message after 5
wrong passwords), CSRF rejection (a form sent with a tampered token), session expiry (the test
clock moved past the idle time), and an administrator setting up the second factor from the QR
code's page, then signing in with a code computed here with pyotp.

The account, enrolment, code, staff and API-client pages are checked by axe-core in German and
English (no serious or critical violation) and photographed (de, en; desktop, phone, 320 px).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from consent_service import create_app
from consent_service.context import Context
from tests.browser.axe import axe_source
from tests.browser.chromium import WAIT, served, shots_dir
from tests.browser.test_console_browser import (
    accessible,
    by_css,
    heading,
    shoot,
    sign_in,
    switch_language,
    text_of,
)
from tests.console_helpers import DPO, PASSWORD, add_staff
from tests.fakes import FixedClock

ADMIN = "admin@example.org"
AGENT = "agent@example.org"


@pytest.fixture
def live(clocked_ctx: Context) -> Iterator[str]:
    add_staff(clocked_ctx, email=ADMIN, role="admin")
    add_staff(clocked_ctx, email=AGENT, role="agent")
    add_staff(clocked_ctx)
    with served(create_app(context=clocked_ctx)) as url:
        yield url


def both_languages(driver: Any, axe: str, folder: Any, name: str, titles: dict[str, str]) -> None:
    """axe-core and screenshots of the page shown now, in German and English."""
    for language in ("de", "en"):
        switch_language(driver, language)
        heading(driver, titles[language])
        accessible(driver, axe, f"{name}, {language}")
        shoot(driver, folder, f"{name}-{language}")


def test_five_wrong_passwords_lock_the_account_with_a_message(offline_browser, live):
    driver = offline_browser
    driver.get(f"{live}/console/login")
    switch_language(driver, "en")
    for attempt in range(5):
        sign_in(driver, live, AGENT, f"wrong password {attempt}")
        assert "Wrong e-mail address or password." in text_of(driver, ".summary")
    sign_in(driver, live, AGENT, PASSWORD)  # the right one, too late
    assert re.search(r"Too many attempts\. Try again in 1[56] minutes\.", text_of(driver, ".summary"))
    heading(driver, "Sign in")


def test_a_form_with_a_tampered_token_does_nothing_and_says_so(offline_browser, live, clocked_ctx):
    driver = offline_browser
    driver.get(f"{live}/console/login")
    switch_language(driver, "en")
    sign_in(driver, live, ADMIN, PASSWORD)
    heading(driver, "Requests")
    driver.get(f"{live}/console/staff/new")
    heading(driver, "New account")
    by_css(driver, "#email").send_keys("mallory@example.org")
    driver.execute_script("document.querySelector('main input[name=csrf_token]').value = 'tampered'")
    by_css(driver, "main form button[type=submit]").click()
    heading(driver, "Form expired")
    from consent_service.staff import service as staff

    assert "mallory@example.org" not in [u["email"] for u in staff.list_users(clocked_ctx)]


def test_an_idle_session_ends_and_the_next_click_says_so(offline_browser, live, clock: FixedClock):
    driver = offline_browser
    driver.get(f"{live}/console/login")
    switch_language(driver, "en")
    sign_in(driver, live, DPO, PASSWORD)
    heading(driver, "Requests")
    clock.advance(minutes=31)  # past CONSENT_CONSOLE_IDLE_MINUTES (30)
    by_css(driver, "nav.side a[href$='/console/account']").click()
    heading(driver, "Sign in")
    assert "Your session has ended. Please sign in again." in text_of(driver, ".summary")


def test_an_admin_sets_up_the_second_factor_and_signs_in_with_a_code(
    offline_browser, live, clock: FixedClock, tmp_path
):
    axe, folder, driver = axe_source(), shots_dir(tmp_path), offline_browser
    driver.get(f"{live}/console/login")
    sign_in(driver, live, ADMIN, PASSWORD)
    by_css(driver, "nav.side a[href$='/console/account']").click()
    both_languages(driver, axe, folder, "account", {"de": "Ihr Konto", "en": "Your account"})
    by_css(driver, "a[href$='/console/account/2fa']").click()
    heading(driver, "Set up a second factor")
    by_css(driver, "form[action$='/2fa/start'] button").click()
    qr = by_css(driver, "img.qr")
    from selenium.webdriver.support.ui import WebDriverWait

    loaded = WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", qr)
    )
    assert loaded > 100, "the QR code did not load"
    secret = by_css(driver, "#totp-secret").get_attribute("data-secret")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    both_languages(
        driver, axe, folder, "enrol", {"de": "Zweiten Faktor einrichten", "en": "Set up a second factor"}
    )
    by_css(driver, "#code").send_keys("000000")
    by_css(driver, "form[action$='/console/account/2fa'] button[type=submit]").click()
    assert by_css(driver, "#code-error").text
    accessible(driver, axe, "enrol with a wrong code, en")
    by_css(driver, "#code").clear()
    by_css(driver, "#code").send_keys(pyotp.TOTP(secret).at(clock.now))
    by_css(driver, "form[action$='/console/account/2fa'] button[type=submit]").click()
    heading(driver, "Your account")
    assert "The second factor is set up." in text_of(driver, ".notice")

    by_css(driver, "header form[action$='/console/logout'] button").click()
    heading(driver, "Sign in")
    clock.advance(seconds=30)  # a new code; the one of the enrolment is used up
    sign_in(driver, live, ADMIN, PASSWORD)
    both_languages(driver, axe, folder, "code", {"de": "Code eingeben", "en": "Enter your code"})
    by_css(driver, "#code").send_keys(pyotp.TOTP(secret).at(clock.now))
    by_css(driver, "form[action$='/console/login/code'] button[type=submit]").click()
    heading(driver, "Requests")

    by_css(driver, "nav.side a[href$='/console/staff']").click()
    both_languages(driver, axe, folder, "staff", {"de": "Mitarbeitende", "en": "Staff"})
    assert "yes" in text_of(driver, "tbody")  # the admin's second factor
    by_css(driver, "a[href$='/console/staff/new']").click()
    heading(driver, "New account")
    accessible(driver, axe, "new account, en")
    by_css(driver, "#email").send_keys("auditor@example.org")
    by_css(driver, "main form button[type=submit]").click()
    heading(driver, "Account created")
    assert len(text_of(driver, "#one-time-password")) >= 20
    accessible(driver, axe, "one-time password, en")

    driver.get(f"{live}/console/clients")
    heading(driver, "API clients")
    assert "No API clients yet." in text_of(driver, ".empty")
    by_css(driver, "a[href$='/console/clients/new']").click()
    heading(driver, "New client")
    by_css(driver, "#name").send_keys("CRM")
    by_css(driver, "input[value='consent:read']").click()
    by_css(driver, "main form button[type=submit]").click()
    heading(driver, "Client created")
    assert text_of(driver, "#client-token").startswith("cs_")
    accessible(driver, axe, "client token, en")
    shoot(driver, folder, "client-token-en")
    by_css(driver, "a[href$='/console/clients']").click()
    both_languages(driver, axe, folder, "clients", {"de": "API-Clients", "en": "API clients"})
    by_css(driver, "a[href*='/revoke']").click()
    heading(driver, "Revoke client")
    accessible(driver, axe, "revoke client, en")
    by_css(driver, "#confirm").click()
    by_css(driver, "main form button[type=submit]").click()
    heading(driver, "API clients")
    assert "revoked" in text_of(driver, "tbody")
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert [m for m in severe if "status of 422" not in m] == []  # the wrong code's page is a 422
