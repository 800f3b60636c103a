"""Helpers of the console tests: staff accounts, an overdue paper request, CSRF tokens, the
values a browser would send for a form as the page shows it."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

from consent_service.context import Context
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.staff import service as staff
from consent_service.subjects.service import IdentityRef

PASSWORD = "correct horse battery staple"
DPO = "dpo@example.org"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def add_staff(
    ctx: Context, email: str = DPO, role: str = "dpo", password: str | None = PASSWORD
) -> str | None:
    """Create an account; its one-time password when ``password`` is None."""
    return staff.create_user(ctx, email=email, role=role, password=password, actor="test")[1]


def overdue_paper_request(ctx: Context, email: str = "anna@example.org") -> str:
    """An access request that arrived by post five weeks ago, verified by the DPO: overdue."""
    cmd = OpenRequest(
        "access",
        [IdentityRef("email", email)],
        {"method": "dpo", "note": "signed letter, ID card seen"},
        received_at=ctx.now() - dt.timedelta(weeks=5),
    )
    return str(open_request(ctx, cmd, actor="test")["id"])


def token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: Any, email: str = DPO, password: str = PASSWORD) -> Any:
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"csrf_token": token(page.get_data(as_text=True)), "email": email, "password": password},
    )


class _FormValues(HTMLParser):
    """The successful controls of a page's forms (HTML's form submission, without buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.textareas: set[str] = set()
        self._textarea: str | None = None
        self._select: str | None = None

    def _add(self, name: str | None, value: str) -> None:
        if name:
            self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self._add(a.get("name"), a.get("value") or ("on" if a.get("type") == "checkbox" else ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.textareas.add(self._textarea or "")
            self._add(self._textarea, "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value") or "")

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_values(html: str) -> dict[str, list[str]]:
    """What a browser sends for the page's form as it is shown (each name with its values)."""
    parser = _FormValues()
    parser.feed(html)
    for name in parser.textareas & set(parser.values):  # HTML drops a textarea's first line break
        parser.values[name] = [v.removeprefix("\r").removeprefix("\n") for v in parser.values[name]]
    return parser.values
