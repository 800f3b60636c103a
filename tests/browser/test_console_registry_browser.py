"""The registry pages in a real browser: a DPO registers a purpose, changes a sentence of its
text, which makes version 2, and opens the comparison that shows both versions side by side.

Every registry page (overview, the four lists, a purpose with its versions, the comparison and
each form, also with an error) is checked by axe-core in German and English: no serious or
critical violation. Screenshots in de and en at desktop and phone size go to
CONSENT_TEST_SCREENSHOT_DIR (default: the test's temporary folder); no page may scroll sideways.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consent_service import create_app
from consent_service.context import Context
from consent_service.dsar import recipients
from consent_service.registry import service as registry
from consent_service.registry import sites
from tests.browser.axe import axe_source
from tests.browser.chromium import assert_png, served, shots_dir
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

FIRST = "We send you our newsletter. It comes once a month."
SECOND = "We send you our newsletter. It comes every week."


@pytest.fixture
def live(ctx: Context) -> Iterator[str]:
    add_staff(ctx)
    with served(create_app(context=ctx)) as url:
        yield url


def fill(driver: Any, values: dict[str, str]) -> None:
    for field, value in values.items():
        element = by_css(driver, f"#{field}")
        element.clear()
        element.send_keys(value)


def submit(driver: Any) -> None:
    by_css(driver, "main form[method=post] button[type=submit].primary").click()


def test_a_dpo_registers_a_purpose_edits_its_text_and_compares_the_versions(offline_browser, live, ctx):
    driver = offline_browser
    driver.set_window_size(*SIZES["desktop"])
    sign_in(driver, live, DPO, PASSWORD)
    switch_language(driver, "en")
    driver.get(f"{live}/console/registry/purposes")
    heading(driver, "Purposes")
    assert "No purposes yet." in text_of(driver, ".empty")
    by_css(driver, "a.button.primary[href$='/purposes/new']").click()
    heading(driver, "New purpose")
    fill(
        driver,
        {
            "key": "newsletter",
            "title_en": "Newsletter",
            "description_en": FIRST,
            "title_de": "Newsletter",
            "description_de": "Wir senden Ihnen unseren Newsletter.",
            "data_categories": "user.contact.email",
            "data_uses": "marketing.communications.email",
        },
    )
    submit(driver)
    heading(driver, "Newsletter")
    assert "Registered with version 1." in text_of(driver, ".notice")

    by_css(driver, "a[href$='/purpose/newsletter/edit']").click()
    heading(driver, "Edit purpose “newsletter”")
    assert "makes version 2" in text_of(driver, ".notice")
    fill(driver, {"description_en": SECOND})
    submit(driver)
    heading(driver, "Newsletter")
    assert "The change made version 2" in text_of(driver, ".notice")
    assert [v["version"] for v in registry.read_purpose(ctx, "newsletter")["versions"]] == [1, 2]

    by_css(driver, "a[href$='/purpose/newsletter/diff']").click()
    heading(driver, "Compare versions of “Newsletter”")
    table = by_css(driver, "table.diff")
    columns = [th.text for th in table.find_elements("css selector", "thead th")]
    assert columns[0].startswith("Version 1") and columns[1].startswith("Version 2"), columns
    changed = by_css(driver, "tr.changed")
    before, after = changed.find_elements("css selector", "td")
    assert "It comes" in before.text and "once a month." in before.text
    assert "every week." in after.text
    assert before.find_element("css selector", "del").text == "once a month."
    assert after.find_element("css selector", "ins").text == "every week."
    # the two cells sit next to each other on a desktop
    assert before.location["y"] == after.location["y"] and before.location["x"] < after.location["x"]
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def _seed(ctx: Context) -> dict[str, Any]:
    spec = {
        "titles": {"en": "Web analytics", "de": "Webanalyse"},
        "descriptions": {"en": "We count visits. We keep them for a year.", "de": "Wir zählen Besuche."},
        "legal_basis": "consent",
        "data_categories": ["user.device.cookie_id"],
        "data_uses": ["analytics.reporting"],
    }
    registry.save_purpose(ctx, "analytics", spec)
    registry.save_purpose(  # version 2: one sentence changed, one added
        ctx,
        "analytics",
        {
            **spec,
            "descriptions": {
                "en": "We count visits. We keep them for two years.",
                "de": "Wir zählen Besuche. Wir löschen sie nach einem Jahr.",
            },
        },
    )
    registry.save_cookie(
        ctx,
        "_pk_id",
        {"domain": ".shop.example", "provider": "Matomo", "duration": "P13M", "purpose": "analytics"},
    )
    site = sites.register_site(
        ctx,
        name="Online shop with a rather long name",
        origins=["https://www.shop-with-a-long-domain-name.example"],
        purposes=["analytics"],
        cookies=["_pk_id"],
    )
    recipients.save_recipient(
        ctx,
        "crm",
        {
            "name": "CRM Inc.",
            "endpoint": "http://127.0.0.1:9/hooks/erasures-and-rectifications",
            "secret": "s" * 20,
            "events": ["erasure", "rectification"],
            "country": "US",
            "safeguard": "standard_contractual_clauses",
        },
    )
    return site


def test_every_registry_page_is_accessible_in_both_languages(offline_browser, live, ctx, tmp_path):
    axe = axe_source()
    folder = shots_dir(tmp_path)
    driver = offline_browser
    driver.set_window_size(*SIZES["desktop"])
    sign_in(driver, live, DPO, PASSWORD)
    # the empty lists first, then with something in them
    empty = ("registry", "registry/purposes", "registry/cookies", "registry/sites", "registry/recipients")
    for language in ("de", "en"):
        switch_language(driver, language)
        for path in empty:
            driver.get(f"{live}/console/{path}")
            by_css(driver, "nav.tabs a[aria-current=page]")
            accessible(driver, axe, f"{path}, empty, {language}")
        driver.get(f"{live}/console/registry/cookies")  # empty, and pointing to the purposes first
        by_css(driver, ".empty a[href$='/registry/purposes']")
        shoot(driver, folder, f"registry-cookies-empty-{language}")
    site = _seed(ctx)
    pages = {
        "overview": "registry",
        "purposes": "registry/purposes",
        "purpose": "registry/purpose/analytics",
        "diff": "registry/purpose/analytics/diff",
        "purpose-new": "registry/purposes/new",
        "purpose-edit": "registry/purpose/analytics/edit",
        "cookies": "registry/cookies",
        "cookie-new": "registry/cookies/new",
        "cookie-edit": "registry/cookie/_pk_id/edit",
        "sites": "registry/sites",
        "site-new": "registry/sites/new",
        "site-edit": f"registry/site/{site['id']}/edit",
        "recipients": "registry/recipients",
        "recipient-new": "registry/recipients/new",
        "recipient-edit": "registry/recipient/crm/edit",
    }
    for language in ("de", "en"):
        switch_language(driver, language)
        for name, path in pages.items():
            driver.get(f"{live}/console/{path}")
            by_css(driver, f"html[lang={language}] nav.tabs")
            accessible(driver, axe, f"{name}, {language}")
            shoot(driver, folder, f"registry-{name}-{language}")
        # the purpose's settings further down the form, with the double opt-in switch
        driver.get(f"{live}/console/registry/purpose/analytics/edit")
        switch = by_css(driver, "input[name=double_opt_in]")
        assert not switch.is_selected()
        for size in ("desktop", "phone"):
            driver.set_window_size(*SIZES[size])
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", switch)
            shot = folder / f"console-registry-purpose-settings-{language}-{size}.png"
            driver.save_screenshot(str(shot))
            assert_png(shot)
        driver.set_window_size(*SIZES["desktop"])
        # a form sent with mistakes: the summary at the top, each error next to its field
        driver.get(f"{live}/console/registry/purposes/new")
        fill(
            driver, {"key": "Bad Key", "data_categories": "user.made_up", "data_uses": "analytics.reporting"}
        )
        submit(driver)
        by_css(driver, ".summary")
        assert by_css(driver, "#key-error").text and by_css(driver, "#data_categories-error").text
        assert "fideslang" in by_css(driver, "#data_categories-error").text
        accessible(driver, axe, f"purpose form with errors, {language}")
        shoot(driver, folder, f"registry-purpose-errors-{language}")

    # at phone width the comparison stacks: both versions of a row stay readable, one above the other
    driver.set_window_size(*SIZES["phone"])
    driver.get(f"{live}/console/registry/purpose/analytics/diff")
    row = by_css(driver, "tr.changed")
    before, after = row.find_elements("css selector", "td")
    assert "a year." in before.text and "two years." in after.text
    assert after.location["y"] > before.location["y"]
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    assert wide <= driver.execute_script("return window.innerWidth")
