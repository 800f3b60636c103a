"""The access package tells which retention applies to the subject's data (Art. 15(1)(d)):
rules on the store collections records were found in, on the categories found and on the
purposes the subject decided on (directly or through a cookie), next to each purpose's period."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from consent_service.retention.rules import put_rule
from tests.api.helpers import consent_body
from tests.api.test_execution_api import open_verified, run_queued, setup_store

RULES: dict[str, dict[str, Any]] = {
    "crm-customers": {
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
    "analytics-consent": {  # the subject refused the _ga cookie, whose purpose is analytics
        "applies_to": {"purpose": "analytics"},
        "period": "P7D",
        "trigger": {"type": "consent_ended"},
        "action": "delete",
    },
    "ads-consent": {  # no decision on ads: does not apply
        "applies_to": {"purpose": "ads"},
        "period": "P1M",
        "trigger": {"type": "consent_ended"},
        "action": "delete",
    },
    "card-data": {  # no field of this category was found: does not apply
        "applies_to": {"category": "user.financial"},
        "period": "P10Y",
        "trigger": {"type": "since_field", "field": "paid_at"},
        "action": "anonymise",
    },
}
CRM_SENTENCE = "P3Y after the record's created_at, then deleted"


def put_rules(ctx: Any, rules: dict[str, dict[str, Any]]) -> None:
    with ctx.uow() as uow:
        for key, rule in rules.items():
            put_rule(uow.session, key, rule, actor="test", now=ctx.now())
        uow.commit()


def test_a_rule_on_the_collection_found_is_in_the_package(
    client: Any, admin: dict[str, str], demo: Any, ctx: Any, tmp_path: Path
) -> None:
    setup_store(client, admin, tmp_path)
    put_rules(ctx, {"crm-customers": RULES["crm-customers"]})
    access = open_verified(client, admin, "access")
    assert run_queued(client, admin, access)["state"] == "completed"

    package = client.get(f"/v1/requests/{access}/package", headers=admin).get_json()
    assert package["retention"]["rules"] == [
        {
            "key": "crm-customers",
            "version": 1,
            "applies_to": {"store": "crm", "collection": "customers"},
            "period": "P3Y",
            "trigger": {"type": "since_field", "field": "created_at"},
            "action": "delete",
            "in_words": CRM_SENTENCE,
        }
    ]
    # only the purposes that concern this person: the newsletter uses the e-mail address found
    periods = {p["key"]: p["retention_period"] for p in package["retention"]["purposes"]}
    assert periods == {"newsletter": "P2Y"}
    page = client.get(f"/v1/requests/{access}/package?format=html", headers=admin).text
    section = page.split("<h2>Retention (Art. 15(1)(d))</h2>")[1].split("<h2>")[0]
    assert "<td>crm-customers</td><td>1</td><td>store crm, collection customers</td>" in section
    # in the report: durations in words, purposes by their titles
    assert html.escape("3 years after the record's created_at, then deleted") in section
    assert "<td>Newsletter</td><td>2 years</td>" in section and "Personalised advertising" not in section


def test_rules_on_decided_purposes_apply_and_others_do_not(
    client: Any, admin: dict[str, str], demo: Any, ctx: Any, tmp_path: Path
) -> None:
    setup_store(client, admin, tmp_path)
    put_rules(ctx, RULES)
    recorded = client.post("/v1/consents", headers=admin, json=consent_body())  # newsletter, _ga
    assert recorded.status_code == 201, recorded.get_json()
    access = open_verified(client, admin, "access")
    assert run_queued(client, admin, access)["state"] == "completed"

    package = client.get(f"/v1/requests/{access}/package", headers=admin).get_json()
    keys = [r["key"] for r in package["retention"]["rules"]]
    assert keys == ["analytics-consent", "crm-customers", "newsletter-consent"]
    assert "anna" not in str(package["retention"]).lower()
    page = client.get(f"/v1/requests/{access}/package?format=html", headers=admin).text
    section = page.split("<h2>Retention (Art. 15(1)(d))</h2>")[1].split("<h2>")[0]
    assert "newsletter-consent" in section and "analytics-consent" in section
    assert "ads-consent" not in section and "card-data" not in section


def test_no_rule_says_so(client: Any, admin: dict[str, str], demo: Any, tmp_path: Path) -> None:
    setup_store(client, admin, tmp_path)
    access = open_verified(client, admin, "access")
    assert run_queued(client, admin, access)["state"] == "completed"
    package = client.get(f"/v1/requests/{access}/package", headers=admin).get_json()
    assert package["retention"]["rules"] == []
    page = client.get(f"/v1/requests/{access}/package?format=html", headers=admin).text
    assert "No retention rule applies to the data found." in page
