"""Fixtures of the API tests: ``tclient`` (a test client of the demo data, on a fixed clock) with
``auth`` (an admin client's token); and those that need a real SMTP server: ``smtp``
(controller, inbox), ``dpo`` (a test client wired to that server, with a DPO's token) and
``prefs_world`` (that, with a person the preference centre knows)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from consent_service import create_app
from tests.api.helpers import consent_body
from tests.api.mail import Inbox, free_port


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def dpo(clocked_ctx, smtp):
    from consent_service.auth.service import register_client
    from consent_service.demo import seed

    controller, _ = smtp
    clocked_ctx.config = clocked_ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=controller.port)
    seed(clocked_ctx)
    client = create_app(context=clocked_ctx).test_client()
    scopes = ["dsar:manage", "consent:write", "decisions:read"]
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'dpo', scopes)[1]}"}
    return client, headers


@pytest.fixture
def tclient(clocked_ctx):
    from consent_service.demo import seed

    seed(clocked_ctx)
    return create_app(context=clocked_ctx).test_client()


@pytest.fixture
def auth(clocked_ctx):
    from consent_service.auth.service import register_client

    return {"Authorization": f"Bearer {register_client(clocked_ctx, 'crm', ['admin'])[1]}"}


@pytest.fixture
def prefs_world(dpo):
    """``dpo`` with anna@example.org subscribed to the newsletter: a person the preference
    centre knows."""
    client, headers = dpo
    body = consent_body("anna@example.org", decisions=[{"purpose": "newsletter", "granted": True}])
    assert client.post("/v1/consents", headers=headers, json=body).status_code == 201
    return client, headers
