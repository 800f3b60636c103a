"""Records of processing (Art. 30(1)) over HTTP: JSON and CSV built from purposes, stores,
recipients, retention rules and the configured controller, DPO, subjects and transfers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from consent_service.retention.ropa import CSV_COLUMNS
from consent_service.retention.rules import put_rule
from tests.api.helpers import assert_problem, crm_store

RECIPIENT_SECRET = "recipient-secret-of-some-length"
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
NEWSLETTER = {
    "titles": {"de": "Newsletter", "en": "Newsletter, monthly"},
    "descriptions": {"en": "News about our products, by e-mail.", "de": "Neuigkeiten per E-Mail."},
    "legal_basis": "consent",
    "data_categories": ["user.contact"],
    "data_uses": ["marketing.communications.email"],
    "retention_period": "P2Y",
    "consent_validity": "P12M",
    "direct_marketing": True,
}
ANALYTICS = {
    "titles": {"de": "Statistik", "en": "Audience measurement"},
    "descriptions": {"de": "Reichweitenmessung.", "en": "Counting visits."},
    "legal_basis": "consent",
    "data_categories": ["user.device.cookie_id"],
    "data_uses": ["analytics.reporting"],
    "consent_validity": "P6M",
}
RULES: dict[str, dict[str, Any]] = {
    "crm-customers": {
        "description": "Customer records end three years after creation.",
        "applies_to": {"store": "crm", "collection": "customers"},
        "period": "P3Y",
        "trigger": {"type": "since_field", "field": "created_at"},
        "action": "delete",
    },
    "newsletter-consent": {
        "applies_to": {"purpose": "newsletter"},
        "period": "P30D",
        "trigger": {"type": "consent_ended"},
        "action": "crypto_shred",
    },
    "device-ids": {
        "applies_to": {"category": "user.device"},
        "period": "P13M",
        "trigger": {"type": "last_activity", "field": "seen_at"},
        "action": "anonymise",
    },
}


@pytest.fixture
def registered(client: Any, admin: dict[str, str], ctx: Any, tmp_path: Path) -> str:
    """Two purposes, the crm store, a recipient and three rules; returns the store's URL."""
    for key, body in (("newsletter", NEWSLETTER), ("analytics", ANALYTICS)):
        assert client.put(f"/v1/purposes/{key}", headers=admin, json=body).status_code == 201
    url = crm_store(client, admin, tmp_path)
    recipient = {
        "name": "Mail partner GmbH",
        "endpoint": "https://localhost/partner-hooks?token=do-not-show",
        "secret": RECIPIENT_SECRET,
        "events": ["erasure", "rectification"],
    }
    assert client.put("/v1/recipients/mailer", headers=admin, json=recipient).status_code == 201
    with ctx.uow() as uow:
        for key, rule in RULES.items():
            put_rule(uow.session, key, rule, actor="test", now=ctx.now())
        uow.commit()
    return url


@pytest.fixture
def configured(ctx: Any) -> Any:
    ctx.config = ctx.config.with_overrides(
        controller_address="Hauptstr. 1, 10115 Berlin",
        dpo_name="Dana DPO",
        dpo_contact="dpo@example.org",
        data_subject_categories="customers, newsletter subscribers",
        third_country_transfers="none outside the EEA",
    )
    ctx.clock = lambda: NOW
    return ctx


def test_the_json_records(client: Any, admin: dict[str, str], configured: Any, registered: str) -> None:
    response = client.get("/v1/ropa", headers=admin)
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["controller"] == {
        "name": "Example Controller GmbH",
        "contact": "privacy@example.org",
        "address": "Hauptstr. 1, 10115 Berlin",
    }
    assert doc["dpo"] == {"name": "Dana DPO", "contact": "dpo@example.org"}
    assert doc["generated_at"] == "2026-03-02T09:30:00+00:00"
    assert doc["data_subject_categories"] == ["customers", "newsletter subscribers"]
    assert doc["third_country_transfers"] == "none outside the EEA"
    assert "AES-256-GCM" in doc["security_measures"] and "blind index" in doc["security_measures"]
    mailer = {"key": "mailer", "name": "Mail partner GmbH", "events": ["erasure", "rectification"]}
    assert doc["recipients"] == [mailer]

    analytics, newsletter = doc["records"]
    assert newsletter == {
        "purpose": "newsletter",
        "version": 1,
        "title": "Newsletter, monthly",
        "titles": NEWSLETTER["titles"],
        "descriptions": NEWSLETTER["descriptions"],
        "legal_basis": "consent",
        "direct_marketing": True,
        "data_subject_categories": ["customers", "newsletter subscribers"],
        "data_categories": ["user.contact"],
        "stored_in": [
            {
                "store": "crm",
                "collection": "customers",
                "field": "email",
                "category": "user.contact.email",
                "location": "crm.customers.email",
            }
        ],
        "data_uses": ["marketing.communications.email"],
        "recipients": [mailer],
        "third_country_transfers": "none outside the EEA",
        "retention_period": "P2Y",
        "consent_validity": "P12M",
        "retention_rules": [
            {
                "key": "crm-customers",
                "version": 1,
                "in_words": "P3Y after the record's created_at, then deleted",
            },
            {
                "key": "newsletter-consent",
                "version": 1,
                "in_words": "P30D after consent to newsletter ended (withdrawn, refused or expired), "
                "then made unreadable",
            },
        ],
    }
    assert analytics["purpose"] == "analytics" and analytics["title"] == "Audience measurement"
    assert analytics["stored_in"] == [] and analytics["retention_period"] is None
    assert analytics["consent_validity"] == "P6M"
    assert analytics["retention_rules"] == [
        {
            "key": "device-ids",
            "version": 1,
            "in_words": "P13M after the last activity (seen_at), then anonymised",
        }
    ]

    assert doc["stores"] == [
        {
            "key": "crm",
            "type": "sql",
            "description": "",
            "collections": [
                {
                    "name": "customers",
                    "fields": [
                        {"field": "email", "category": "user.contact.email"},
                        {"field": "name", "category": "user.name"},
                    ],
                }
            ],
        }
    ]
    assert [r["key"] for r in doc["retention_rules"]] == ["crm-customers", "device-ids", "newsletter-consent"]
    crm_rule = doc["retention_rules"][0]
    assert crm_rule["description"] == "Customer records end three years after creation."
    assert crm_rule["applies_to"] == {"store": "crm", "collection": "customers"}
    assert crm_rule["action"] == "delete" and crm_rule["period"] == "P3Y"


def test_the_csv_records(client: Any, admin: dict[str, str], configured: Any, registered: str) -> None:
    response = client.get("/v1/ropa?format=csv", headers=admin)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ropa.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == 3
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    analytics, newsletter = records
    assert newsletter["purpose"] == "newsletter" and newsletter["version"] == "1"
    assert newsletter["title"] == "Newsletter, monthly"
    assert newsletter["description"] == "News about our products, by e-mail."
    assert (
        newsletter["controller"] == "Example Controller GmbH, privacy@example.org, Hauptstr. 1, 10115 Berlin"
    )
    assert newsletter["dpo"] == "Dana DPO, dpo@example.org"
    assert newsletter["data_subject_categories"] == "customers; newsletter subscribers"
    assert newsletter["data_categories"] == "user.contact"
    assert newsletter["stored_in"] == "crm.customers.email (user.contact.email)"
    assert newsletter["recipients"] == "Mail partner GmbH (erasure, rectification)"
    assert newsletter["third_country_transfers"] == "none outside the EEA"
    assert newsletter["retention_period"] == "P2Y" and newsletter["consent_validity"] == "P12M"
    assert newsletter["retention_rules"] == (
        "crm-customers v1: P3Y after the record's created_at, then deleted; "
        "newsletter-consent v1: P30D after consent to newsletter ended (withdrawn, refused or "
        "expired), then made unreadable"
    )
    assert "AES-256-GCM" in newsletter["security_measures"]
    assert analytics["purpose"] == "analytics" and analytics["description"] == "Counting visits."
    assert analytics["stored_in"] == "" and analytics["retention_period"] == ""
    assert (
        analytics["retention_rules"]
        == "device-ids v1: P13M after the last activity (seen_at), then anonymised"
    )


def test_no_secret_in_either_output(client: Any, admin: dict[str, str], registered: str) -> None:
    store_url = registered
    for path in ("/v1/ropa", "/v1/ropa?format=json", "/v1/ropa?format=csv"):
        text = client.get(path, headers=admin).text
        assert "crm.customers.email" in text
        for secret in (store_url, "crm.db", RECIPIENT_SECRET, "partner-hooks", "do-not-show"):
            assert secret not in text, (path, secret)


def test_empty_registry_and_defaults(client: Any, admin: dict[str, str]) -> None:
    doc = client.get("/v1/ropa", headers=admin).get_json()
    assert doc["records"] == [] and doc["stores"] == [] and doc["retention_rules"] == []
    assert doc["dpo"] == {"name": "", "contact": ""}
    assert doc["data_subject_categories"] == ["website visitors", "customers"]
    assert doc["third_country_transfers"] == "none"
    rows = list(csv.reader(io.StringIO(client.get("/v1/ropa?format=csv", headers=admin).text)))
    assert rows == [list(CSV_COLUMNS)]


def test_auth_and_a_bad_format(client: Any, token: Any, admin: dict[str, str]) -> None:
    assert_problem(client.get("/v1/ropa"), 401)
    assert_problem(client.get("/v1/ropa", headers={"Authorization": "Bearer nope"}), 401)
    other = {"Authorization": f"Bearer {token('registry:read', 'consent:read')}"}
    assert_problem(client.get("/v1/ropa", headers=other), 403)
    assert_problem(client.get("/v1/ropa?format=csv", headers=other), 403)
    dpo = {"Authorization": f"Bearer {token('dsar:manage')}"}
    assert client.get("/v1/ropa", headers=dpo).status_code == 200
    problem = assert_problem(client.get("/v1/ropa?format=pdf", headers=admin), 422)
    assert list(problem["errors"]) == ["format"]


def test_the_endpoint_is_documented(client: Any) -> None:
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/ropa"]["get"]
    assert operation["summary"].startswith("The records of processing activities")
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert [p["name"] for p in operation["parameters"]] == ["format"]
