"""Least privilege across the whole console: every page a role can reach by its links opens for
it, and an auditor's every change is refused (403) before anything is read or written."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.routing import Rule

from consent_service import create_app
from consent_service.auditlog.models import AuditEntry
from tests.console_crawl import OWN_ACCOUNT, SEARCHES, crawl, seed_console_data
from tests.console_helpers import PASSWORD, add_staff, sign_in, token

ROLES = ("admin", "dpo", "agent", "auditor")


@pytest.fixture
def app(clocked_ctx):
    seed_console_data(clocked_ctx)
    for role in ROLES:
        add_staff(clocked_ctx, email=f"{role}@example.org", role=role)
    return create_app(context=clocked_ctx)


def signed_in(app, role):
    client = app.test_client()
    assert sign_in(client, email=f"{role}@example.org", password=PASSWORD).status_code == 302
    return client


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_is_shown_opens_for_it(app, role):
    pages = crawl(signed_in(app, role))
    broken = {url: r.status_code for url, r in pages.items() if r.status_code != 200}
    assert broken == {}, f"{role} is linked to pages it cannot open"
    assert len(pages) >= 1 and "/console/requests" in pages


def test_the_pages_of_more_privileged_roles_are_a_superset():
    """Sanity of the role table the crawler relies on: every auditor page is a dpo page."""
    from consent_service.staff.service import ACTIONS, can

    for action in ACTIONS:
        if can("auditor", action):
            assert all(can(role, action) for role in ROLES)


def _fill(rule: Rule) -> str:
    """A URL of ``rule`` with every argument filled (the guard answers before the view looks)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "00000000-0000-4000-8000-000000000000", rule.rule)


def changing_routes(app):
    return sorted(
        (rule.endpoint, _fill(rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.")
        and "POST" in (rule.methods or ())
        and rule.endpoint not in OWN_ACCOUNT | SEARCHES
    )


def test_an_auditor_is_refused_every_change(app, clocked_ctx):
    routes = changing_routes(app)
    assert routes, "the console has no change to refuse"
    client = signed_in(app, "auditor")
    csrf = token(client.get("/console/requests").get_data(as_text=True))
    before = audit_rows(clocked_ctx)
    answers = {
        endpoint: client.post(url, data={"csrf_token": csrf, "confirm": "y"}).status_code
        for endpoint, url in routes
    }
    assert answers == {endpoint: 403 for endpoint, _ in routes}
    assert audit_rows(clocked_ctx) == before


def audit_rows(ctx) -> int:
    with ctx.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
