"""The served banner is the build of its sources: a fresh build gives the committed bytes, and
the bundle stays small enough for every page of a website."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED = ROOT / "consent_service" / "api" / "static" / "banner.js"
MAX_GZIP_BYTES = 15_000  # the budget for the plain banner


def test_the_committed_banner_is_the_build_of_its_sources(tmp_path):
    node = shutil.which("node")
    if node is None or not (ROOT / "frontend" / "node_modules" / "esbuild").is_dir():
        if os.environ.get("CONSENT_TEST_REQUIRE_SERVERS") == "1":
            pytest.fail("node and frontend/node_modules (make frontend) are needed to build the banner")
        pytest.skip("node or frontend/node_modules missing (make frontend)")
    out = tmp_path / "banner.js"
    subprocess.run([node, str(ROOT / "frontend" / "banner" / "build.mjs"), str(out)], check=True, timeout=120)
    assert out.read_bytes() == SERVED.read_bytes(), "run `make banner` and commit the result"


def test_the_banner_stays_small():
    assert len(gzip.compress(SERVED.read_bytes(), 9)) <= MAX_GZIP_BYTES
