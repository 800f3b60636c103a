"""Row-to-dict in one place: ``db.columns_of`` gives a row's columns in the model's order, and
the views built on it keep the keys (and their order) that the API, the CLI and the audit logs
have always shown."""

from __future__ import annotations

from consent_service.auth.models import ApiClient
from consent_service.auth.service import client_dict
from consent_service.db import columns_of
from consent_service.dsar.recipients import recipient_dict
from consent_service.dsar.task_models import DsarTask, Recipient
from consent_service.dsar.tasks import task_dict
from consent_service.registry.models import Cookie, Purpose, PurposeVersion, Site
from consent_service.registry.service import cookie_dict, purpose_dict, site_dict, version_dict
from consent_service.retention.models import RetentionRun
from consent_service.retention.runs import run_view


def test_columns_of_follows_the_model_leaves_out_and_renames():
    cookie = Cookie(
        name="_ga", domain="example.org", provider="Google", duration="P2Y", purpose_key="analytics"
    )
    assert columns_of(cookie, exclude=("created_at", "updated_at"), rename={"purpose_key": "purpose"}) == {
        "name": "_ga",
        "domain": "example.org",
        "provider": "Google",
        "duration": "P2Y",
        "path": None,  # "/" once stored (the column's default)
        "purpose": "analytics",
        "description": None,
        "descriptions": None,
    }
    assert list(columns_of(cookie))[-2:] == ["created_at", "updated_at"]


def test_the_views_keep_their_keys_and_order():
    version = PurposeVersion(purpose_key="news", version=1, automated_decisions="none")
    assert list(purpose_dict(Purpose(key="news"), version)) == [
        "key", "version", "content_hash", "titles", "descriptions", "legal_basis", "data_categories",
        "data_uses", "automated_decisions", "consent_validity", "retention_period", "direct_marketing",
        "honor_gpc", "confirmation", "strictly_necessary", "consent_collected_at", "created_at", "updated_at",
    ]  # fmt: skip
    assert list(version_dict(version)) == [
        "version", "content_hash", "titles", "descriptions", "legal_basis", "data_categories", "data_uses",
        "automated_decisions", "created_at",
    ]  # fmt: skip
    assert list(cookie_dict(Cookie(name="_ga"))) == [
        "name", "domain", "provider", "duration", "path", "purpose", "description", "descriptions", "created_at",
        "updated_at",
    ]  # fmt: skip
    assert list(site_dict(Site(name="shop"))) == [
        "id", "name", "site_key", "allowed_origins", "purposes", "cookies", "banner", "created_at",
    ]  # fmt: skip
    assert list(client_dict(ApiClient(name="crm"))) == [
        "id", "name", "token_prefix", "scopes", "created_at", "revoked_at",
    ]  # fmt: skip
    assert list(recipient_dict(Recipient(key="crm", events=["erasure"]))) == [
        "key", "name", "endpoint", "events", "country", "safeguard", "created_at", "updated_at",
    ]  # fmt: skip
    assert list(task_dict(DsarTask(id="t1"), "done")) == [
        "id", "request_id", "store", "instructions", "due_at", "state", "note", "done_by", "done_at",
    ]  # fmt: skip
    assert task_dict(DsarTask(id="t1", note=b"sealed"), "opened")["note"] == "opened"
    assert list(run_view(RetentionRun(id="run_1"))) == [
        "id", "state", "dry_run", "store", "started_by", "started_at", "heartbeat_at", "finished_at",
        "error", "audit_seq", "report",
    ]  # fmt: skip
