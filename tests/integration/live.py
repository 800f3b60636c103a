"""The real service on a local port for live tests: a migrated SQLite file, demo data, a token."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from consent_service.config import Config
from consent_service.crypto.keyring import KeyMaterial
from consent_service.wiring import bootstrap
from tests.conftest import migrate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    base: str
    port: int
    token: str
    log_path: Path
    env: dict[str, str]  # the service's environment, for CLI commands on the same database
    process: subprocess.Popen[bytes]  # the server, leader of its own process group


@contextmanager
def serve(
    tmp_path: Path,
    command: Sequence[str],
    *,
    log_name: str = "serve.log",
    env: dict[str, str] | None = None,
    database_url: str | None = None,
) -> Iterator[Served]:
    """Run ``command`` (``{port}`` is replaced) until it answers /health; stop it afterwards.

    The database is a migrated SQLite file in ``tmp_path`` unless ``database_url`` names an
    already migrated one. The server runs in its own session (process group), so a test may
    signal the whole group (``os.killpg(served.process.pid, ...)``): the master and its workers."""
    url = database_url or f"sqlite:///{tmp_path / 'consent.db'}"
    if database_url is None:
        migrate(url)
    keys = KeyMaterial.generate().to_json()
    ctx = bootstrap(Config(data_dir=tmp_path, database_url=url, master_keys=keys))
    from consent_service.demo import seed

    token = seed(ctx)["token"]
    ctx.db.dispose()
    port = free_port()
    environ = {
        **os.environ,
        "CONSENT_DATABASE_URL": url,
        "CONSENT_MASTER_KEYS": keys,
        "CONSENT_DATA_DIR": str(tmp_path),
        **(env or {}),
    }
    log_path = tmp_path / log_name
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the service did not start: " + log_path.read_text())
                time.sleep(0.2)
        yield Served(base, port, token, log_path, environ, server)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
