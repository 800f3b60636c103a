"""The preference centre and the unsubscribe page in Chromium, as a person uses them: German and
English, desktop and phone, each page checked by axe-core and photographed. The person asks for
a link, opens it from the e-mail (a real SMTP server), changes a choice, and the gate
(``POST /v1/decisions``) answers the new decision; a newsletter's unsubscribe link withdraws."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consent_service import create_app
from consent_service.demo import seed
from consent_service.dsar import outbox
from consent_service.preferences import service as prefs
from tests.api.helpers import ask_for_link, consent_body
from tests.api.mail import Inbox, free_port, text_of
from tests.browser import pages
from tests.browser.axe import axe_source
from tests.browser.chromium import answered, served, shots_dir

POLICY = "https://shop.example/datenschutz"


@pytest.fixture
def world(clocked_ctx: Any) -> Iterator[tuple[Any, dict[str, str], str, str, Inbox]]:
    from consent_service.auth.service import register_client

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    clocked_ctx.config = clocked_ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port)
    seed(clocked_ctx)
    app = create_app(context=clocked_ctx)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'crm', ['admin'])[1]}"}
    site = client.post(
        "/v1/sites",
        headers=headers,
        json={
            "name": "Beispiel-Shop",
            "origins": ["https://shop.example"],
            "purposes": ["newsletter", "analytics", "ads"],
            "cookies": [],
            "banner": {"languages": ["de", "en"], "links": {"privacy": POLICY, "imprint": None}},
        },
    )
    assert site.status_code == 201, site.get_json()
    for address in ("anna@example.org", "ben@example.org"):
        body = consent_body(address, decisions=[{"purpose": "newsletter", "granted": True}])
        assert client.post("/v1/consents", headers=headers, json=body).status_code == 201
    try:
        with served(app) as base:
            yield client, headers, site.get_json()["site_key"], base, inbox
    finally:
        controller.stop()


def look(driver: Any, axe: str, folder: Path, name: str) -> None:
    pages.look(driver, axe, folder, f"preferences-{name}")


def gate(client: Any, headers: dict[str, str], address: str) -> dict[str, Any]:
    body = {"subject": {"type": "email", "value": address}, "purpose": "newsletter"}
    response = client.post("/v1/decisions", headers=headers, json=body)
    assert response.status_code == 200
    return response.get_json()


def on(base: str, url: str) -> str:
    return base + url[url.index("/privacy/") :]


TEXTS = {
    "de": {
        "start": "Ihre Datenschutz-Einstellungen",
        "sent": "Bitte sehen Sie in Ihr Postfach",
        "signin": "Ihre Einstellungen öffnen",
        "choices": "Ihre Einstellungen",
        "refused": "Nicht erlaubt",
        "allowed": "Erlaubt",
        "policy": "Datenschutzerklärung",
        "mail": "Meine Einstellungen anzeigen",
        "unsubscribe": "Abmelden",
        "unsubscribed": "Sie sind abgemeldet",
        "invalid": "Dieser Link ist nicht gültig",
        "wait": "Bitte warten Sie einen Moment",
        "still_in": "Sie sind noch angemeldet",
        "not_sent": "Es wurde nichts gesendet",
        "used": "Dieser Link wurde bereits verwendet",
        "new_link": "Neuen Link senden",
    },
    "en": {
        "start": "Your privacy choices",
        "sent": "Please check your inbox",
        "signin": "Open your choices",
        "choices": "Your choices",
        "refused": "Not allowed",
        "allowed": "Allowed",
        "policy": "Privacy policy",
        "mail": "Show my choices",
        "unsubscribe": "Unsubscribe",
        "unsubscribed": "You are unsubscribed",
        "invalid": "This link is not valid",
        "wait": "Please wait a moment",
        "still_in": "You are still signed in",
        "not_sent": "Nothing was sent",
        "used": "This link was used already",
        "new_link": "Send me a new link",
    },
}


def test_a_person_changes_a_choice_and_the_gate_answers_it(offline_browser, world, clocked_ctx, tmp_path):
    from selenium.webdriver.common.by import By

    client, headers, site_key, base, inbox = world
    axe, folder, driver = axe_source(), shots_dir(tmp_path), offline_browser
    for number, (language, address) in enumerate(
        (("de", "anna@example.org"), ("en", "ben@example.org")), start=1
    ):
        text = TEXTS[language]
        driver.delete_all_cookies()
        driver.get(f"{base}/privacy/preferences?site={site_key}&lang={language}")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
        assert driver.find_element(By.TAG_NAME, "h1").text == text["start"]
        header = driver.find_element(By.CSS_SELECTOR, "header .site-bar")
        assert "Beispiel-Shop" in header.text
        assert header.find_element(By.LINK_TEXT, text["policy"]).get_attribute("href") == POLICY
        look(driver, axe, folder, f"start-{language}")

        driver.find_element(By.ID, "email").send_keys("no address")
        answered(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        field = driver.find_element(By.ID, "email")
        assert field.get_attribute("aria-invalid") == "true"
        assert driver.find_element(By.ID, "email-error").is_displayed()
        look(driver, axe, folder, f"error-{language}")

        field.clear()
        field.send_keys(address)
        answered(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["sent"]
        look(driver, axe, folder, f"sent-{language}")

        outbox.deliver(clocked_ctx)
        message = inbox.of_kind("preferences_signin", number)[-1]
        assert message["To"] == address and text["mail"] in text_of(message)
        link = re.search(r"(http://\S+/privacy/preferences/signin\?token=\S+)", text_of(message)).group(1)
        driver.get(on(base, link))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["signin"]
        assert "consent_prefs" not in {c["name"] for c in driver.get_cookies()}  # the link signs nobody in
        look(driver, axe, folder, f"signin-{language}")

        answered(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["choices"]
        newsletter = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=purpose-newsletter]")
        assert text["allowed"] in newsletter.find_element(By.CLASS_NAME, "current").text
        assert driver.find_elements(By.CSS_SELECTOR, "input:checked") == []  # nothing pre-selected
        look(driver, axe, folder, f"choices-{language}")
        assert gate(client, headers, address)["allowed"] is True

        answered(driver, newsletter.find_element(By.CSS_SELECTOR, "button[value=refuse]"))
        saved = driver.find_element(By.ID, "saved")
        assert "Newsletter" in saved.text
        assert "/privacy/preferences/receipts/rcpt_" in saved.find_element(By.TAG_NAME, "a").get_attribute(
            "href"
        )
        newsletter = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=purpose-newsletter]")
        assert text["refused"] in newsletter.find_element(By.CLASS_NAME, "current").text
        look(driver, axe, folder, f"saved-{language}")
        assert gate(client, headers, address)["reason"] == "consent_withdrawn"

        by_keyboard(driver, newsletter.find_element(By.CSS_SELECTOR, "button[value=allow]"))
        assert gate(client, headers, address)["reason"] == "consent_granted"
        newsletter = driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=purpose-newsletter]")
        assert text["allowed"] in newsletter.find_element(By.CLASS_NAME, "current").text

        # a form too old (its CSRF token's session is gone) says so, and the next press works
        driver.delete_cookie("consent_privacy")
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form.signout button"))
        assert text["still_in"] in driver.find_element(By.CSS_SELECTOR, ".notice.failure").text
        look(driver, axe, folder, f"signout-old-{language}")
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form.signout button"))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["start"]
        assert "consent_prefs" not in {c["name"] for c in driver.get_cookies()}
        driver.delete_cookie("consent_privacy")
        driver.find_element(By.ID, "email").send_keys(address)
        answered(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        assert text["not_sent"] in driver.find_element(By.CSS_SELECTOR, ".notice.failure").text
        assert driver.find_element(By.ID, "email").get_attribute("value") == address
        look(driver, axe, folder, f"start-old-{language}")

        # the link works once: opened again, it explains itself and offers a new one
        driver.get(on(base, link))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["used"]
        look(driver, axe, folder, f"used-{language}")
        answered(driver, driver.find_element(By.LINK_TEXT, text["new_link"]))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["start"]


def by_keyboard(driver: Any, button: Any) -> None:
    """Tab to ``button`` from the top of the page and press Enter; wait for the answer."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(
        "window.__consentOldPage = true; document.activeElement.blur(); window.scrollTo(0, 0)"
    )
    body = driver.find_element("tag name", "body")
    for _ in range(60):
        body.send_keys(Keys.TAB)
        if driver.switch_to.active_element == button:
            break
    assert driver.switch_to.active_element == button, "the button cannot be reached by keyboard"
    button.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script(
            "return window.__consentOldPage === undefined && document.readyState === 'complete'"
        )
    )


def test_a_newsletter_link_unsubscribes_in_one_click(offline_browser, world, tmp_path):
    from selenium.webdriver.common.by import By

    client, headers, _, base, _ = world
    axe, folder, driver = axe_source(), shots_dir(tmp_path), offline_browser
    page = client.get(
        "/v1/segments/newsletter?unsubscribe_links=true&identity=email", headers=headers
    ).get_json()
    links = {item["identity"]: item["unsubscribe"]["url"] for item in page["items"]}
    for language, address in (("de", "anna@example.org"), ("en", "ben@example.org")):
        text = TEXTS[language]
        driver.get(on(base, links[address]) + f"&lang={language}")
        assert driver.find_element(By.TAG_NAME, "h1").text == text["unsubscribe"]
        look(driver, axe, folder, f"unsubscribe-{language}")
        assert gate(client, headers, address)["allowed"] is True  # the page itself changes nothing
        answered(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        assert driver.find_element(By.TAG_NAME, "h1").text == text["unsubscribed"]
        look(driver, axe, folder, f"unsubscribed-{language}")
        assert gate(client, headers, address)["reason"] == "consent_withdrawn"
        driver.get(f"{base}/privacy/preferences/signin?token=forged&lang={language}")
        assert driver.find_element(By.TAG_NAME, "h1").text == text["invalid"]
        look(driver, axe, folder, f"invalid-{language}")


def test_the_page_asks_to_wait_past_the_limit(offline_browser, world, tmp_path):
    from selenium.webdriver.common.by import By

    client, _, site_key, base, _ = world
    axe, folder, driver = axe_source(), shots_dir(tmp_path), offline_browser
    for _ in range(prefs.SIGNIN_PER_ADDRESS):  # the same counters as the served app's
        assert ask_for_link(client, "eager@example.org").status_code == 200
    for language in ("de", "en"):
        driver.get(f"{base}/privacy/preferences?site={site_key}&lang={language}")
        driver.find_element(By.ID, "email").send_keys("eager@example.org")
        answered(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        assert driver.find_element(By.TAG_NAME, "h1").text == TEXTS[language]["wait"]
        look(driver, axe, folder, f"wait-{language}")
