"""Fixtures of the browser tests: a Chromium that can reach nothing but the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import OFFLINE, chromium


@pytest.fixture
def offline_browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "chromium-profile", OFFLINE, console=True) as driver:
        yield driver
