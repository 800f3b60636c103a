"""Importing the package connects to nothing (a fresh interpreter, so nothing is imported yet).

The layering rules of DESIGN.md (import contracts) and the type check run in ``make lint``.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_package_connects_to_nothing():
    code = (
        "import sqlalchemy.engine.base as b\n"
        "calls = []\n"
        "orig = b.Engine.connect\n"
        "b.Engine.connect = lambda self, *a, **k: calls.append(1) or orig(self, *a, **k)\n"
        "import consent_service, consent_service.api, consent_service.cli, consent_service.models\n"
        "assert not calls, calls\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
