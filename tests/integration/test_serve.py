"""``consent-service serve`` keeps answering while a browser holds idle connections open
(browsers pre-connect and keep sockets; a synchronous worker would wait on each)."""

from __future__ import annotations

import socket
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from tests.integration.live import serve


def test_idle_connections_do_not_hold_the_only_worker(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from consent_service.cli import main; main()", "serve"]
    command += ["--bind", "127.0.0.1:{port}", "--workers", "1"]
    with serve(tmp_path, command) as live:
        where = urlsplit(live.base)
        idle = [socket.create_connection((where.hostname, where.port), timeout=5) for _ in range(3)]
        try:
            with urllib.request.urlopen(live.base + "/health", timeout=5) as response:
                assert response.status == 200
        finally:
            for sock in idle:
                sock.close()
