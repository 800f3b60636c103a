"""The stores and retention pages in a real browser: a DPO tests a store's connection, edits its
description with a mistake, sees the problem under its line and fixes it; places a legal hold
and releases it after the confirmation; starts a dry run and watches it finish on its page.

Every page of the area is checked by axe-core in German and English (no serious or critical
violation), and screenshots (de and en, desktop and phone) go to CONSENT_TEST_SCREENSHOT_DIR.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from consent_service import create_app
from consent_service.context import Context
from consent_service.retention import runs
from consent_service.retention import service as retention
from consent_service.stores import registry
from tests.api.helpers import CRM_STORE
from tests.browser.axe import axe_source
from tests.browser.chromium import served, shots_dir
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

RULE = {
    "applies_to": {"store": "crm", "collection": "customers"},
    "period": "P1Y",
    "trigger": {"type": "last_activity", "field": "last_login"},
    "action": "delete",
}


@pytest.fixture
def live(ctx: Context, tmp_path: Path) -> Iterator[str]:
    add_staff(ctx)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT, last_login TEXT)")
        )
        conn.execute(text("INSERT INTO customers VALUES (1, 'a@x.org', 'A', '2020-05-01 10:00:00')"))
        conn.execute(text("INSERT INTO customers VALUES (2, 'b@x.org', 'B', '2020-05-01 10:00:00')"))
    engine.dispose()
    registry.save_store(ctx, "crm", CRM_STORE | {"connection": {"url": url}, "description": "the CRM"})
    retention.save_rule(ctx, "inactive", RULE | {"description": "a year after the last login"}, actor="test")
    with served(create_app(context=ctx)) as base:
        yield base


def shows(driver: Any, selector: str, needle: str) -> None:
    """Wait until ``selector`` holds ``needle`` (read again while a navigation replaces the page)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (StaleElementReferenceException, NoSuchElementException)
    wait = WebDriverWait(driver, 20, ignored_exceptions=ignored)
    wait.until(lambda d: needle in d.find_element("css selector", selector).text)


def to_language(driver: Any, code: str) -> None:
    """Switch to ``code`` unless the page already speaks it (a click then would race the next step)."""
    if driver.find_element("css selector", "html").get_attribute("lang") != code:
        switch_language(driver, code)


def submit(driver: Any, form: str = "main form") -> None:
    by_css(driver, f"{form} button[type=submit].primary").click()


def set_text(driver: Any, selector: str, value: str) -> None:
    field = by_css(driver, selector)
    field.clear()
    field.send_keys(value)


def test_a_dpo_edits_a_store_places_a_hold_and_watches_a_dry_run(offline_browser, live, ctx, tmp_path):
    from selenium.webdriver.support.ui import Select

    axe = axe_source()
    folder = shots_dir(tmp_path)
    driver = offline_browser
    driver.set_window_size(*SIZES["desktop"])
    sign_in(driver, live, DPO, PASSWORD)
    by_css(driver, "nav.side")
    to_language(driver, "en")

    # the list, and the test button
    driver.get(f"{live}/console/stores")
    heading(driver, "Stores")
    assert "not tested yet" in text_of(driver, "#store-crm")
    by_css(driver, "#store-crm button[type=submit]").click()
    shows(driver, "#store-crm", "passed")
    accessible(driver, axe, "stores, en")
    shoot(driver, folder, "stores-en")

    # the editor: a mistake is shown under its line, nothing is saved; then it is fixed
    by_css(driver, "#store-crm a").click()
    heading(driver, "Store crm")
    assert "passed" in text_of(driver, "#last-test + p")
    accessible(driver, axe, "store, en")
    shoot(driver, folder, "store-en")
    by_css(driver, "a[href$='/stores/crm/edit']").click()
    heading(driver, "Edit store crm")
    original = by_css(driver, "#text").get_attribute("value")
    doc = json.loads(original)
    doc["collections"]["customers"]["fields"]["name"]["erase"] = "shred"
    wrong = json.dumps(doc, indent=2)
    line = next(n for n, t in enumerate(wrong.split("\n"), 1) if '"shred"' in t)
    for language in ("en", "de"):
        set_text(driver, "#text", wrong)
        submit(driver, "form.store-editor")
        problem = text_of(driver, "tr.line-problem .error")
        assert "collections.customers.fields.name.erase" in problem and "must be one of" in problem
        assert text_of(driver, "tr.has-problem th") == str(line)
        assert driver.execute_script(
            "return document.querySelector('tr.has-problem').nextElementSibling.classList.contains('line-problem')"
        )
        by_css(driver, f".summary a[href='#line-{line}']").click()
        assert driver.current_url.endswith(f"#line-{line}")
        accessible(driver, axe, f"store editor with a problem, {language}")
        shoot(driver, folder, f"store-edit-problem-{language}")
        if language == "en":
            to_language(driver, "de")
            heading(driver, "Speicher bearbeiten crm")
    doc["collections"]["customers"]["fields"]["name"]["erase"] = "mask"
    set_text(driver, "#text", json.dumps(doc, indent=2))
    submit(driver, "form.store-editor")
    heading(driver, "Speicher crm")
    assert "mask" in text_of(driver, "main")
    accessible(driver, axe, "store, de")
    shoot(driver, folder, "store-de")
    driver.get(f"{live}/console/stores")
    heading(driver, "Datenspeicher")
    accessible(driver, axe, "stores, de")
    shoot(driver, folder, "stores-de")

    # a legal hold, placed and released
    driver.get(f"{live}/console/retention")
    heading(driver, "Aufbewahrung")
    by_css(driver, "a[href$='/retention/holds/new']").click()
    heading(driver, "Sperre setzen")
    set_text(driver, "#key", "case-17")
    Select(by_css(driver, "#store")).select_by_value("crm")
    set_text(driver, "#reason", "Rechtsstreit 17")
    submit(driver)
    shows(driver, "#hold-case-17", "in Kraft")
    accessible(driver, axe, "retention, de")
    shoot(driver, folder, "retention-de")
    by_css(driver, "#hold-case-17 a[href$='/release']").click()
    heading(driver, "Sperre freigeben case-17")
    set_text(driver, "#reason", "Verfahren beendet")
    submit(driver)  # without the confirmation: shown again, nothing released
    assert text_of(driver, "#confirm-error")
    accessible(driver, axe, "release with an error, de")
    by_css(driver, "#confirm").click()
    submit(driver)
    shows(driver, "#hold-case-17", "freigegeben")

    # a dry run, started from the page, finishes on its own page
    to_language(driver, "en")
    heading(driver, "Retention")
    by_css(driver, "form.filters button[type=submit]").click()
    heading(driver, "Dry run")
    shows(driver, ".facts", "completed")
    assert driver.find_elements("css selector", "[data-live]") == []
    assert text_of(driver, ".totals div:first-child dd") == "2"  # two customers are due
    assert "changes nothing" in text_of(driver, "main")
    accessible(driver, axe, "run, en")
    shoot(driver, folder, "run-en")
    to_language(driver, "de")
    heading(driver, "Probelauf")
    accessible(driver, axe, "run, de")
    shoot(driver, folder, "run-de")
    driver.get(f"{live}/console/retention")
    to_language(driver, "en")
    heading(driver, "Retention")
    shoot(driver, folder, "retention-en")

    # a run still queued (the task queue has not picked it up): its live region follows it until done
    queued = runs.create_run(ctx, dry_run=True, store="crm", started_by="test")
    driver.get(f"{live}/console/retention/runs/{queued['id']}")
    heading(driver, "Dry run")
    assert "queued" in text_of(driver, ".facts")
    assert driver.find_elements("css selector", '#live[role=status][data-live="2"]') != []
    assert driver.find_elements("css selector", "meta[http-equiv=refresh]") == []
    accessible(driver, axe, "run in progress, en")
    shoot(driver, folder, "run-queued-en")
    runs.execute_run(ctx, queued["id"])
    shows(driver, ".facts", "completed")  # the script saw the run end and loaded the page
    assert driver.find_elements("css selector", "[data-live]") == []

    # every other page of the area, in both languages
    pages = {
        "/console/stores/new": ("Register a store", "Speicher registrieren"),
        "/console/retention/preview": (
            "Preview: what a run would do now",
            "Vorschau: was ein Lauf jetzt tun würde",
        ),
        "/console/retention/rules/new": ("New rule", "Neue Regel"),
        "/console/retention/rules/inactive": ("Edit rule inactive", "Regel bearbeiten inactive"),
        "/console/retention/rules/inactive/retire": (
            "Retire rule inactive",
            "Regel außer Kraft setzen inactive",
        ),
        "/console/retention/runs/real": ("Start a real run", "Echten Lauf starten"),
        "/console/retention/holds/case-17/release": ("Release hold case-17", "Sperre freigeben case-17"),
    }
    for language, index in (("en", 0), ("de", 1)):
        driver.get(f"{live}/console/retention")
        to_language(driver, language)
        for path, titles in pages.items():
            driver.get(f"{live}{path}")
            heading(driver, titles[index])
            accessible(driver, axe, f"{path}, {language}")
        driver.get(f"{live}/console/retention/rules/new")
        submit(driver)  # nothing filled in: every problem at its field
        by_css(driver, ".summary")
        accessible(driver, axe, f"rule form with problems, {language}")
        shoot(driver, folder, f"rule-problems-{language}")
        driver.get(f"{live}/console/retention/preview")
        shoot(driver, folder, f"preview-{language}")
    # a form shown again with its problems answers 422, which the browser logs; nothing else may be
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert [e for e in errors if "responded with a status of 422" not in e] == []
