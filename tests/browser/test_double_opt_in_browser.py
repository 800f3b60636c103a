"""The double opt-in page in Chromium, as a person opens the link from the e-mail: German and
English, desktop and phone, checked by axe-core and photographed; the button confirms, a used
link says so, an expired one offers a new e-mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consent_service import create_app
from consent_service.demo import DEMO_PURPOSES, seed
from consent_service.dsar import outbox
from tests.api.helpers import consent_body
from tests.api.mail import Inbox, free_port, text_of
from tests.browser import pages
from tests.browser.axe import axe_source
from tests.browser.chromium import answered, served, shots_dir


@pytest.fixture
def world(clocked_ctx: Any) -> Iterator[tuple[Any, str, Inbox]]:
    from consent_service.auth.service import register_client

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    clocked_ctx.config = clocked_ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port)
    seed(clocked_ctx)
    app = create_app(context=clocked_ctx)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'crm', ['admin'])[1]}"}
    doi = {**DEMO_PURPOSES["newsletter"], "confirmation": "double_opt_in"}
    assert client.put("/v1/purposes/newsletter", headers=headers, json=doi).status_code == 200
    try:
        with served(app) as base:
            yield (client, headers), base, inbox
    finally:
        controller.stop()


def link_for(ctx: Any, api: Any, inbox: Inbox, address: str, language: str, count: int) -> str:
    client, headers = api
    body = consent_body(address, decisions=[{"purpose": "newsletter", "granted": True}], language=language)
    assert client.post("/v1/consents", headers=headers, json=body).status_code == 201
    outbox.deliver(ctx)
    message = inbox.of_kind("optin_confirmation", count)[-1]
    found = re.search(r"(http://\S+/privacy/confirm\?token=\S+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def on(base: str, url: str) -> str:
    """The e-mail's link on the served test app (the link names the configured public URL)."""
    return base + url[url.index("/privacy/") :]


def look(driver: Any, axe: str, folder: Path, name: str) -> None:
    pages.look(driver, axe, folder, f"optin-{name}")


def test_the_confirmation_pages_in_both_languages(offline_browser, world, clocked_ctx, clock, tmp_path):
    from selenium.webdriver.common.by import By

    api, base, inbox = world
    axe, folder, driver = axe_source(), shots_dir(tmp_path), offline_browser
    for number, (language, heading, done, used) in enumerate(
        (
            (
                "de",
                "Bestätigen Sie Ihre Einwilligung",
                "Ihre Einwilligung ist bestätigt",
                "Ihre Einwilligung ist bereits bestätigt",
            ),
            ("en", "Confirm your consent", "your consent is confirmed", "Your consent is confirmed already"),
        ),
        start=1,
    ):
        url = link_for(clocked_ctx, api, inbox, f"reader-{language}@example.org", language, number)
        driver.get(on(base, url))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
        assert driver.find_element(By.TAG_NAME, "h1").text == heading
        look(driver, axe, folder, f"confirm-{language}")
        answered(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        assert done in driver.find_element(By.TAG_NAME, "h1").text
        look(driver, axe, folder, f"confirmed-{language}")
        driver.get(on(base, url))
        assert driver.find_element(By.TAG_NAME, "h1").text == used  # not "confirm" again
        look(driver, axe, folder, f"used-{language}")

    late = {
        language: link_for(clocked_ctx, api, inbox, f"late-{language}@example.org", language, number)
        for number, language in enumerate(("de", "en"), start=3)
    }
    clock.advance(days=8)
    for language, heading in (("de", "Dieser Link ist abgelaufen"), ("en", "This link has expired")):
        driver.get(on(base, late[language]))
        assert driver.find_element(By.TAG_NAME, "h1").text == heading
        look(driver, axe, folder, f"expired-{language}")
