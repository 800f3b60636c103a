"""The unit layer stays pure: a unit test that opens a database connection, a socket or a
subprocess, or builds the Flask app, fails at once, naming what it did. Such a test belongs in
tests/api or tests/integration; a unit test uses ``tests.fakes`` instead.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from typing import Any

import flask
import pytest
from sqlalchemy.engine import Engine


class NotInUnitTests(AssertionError):
    """What a unit test did that only integration and API tests may do."""


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotInUnitTests(f"a unit test {what}; use tests.fakes or move it to tests/integration")

    return refuse


@pytest.fixture(autouse=True)
def no_database_server_or_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Engine, "connect", _refuse("connected to a database"))
    monkeypatch.setattr(Engine, "raw_connection", _refuse("connected to a database"))
    monkeypatch.setattr(sqlite3, "connect", _refuse("opened a SQLite database"))
    monkeypatch.setattr(socket.socket, "connect", _refuse("opened a network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("opened a network connection"))
    monkeypatch.setattr(subprocess, "Popen", _refuse("started a subprocess"))
    monkeypatch.setattr(flask.Flask, "__init__", _refuse("built the Flask app"))
