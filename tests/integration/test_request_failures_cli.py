"""``consent-service requests run`` on a request whose subject was shredded: exit 1 and the
reason the request failed, in words."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from consent_service.cli import main
from consent_service.dsar.request_views import show
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.erasure.shred import shred_subject
from consent_service.subjects.service import IdentityRef


def test_run_prints_why_the_request_failed(ctx: Any) -> None:
    cmd = OpenRequest("access", [IdentityRef("email", "anna@example.org")], {"method": "dpo", "note": "seen"})
    request_id = open_request(ctx, cmd, actor="dpo")["id"]
    shred_subject(ctx, show(ctx, request_id)["subject_id"], actor_type="client", actor_id="dpo")
    env = {
        "CONSENT_DATABASE_URL": ctx.config.database_url,
        "CONSENT_DATA_DIR": str(ctx.config.data_dir),
        "CONSENT_MASTER_KEYS": ctx.config.master_keys,
    }
    result = CliRunner().invoke(main, ["requests", "run", request_id], env=env)
    assert result.exit_code == 1, result.output
    assert f"request {request_id}: failed" in result.output and "crypto-shredded" in result.output
