"""Running requests over HTTP: retry, the package (json, csv, html; 404 before, 410 after
erasure) and the per-store reports, with a real SQL connector on an SQLite store file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.api.helpers import assert_problem, crm_store


def setup_store(client: Any, headers: dict[str, str], tmp_path: Path) -> str:
    return crm_store(client, headers, tmp_path, ((1, "anna@example.org", "Anna"), (2, "b@x.org", "B")))


def open_verified(client: Any, headers: dict[str, str], kind: str) -> str:
    body = {
        "type": kind,
        "identities": [{"type": "email", "value": "anna@example.org"}],
        "verification": {"method": "dpo", "note": "seen in person"},
    }
    created = client.post("/v1/requests", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def run_queued(client: Any, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    """POST /retry (202, queued on the embedded task queue), then poll until the run settles."""
    import time

    queued = client.post(f"/v1/requests/{request_id}/retry", headers=headers)
    assert queued.status_code == 202, queued.get_json()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown = client.get(f"/v1/requests/{request_id}", headers=headers).get_json()
        if shown["state"] in ("completed", "failed"):
            return shown
        time.sleep(0.05)
    raise AssertionError(f"request {request_id} still {shown['state']}")


def test_retry_package_and_report(client: Any, admin: dict[str, str], demo: Any, tmp_path: Path) -> None:
    url = setup_store(client, admin, tmp_path)
    access = open_verified(client, admin, "access")
    assert_problem(client.get(f"/v1/requests/{access}/package", headers=admin), 404)
    assert run_queued(client, admin, access)["state"] == "completed"
    package = client.get(f"/v1/requests/{access}/package", headers=admin).get_json()
    assert package["stores"]["crm"]["customers"] == [{"id": 1, "email": "anna@example.org", "name": "Anna"}]
    csvs = client.get(f"/v1/requests/{access}/package?format=csv", headers=admin).get_json()
    assert list(csvs) == ["crm.customers"]
    one = client.get(f"/v1/requests/{access}/package?format=csv&collection=crm.customers", headers=admin)
    assert one.mimetype == "text/csv" and one.text.startswith("id,email,name")
    page = client.get(f"/v1/requests/{access}/package?format=html", headers=admin)
    # the newsletter uses the e-mail address found; essential operation uses cookies only
    assert page.mimetype == "text/html" and "Newsletter" in page.text
    assert "Essential operation" not in page.text
    assert_problem(client.get(f"/v1/requests/{access}/package?format=pdf", headers=admin), 422)

    erasure = open_verified(client, admin, "erasure")
    assert run_queued(client, admin, erasure)["state"] == "completed"
    report = client.get(f"/v1/requests/{erasure}/report", headers=admin).get_json()
    assert report[0]["store"] == "crm" and report[0]["report"]["collections"][0]["deleted"] == 1
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM customers")).scalars().all() == [2]
    engine.dispose()
    assert_problem(client.get(f"/v1/requests/{access}/package", headers=admin), 410)
    assert_problem(client.post(f"/v1/requests/{erasure}/retry", headers=admin), 409)


def test_retry_needs_the_dsar_scope(client: Any, token: Any) -> None:
    headers = {"Authorization": f"Bearer {token('consent:write')}"}
    assert_problem(client.post("/v1/requests/req_x/retry", headers=headers), 403)


def test_expired_packages_are_refused_then_purged(
    client: Any, admin: dict[str, str], demo: Any, ctx: Any, tmp_path: Path
) -> None:
    import datetime as dt

    from consent_service.dsar.package import purge_expired

    setup_store(client, admin, tmp_path)
    access = open_verified(client, admin, "access")
    assert run_queued(client, admin, access)["state"] == "completed"
    assert purge_expired(ctx) == 0
    later = ctx.now() + dt.timedelta(days=ctx.config.package_retention_days, hours=1)
    ctx.clock = lambda: later
    assert_problem(client.get(f"/v1/requests/{access}/package", headers=admin), 410)
    assert purge_expired(ctx) == 1
    assert_problem(client.get(f"/v1/requests/{access}/package", headers=admin), 404)


def test_the_package_names_registered_recipients(
    client: Any, admin: dict[str, str], demo: Any, tmp_path: Path
) -> None:
    setup_store(client, admin, tmp_path)
    recipient = {
        "name": "Mail partner GmbH",
        "endpoint": "http://127.0.0.1:9/hook",
        "secret": "a-shared-secret-of-16+",
        "events": ["erasure"],
        "country": "US",
    }
    refused = client.put("/v1/recipients/mailer", headers=admin, json=recipient)
    assert "safeguard" in assert_problem(refused, 422)["errors"]  # a third country needs one
    recipient["safeguard"] = "standard_contractual_clauses"
    saved = client.put("/v1/recipients/mailer", headers=admin, json=recipient)
    assert saved.status_code == 201 and saved.get_json()["country"] == "US"
    access = open_verified(client, admin, "access")
    assert run_queued(client, admin, access)["state"] == "completed"
    package = client.get(f"/v1/requests/{access}/package", headers=admin).get_json()
    assert package["recipients"] == [
        {
            "name": "Mail partner GmbH",
            "told_of": ["erasure"],
            "country": "US",
            "country_name": "United States",
            "third_country": True,
            "safeguard": "standard_contractual_clauses",
        }
    ]
    page = client.get(f"/v1/requests/{access}/package?format=html", headers=admin).text
    assert "<td>Mail partner GmbH</td><td>erasure</td><td>United States</td>" in page
    assert "standard data protection clauses (Art. 46(2)(c))" in page
