"""The ``consent-service`` command offers the same commands wherever its code lives: the tree of
command paths is fixed here, and ``--help`` lists every top-level command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from click.testing import CliRunner

from consent_service.cli import main

COMMANDS = [
    "clients",
    "clients create",
    "clients list",
    "clients revoke",
    "db",
    "db current",
    "db upgrade",
    "deadlines",
    "demo",
    "import",
    "import consents",
    "keys",
    "keys adopt-backup",
    "keys init",
    "keys reindex",
    "keys retire",
    "keys rotate",
    "keys status",
    "ledger",
    "ledger check-checkpoint",
    "ledger checkpoint",
    "ledger export",
    "ledger public-key",
    "ledger rebuild-state",
    "ledger verify",
    "ledger witnesses",
    "optin",
    "optin purge",
    "outbox",
    "outbox deliver",
    "outbox list",
    "recipients",
    "recipients deliver",
    "recipients status",
    "requests",
    "requests complete-task",
    "requests list",
    "requests purge-packages",
    "requests run",
    "requests show",
    "requests tasks",
    "retention",
    "retention preview",
    "retention run",
    "retention runs",
    "retention show",
    "retention verify-log",
    "serve",
    "sites",
    "sites banner",
    "sites create",
    "sites delete",
    "sites list",
    "sites scan",
    "sites show",
    "stats",
    "stats rebuild",
    "stores",
    "stores list",
    "stores load",
    "stores test",
    "users",
    "users create",
    "users disable",
    "users list",
    "users reset-2fa",
    "users reset-password",
    "worker",
]


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found.append(" ".join((*prefix, name)))
        found += _paths(sub, (*prefix, name))
    return found


def test_the_command_tree_is_the_documented_one():
    assert _paths(main) == COMMANDS


def test_help_lists_every_top_level_command_and_each_group_its_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    top = [path for path in COMMANDS if " " not in path]
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == top
    for group in ("keys", "requests", "retention"):
        result = CliRunner().invoke(main, [group, "--help"])
        assert result.exit_code == 0, result.output
        for path in COMMANDS:
            if path.startswith(group + " "):
                assert f"  {path.split()[1]} " in result.output


def test_the_package_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "consent_service.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "retention" in result.stdout
