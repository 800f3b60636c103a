"""The request pages in a real browser, end to end: a DPO signs in, finds the overdue paper
request in the inbox, opens it, runs it and downloads its package; finds a request that came by
e-mail by the person's address, verifies it with a note and runs it; refuses a third on a ground.
What the people were told is read from a real SMTP server (aiosmtpd).

axe-core checks the inbox, the search results, the new-request page (also with an error) and the
request page before and after a run, in German and English: no serious or critical violation.
Screenshots (de and en, desktop and phone) go to CONSENT_TEST_SCREENSHOT_DIR.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service import create_app
from consent_service.context import Context
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.dsar.retries import QUEUE
from consent_service.subjects.service import IdentityRef
from tests.api.conftest import smtp  # noqa: F401 - the real SMTP server fixture, shared
from tests.api.mail import text_of as mail_text
from tests.browser.axe import axe_source
from tests.browser.chromium import WAIT, answered, served, shots_dir
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
from tests.console_helpers import DPO, PASSWORD, add_staff, overdue_paper_request


@pytest.fixture
def live(ctx: Context, smtp: Any) -> Iterator[str]:  # noqa: F811 - the fixture imported above
    controller, _ = smtp
    ctx.config = ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port)
    add_staff(ctx)
    app = create_app(context=ctx)
    ctx.caches.pop(QUEUE)  # no task queue in this test: "Run" runs the request at once
    with served(app) as url:
        yield url


def by_email(ctx: Context, kind: str, email: str) -> str:
    command = OpenRequest(kind, [IdentityRef("email", email)], {"method": "email"}, language="de")
    return str(open_request(ctx, command, actor="portal")["id"])


def submit(driver: Any, form: str) -> None:
    """Send the form and wait for the answer's page (reading right away could see the old one)."""
    answered(driver, by_css(driver, f"{form} button[type=submit]"))


def wait_for(driver: Any, condition: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(condition)


def both_languages(driver: Any, axe: str, folder: Path, name: str, first: str = "de") -> None:
    """axe-core and screenshots of the page open in ``driver``, in German and English."""
    for language in (first, "en" if first == "de" else "de"):
        switch_language(driver, language)
        accessible(driver, axe, f"{name}, {language}")
        shoot(driver, folder, f"{name}-{language}")


def downloaded(folder: Path, suffix: str) -> Path:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = [p for p in folder.glob(f"*{suffix}") if p.stat().st_size > 0]
        if found:
            return found[0]
        time.sleep(0.05)  # a download is a file appearing: there is no page event to wait for
    raise AssertionError(f"no {suffix} file was downloaded to {folder}: {list(folder.iterdir())}")


def test_a_dpo_runs_verifies_and_refuses_requests_end_to_end(offline_browser, live, ctx, smtp, tmp_path):  # noqa: F811
    _, mailbox = smtp
    axe = axe_source()
    folder = shots_dir(tmp_path)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    overdue = overdue_paper_request(ctx)
    pending = by_email(ctx, "access", "ben@example.org")
    unfounded = by_email(ctx, "erasure", "carla@example.org")
    assert mailbox.of_kind("verification_code", 2)  # the portal's requests asked for their codes
    driver = offline_browser
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_window_size(*SIZES["desktop"])
    driver.get(f"{live}/console/")
    switch_language(driver, "de")
    sign_in(driver, live, DPO, PASSWORD)
    heading(driver, "Betroffenenanfragen")
    both_languages(driver, axe, folder, "requests-inbox")

    # the overdue paper request: open it from the inbox, run it, download the package
    row = by_css(driver, "tbody tr.overdue")
    assert overdue in row.text and "overdue by" in row.text
    row.find_element("css selector", "a").click()
    heading(driver, f"Access {overdue}")
    assert "a***@example.org" in text_of(driver, "#identities-heading + ul")
    assert "overdue by" in text_of(driver, ".facts")
    both_languages(driver, axe, folder, "request-before-run", first="en")
    submit(driver, "form[action$='/run']")
    assert "abgeschlossen" in text_of(driver, ".notice[role=status]")
    heading(driver, f"Auskunft {overdue}")
    assert "abgeschlossen" in text_of(driver, ".facts .badge")
    both_languages(driver, axe, folder, "request-after-run")
    by_css(driver, f"a[href$='/requests/{overdue}/package/json']").click()
    package = downloaded(downloads, ".json")
    assert overdue in package.read_text(encoding="utf-8")
    ready = mailbox.of_kind("completed_access")
    assert ready and ready[0]["To"] == "anna@example.org"
    assert overdue in mail_text(ready[0])

    # a request that came by e-mail: found by the person's address, verified with a note, run
    for language, title, found in (
        ("de", "Suchergebnisse", "1 Anfrage gefunden"),
        ("en", "Search results", "1 request found"),
    ):
        driver.get(f"{live}/console/requests")
        switch_language(driver, language)
        by_css(driver, "#identity_value").send_keys("ben@example.org")
        submit(driver, "form.search")
        heading(driver, title)
        assert found in text_of(driver, "caption")
        assert "ben@example.org" not in driver.current_url  # a POST: nothing personal in the URL
        accessible(driver, axe, f"search results, {language}")
        shoot(driver, folder, f"requests-search-{language}")
    by_css(driver, f"a[href$='/requests/{pending}']").click()
    heading(driver, f"Access {pending}")
    by_css(driver, "#verify-note").send_keys("called back on the number in the customer file")
    submit(driver, "form[action$='/verify']")
    assert "verified" in text_of(driver, ".notice[role=status]")
    assert "verified by the DPO" in text_of(driver, "#identities-heading + ul")
    submit(driver, "form[action$='/run']")
    assert "completed" in text_of(driver, ".facts .badge")
    ben = mailbox.of_kind("completed_access", 2)
    assert any(m["To"] == "ben@example.org" and pending in mail_text(m) for m in ben)
    timeline = text_of(driver, ".timeline")
    assert f"by {DPO}" in timeline and "Identities verified" in timeline

    # the third: refused as manifestly unfounded, after the confirmation
    driver.get(f"{live}/console/requests")
    by_css(driver, "#request_id").send_keys(unfounded)
    submit(driver, "form.search")
    heading(driver, f"Erasure {unfounded}")
    by_css(driver, "#refuse-ground option[value=manifestly_unfounded]").click()
    by_css(driver, "#refuse-reason").send_keys("The request names a contract we never had with you.")
    submit(driver, "form[action$='/refuse']")
    assert by_css(driver, "#refuse-confirm-error").text  # not confirmed: nothing was done
    accessible(driver, axe, "request with a form error, en")
    by_css(driver, "#refuse-confirm").click()
    submit(driver, "form[action$='/refuse']")
    assert "refused" in text_of(driver, ".facts .badge")
    told = mailbox.of_kind("refused")
    assert told and told[0]["To"] == "carla@example.org"
    assert "never had with you" in mail_text(told[0])

    # a new request entered by hand: the form, and a day in the future refused next to its field
    driver.get(f"{live}/console/requests/new")
    heading(driver, "New request")
    both_languages(driver, axe, folder, "request-new", first="en")
    by_css(driver, "#identities-0-value").send_keys("dora@example.org")
    driver.execute_script("document.getElementById('received_on').value = '2099-01-01'")
    by_css(driver, "#verify").click()
    by_css(driver, "#note").send_keys("signed letter")
    submit(driver, "form[action$='/requests/new']")
    assert "Zukunft" in text_of(driver, "#received_on-error")
    accessible(driver, axe, "new request with an error, de")
    # the forms sent with errors answer 400 and 422 on purpose; anything else is a fault of the page
    expected = ("status of 400 (BAD REQUEST)", "status of 422 (UNPROCESSABLE ENTITY)")
    errors = [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not e["message"].endswith(expected)
    ]
    assert errors == []
