"""A real HTTP server on 127.0.0.1 that receives recipient webhooks, checks their signature and
answers 500 for the next ``fail_next`` deliveries; ``hold`` makes each delivery wait until it
is set, so that tests can overlap two senders."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from consent_service.stores.connectors.http import verify_signature

SECRET = "recipient-secret-of-some-length"


class Endpoint:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.fail_next = 0
        self.arrived = threading.Event()  # set when a delivery arrives
        self.hold: threading.Event | None = None
        self.lock = threading.Lock()


@contextmanager
def serving() -> Iterator[tuple[str, Endpoint]]:
    """The receiver's URL and state while it runs."""
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp = self.headers.get("X-Consent-Timestamp", "")
            state.arrived.set()
            if state.hold is not None:
                state.hold.wait(30)
            with state.lock:
                if not verify_signature(SECRET, timestamp, body, self.headers.get("X-Consent-Signature", "")):
                    state.bad_signatures += 1
                    status = 401
                elif state.fail_next:
                    state.fail_next -= 1
                    status = 500
                else:
                    state.received.append(json.loads(body))
                    status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
