"""Helpers of the console tests: staff accounts, an overdue paper request, CSRF tokens."""

from __future__ import annotations

import datetime as dt
import re
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
