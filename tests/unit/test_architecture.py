"""The layering rules of DESIGN.md hold: feature packages never import the web layer."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


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


def test_the_package_type_checks():
    mypy = Path(sys.executable).parent / "mypy"
    result = subprocess.run([str(mypy)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
