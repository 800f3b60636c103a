"""A real SMTP server for tests (aiosmtpd) and reading what the person was sent."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from email.message import EmailMessage
from typing import Any


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        self.messages.append(envelope)
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def parsed(self) -> list[EmailMessage]:
        return [parse(m) for m in self.messages]

    def of_kind(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages of one kind (header ``X-Consent-Message``), waiting for ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.parsed() if m["X-Consent-Message"] == kind]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def parse(envelope: Any) -> EmailMessage:
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    return str(message.get_content()).replace("\r\n", "\n")


def code_in(message: Any) -> str:
    text = text_of(message if isinstance(message, EmailMessage) else parse(message))
    found = re.search(r"\b(\d{6})\.", text)  # "code is 123456." or "Code lautet 123456."
    assert found, text
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
