"""The console's Chart.js is the registry's built file at the locked version: a fresh copy
(``make chartjs``) gives the committed bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED = ROOT / "consent_service" / "web" / "static" / "chart.js"
BUILT = ROOT / "frontend" / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"


def test_the_served_chart_js_is_the_locked_packages_build():
    if not BUILT.is_file():
        if os.environ.get("CONSENT_TEST_REQUIRE_SERVERS") == "1":
            pytest.fail("frontend/node_modules (make frontend) is needed to compare Chart.js")
        pytest.skip("frontend/node_modules missing (make frontend)")
    assert BUILT.read_bytes() == SERVED.read_bytes(), "run `make chartjs` and commit the result"
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    pinned = json.loads((ROOT / "frontend" / "package.json").read_text())["devDependencies"]["chart.js"]
    assert lock["packages"]["node_modules/chart.js"]["version"] == pinned
    installed = json.loads((BUILT.parents[1] / "package.json").read_text())["version"]
    assert installed == pinned
