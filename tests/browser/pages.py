"""What every page's browser test checks at each width: the page is laid out at that width, it
is photographed, and it does not scroll sideways; before that, axe-core finds no violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.axe import violations
from tests.browser.chromium import WAIT, assert_png

PUBLIC_SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


def settle_at(driver: Any, width: int) -> None:
    """Wait until the page is laid out at the new window width: a loaded machine can show the
    old layout for a moment after the window was resized."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return window.innerWidth") == width, f"the window at {width} px"
    )
    driver.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done()))"
    )


def not_sideways(driver: Any, name: str, size: str) -> None:
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    inner = driver.execute_script("return window.innerWidth")
    assert wide <= inner, f"{name} scrolls sideways at {size}: {wide} px wide in {inner} px"


def look(driver: Any, axe: str, folder: Path, name: str, *, full_phone: bool = False) -> None:
    """axe-core on the page, then a screenshot ``<name>-<size>.png`` per public width (and, with
    ``full_phone``, the whole page at phone width, to see what lies below the fold)."""
    found = violations(driver, axe)
    assert found == [], f"{name}: {found}"
    for size, (width, height) in PUBLIC_SIZES.items():
        driver.set_window_size(width, height)
        settle_at(driver, width)
        driver.execute_script("window.scrollTo(0, 0)")
        shot = folder / f"{name}-{size}.png"
        driver.save_screenshot(str(shot))
        assert_png(shot)
        not_sideways(driver, name, size)
    if full_phone:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(390, min(4000, height + 140))
        driver.save_screenshot(str(folder / f"{name}-phone-full.png"))
    driver.set_window_size(*PUBLIC_SIZES["desktop"])
