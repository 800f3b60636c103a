"""Every file the service reads at run time is in the installed package: each non-Python file
under consent_service/ matches a pattern of setup.cfg's package_data (an editable install
would hide a missing one; a wheel would not have it)."""

from __future__ import annotations

import configparser
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "consent_service"
NOT_DATA = {".py", ".pyc", ".mo"}  # code, and catalogs compiled at start-up from the .po files


def test_every_data_file_is_package_data():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["consent_service"].split(",")]
    missing = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file()
        and path.suffix not in NOT_DATA
        and "__pycache__" not in path.parts
        and not any(fnmatch.fnmatchcase(str(path.relative_to(PACKAGE)), p) for p in patterns)
    ]
    assert missing == [], f"add to setup.cfg [options.package_data]: {missing}"
