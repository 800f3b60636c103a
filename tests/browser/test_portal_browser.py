"""The privacy portal in Chromium, as a person uses it: a German access request made on the
site's portal (the page's script solves the proof of work), the code read from a real SMTP
server, the status in words, and after a DPO ran the request the package downloaded through
its expiring link. Every page in German and English, at desktop and phone width, checked by
axe-core (0 serious or critical) and photographed."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consent_service import create_app
from consent_service.demo import seed
from consent_service.dsar import outbox
from consent_service.dsar import portal as dsar_portal
from consent_service.registry import sites as registry_sites
from consent_service.web import challenge
from tests.api.helpers import crm_store
from tests.api.mail import Inbox, code_in, free_port, text_of
from tests.api.test_execution_api import run_queued
from tests.api.test_portal_objection import consent_only_site
from tests.browser import pages
from tests.browser.axe import axe_source
from tests.browser.chromium import answered, served, shots_dir

POLICY = "https://shop.example/datenschutz"


@pytest.fixture
def world(ctx: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from consent_service.auth.service import register_client

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    ctx.config = ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port)
    seed(ctx)
    app = create_app(context=ctx)
    client = app.test_client()
    admin = {"Authorization": f"Bearer {register_client(ctx, 'dpo', ['admin'])[1]}"}
    crm_store(client, admin, tmp_path)
    with ctx.uow(write=False) as uow:
        site = registry_sites.list_sites(uow.session)[0]
        site_id, key = site.id, site.site_key
    registry_sites.set_site_banner(ctx, site_id, {"languages": ["de", "en"], "links": {"privacy": POLICY}})
    try:
        with served(app) as base:
            yield {"client": client, "admin": admin, "base": base, "inbox": inbox, "site": key}
    finally:
        controller.stop()


def look(driver: Any, axe: str, folder: Path, name: str) -> None:
    pages.look(driver, axe, folder, f"portal-{name}", full_phone=True)


def solved_field(driver: Any) -> str:
    """Wait until the page's script has put its proof of work in the form."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.querySelector('input[name=altcha]').value")
    )
    return str(driver.execute_script("return document.querySelector('input[name=altcha]').value"))


def test_a_person_makes_an_access_request_in_german_and_downloads_the_package(
    offline_browser, world, ctx, tmp_path
):
    from selenium.webdriver.common.by import By

    driver, axe, folder = offline_browser, axe_source(), shots_dir(tmp_path)
    base, site = world["base"], world["site"]

    driver.get(f"{base}/privacy/?site={site}&lang=de")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    assert driver.find_element(By.TAG_NAME, "h1").text == "Ihre Datenschutzrechte"
    header = driver.find_element(By.CSS_SELECTOR, "header").text
    assert "Demo shop" in header and "Datenschutzerklärung" in header
    assert driver.find_element(By.LINK_TEXT, "Datenschutzerklärung").get_attribute("href") == POLICY
    look(driver, axe, folder, "home-de")
    answered(driver, driver.find_element(By.CSS_SELECTOR, "a.button.primary"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Eine Anfrage stellen"
    assert not driver.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked")  # nothing pre-selected
    look(driver, axe, folder, "new-de")

    # sent empty: the errors stand next to their fields and in a summary at the top
    answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
    summary = driver.find_element(By.CSS_SELECTOR, ".summary")
    assert "Wählen Sie, was wir tun sollen." in summary.text
    look(driver, axe, folder, "new-errors-de")

    driver.find_element(By.CSS_SELECTOR, "label[for=type-0]").click()
    driver.find_element(By.ID, "email").send_keys("anna@example.org")
    payload = solved_field(driver)
    answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Code eingeben"
    # the service took the script's solution, and took it once: it is spent now
    assert not challenge.solved(ctx, payload)
    signature = json.loads(base64.b64decode(payload))["signature"]
    assert not dsar_portal.spend_challenge(ctx, signature, until=dt.datetime.now(dt.UTC))
    request_id = re.search(r"/privacy/requests/(req_[0-9a-f]{16})", driver.current_url).group(1)
    assert "anna" not in driver.current_url
    look(driver, axe, folder, "code-de")

    outbox.deliver(ctx)
    [mail] = world["inbox"].of_kind("verification_code", 1)
    assert mail["To"] == "anna@example.org" and "Bestätigungscode" in mail["Subject"]
    assert f"/privacy/requests/{request_id}" in text_of(mail)
    driver.find_element(By.ID, "code").send_keys(code_in(mail))
    answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
    status = driver.find_element(By.CSS_SELECTOR, "main").text
    assert "Wir haben Ihre Anfrage am" in status and "Wir antworten bis zum" in status
    assert "Wir bearbeiten sie." in status
    look(driver, axe, folder, "status-de")

    # the DPO runs the request across the stores
    assert run_queued(world["client"], world["admin"], request_id)["state"] == "completed"
    driver.get(f"{base}/privacy/requests/{request_id}?site={site}&lang=de")
    status = driver.find_element(By.CSS_SELECTOR, "main").text
    assert "Ihre Daten sind bereit." in status
    assert "Tabelle crm.customers (CSV)" in status
    look(driver, axe, folder, "ready-de")
    buttons = driver.find_elements(By.CSS_SELECTOR, "form.download button")
    json_button = next(b for b in buttons if "JSON" in b.text)
    answered(driver, json_button)
    assert "/v1/packages/" in driver.current_url and "format=json" in driver.current_url
    package = json.loads(driver.find_element(By.TAG_NAME, "body").text)
    assert package["stores"]["crm"]["customers"] == [{"id": 1, "email": "anna@example.org", "name": "Anna"}]


def test_the_portal_pages_in_english(offline_browser, world, ctx, tmp_path):
    from selenium.webdriver.common.by import By

    driver, axe, folder = offline_browser, axe_source(), shots_dir(tmp_path)
    base, site = world["base"], world["site"]
    driver.get(f"{base}/privacy/?site={site}&lang=en")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert driver.find_element(By.TAG_NAME, "h1").text == "Your data protection rights"
    look(driver, axe, folder, "home-en")
    driver.get(f"{base}/privacy/requests/new?site={site}&lang=en")
    look(driver, axe, folder, "new-en")
    driver.find_element(By.CSS_SELECTOR, "label[for=type-5]").click()  # objection, no purpose chosen
    driver.find_element(By.ID, "email").send_keys("ben@example.org")
    answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
    assert "Choose at least one use of your data." in driver.find_element(By.CSS_SELECTOR, ".summary").text
    look(driver, axe, folder, "new-errors-en")
    driver.find_element(By.CSS_SELECTOR, "#purposes input[type=checkbox]").click()
    solved_field(driver)
    answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Enter your code"
    look(driver, axe, folder, "code-en")
    outbox.deliver(ctx)
    [mail] = world["inbox"].of_kind("verification_code", 1)
    driver.find_element(By.ID, "code").send_keys(code_in(mail))
    answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
    status = driver.find_element(By.CSS_SELECTOR, "main").text
    assert "we no longer use your data for these purposes" in status
    look(driver, axe, folder, "status-en")
    # the language links keep the page and the site
    answered(driver, driver.find_element(By.CSS_SELECTOR, ".language-links a[lang=de]"))
    assert "Widerspruch" in driver.find_element(By.TAG_NAME, "h1").text


def test_without_javascript_the_form_is_sent_and_counted_against_the_stricter_limit(world, ctx, tmp_path):
    from selenium.webdriver.common.by import By

    from tests.browser.chromium import OFFLINE, chromium

    ctx.config = ctx.config.with_overrides(portal_plain_request_limit=1, portal_request_limit=50)
    base, site = world["base"], world["site"]
    with chromium(tmp_path / "no-script", [*OFFLINE, "--blink-settings=scriptEnabled=false"]) as driver:
        for attempt, address in enumerate(("carla@example.org", "dora@example.org")):
            driver.get(f"{base}/privacy/requests/new?site={site}&lang=de")
            assert driver.find_element(By.CSS_SELECTOR, "input[name=altcha]").get_attribute("value") == ""
            driver.find_element(By.CSS_SELECTOR, "label[for=type-2]").click()  # erasure
            driver.find_element(By.ID, "email").send_keys(address)
            answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
            heading = driver.find_element(By.TAG_NAME, "h1").text
            if attempt == 0:
                assert heading == "Code eingeben"
            else:  # the second plain request from the same address within the minute
                assert heading == "Eine Anfrage stellen"
                assert "mehrere Anfragen" in driver.find_element(By.CSS_SELECTOR, ".summary").text


def test_a_person_asks_for_a_new_code_and_only_the_new_one_works(offline_browser, world, ctx, tmp_path):
    from selenium.webdriver.common.by import By

    driver, axe, folder = offline_browser, axe_source(), shots_dir(tmp_path)
    base, site = world["base"], world["site"]
    ctx.config = ctx.config.with_overrides(portal_resend_limit=1)
    for lang, email, notice, wrong, received, over in (
        ("de", "emil@example.org", "haben wir einen neuen", "Dieser Code stimmt nicht", "Wir haben Ihre Anfrage am",
         "mehrere neue Codes angefordert"),
        ("en", "fay@example.org", "we have sent a new one", "This code is not right", "We received your request on",
         "several new codes"),
    ):  # fmt: skip
        driver.get(f"{base}/privacy/requests/new?site={site}&lang={lang}")
        driver.find_element(By.CSS_SELECTOR, "label[for=type-0]").click()
        driver.find_element(By.ID, "email").send_keys(email)
        solved_field(driver)
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
        outbox.deliver(ctx)
        first = code_in([m for m in world["inbox"].of_kind("verification_code", 1) if m["To"] == email][-1])
        # the code was lost: the second form of the page asks for a new one
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form[action*='/code'] button"))
        assert notice in driver.find_element(By.CSS_SELECTOR, ".notice").text
        look(driver, axe, folder, f"code-resent-{lang}")
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form[action*='/code'] button"))
        assert over in driver.find_element(By.CSS_SELECTOR, ".summary").text  # one new code an hour here
        look(driver, axe, folder, f"code-too-many-{lang}")
        outbox.deliver(ctx)
        mailed = [m for m in world["inbox"].of_kind("verification_code", 2) if m["To"] == email]
        second = code_in(mailed[-1])
        if first != second:  # one in a million the same six digits
            driver.find_element(By.ID, "code").send_keys(first)
            answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
            assert wrong in driver.find_element(By.CSS_SELECTOR, ".summary").text
            driver.find_element(By.ID, "code").clear()
        driver.find_element(By.ID, "code").send_keys(second)
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form button.primary"))
        assert received in driver.find_element(By.CSS_SELECTOR, "main").text  # the status in words
        assert not driver.find_elements(By.ID, "code")


def test_a_site_with_nothing_to_object_to_says_so_in_both_languages(offline_browser, world, ctx, tmp_path):
    from selenium.webdriver.common.by import By

    driver, axe, folder = offline_browser, axe_source(), shots_dir(tmp_path)
    key = consent_only_site(ctx)
    for lang, says in (("de", "nichts, dem Sie widersprechen"), ("en", "there is nothing to object to")):
        driver.get(f"{world['base']}/privacy/requests/new?site={key}&lang={lang}")
        fieldset = driver.find_element(By.ID, "purposes")
        assert says in fieldset.text and not fieldset.find_elements(By.CSS_SELECTOR, "input")
        assert says in driver.find_element(By.ID, "type-5-hint").text
        link = fieldset.find_element(By.TAG_NAME, "a")
        assert "/privacy/preferences" in link.get_attribute("href")
        look(driver, axe, folder, f"new-nothing-to-object-{lang}")
