"""The console's statistics page: every staff role reads it, only the DPO (``stats:unsuppressed``)
sees numbers for fewer subjects, its CSV downloads are the API's CSV, and bad filters are a form
error (400), never a 500."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from consent_service.registry.sites import list_sites
from tests.api.test_stats_api import decide, today
from tests.console_helpers import PASSWORD, add_staff, sign_in

ROLES = ("admin", "dpo", "agent", "auditor")


@pytest.fixture
def seeded(app, client, admin, demo, ctx) -> dict[str, Any]:
    for i in range(12):
        decide(client, admin, f"c{i}", True)
    for i in range(3):
        decide(client, admin, f"d{i}", False)
    for role in ROLES:
        add_staff(ctx, email=f"{role}@example.org", role=role)
    return {"day": today(ctx)}


def staff_client(app, role):
    c = app.test_client()
    assert sign_in(c, email=f"{role}@example.org", password=PASSWORD).status_code == 302
    return c


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_page_and_only_the_dpo_sees_small_numbers(app, seeded, role):
    page = staff_client(app, role).get("/console/statistics?purpose=newsletter")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'aria-current="page"' in html and "/console/statistics" in html
    assert "<canvas" in html and 'type="application/json"' in html and "<table>" in html
    for heading in ("Opt-in rate per purpose", "Withdrawals", "Data subject requests", "per site"):
        assert heading in html
    with app.extensions["consent"].uow(write=False) as uow:
        sites = list_sites(uow.session)
    assert sites and all(f'<th scope="row">{site.name}</th>' in html for site in sites)  # names, not ids
    if role in ("admin", "dpo"):
        assert 'class="suppressed"' not in html and "every number" in html
        assert '<td data-label="Denials">3</td>' in html
    else:
        assert '<span class="suppressed">fewer than 10</span>' in html and "is not shown" in html
        assert '<td data-label="Denials">3</td>' not in html
    assert '<td data-label="Grants">12</td>' in html


@pytest.mark.parametrize("role", ["dpo", "agent"])
def test_the_csv_downloads_are_the_apis_csv(app, client, seeded, token, role):
    day = seeded["day"]
    scopes = ("stats:read", "stats:unsuppressed") if role == "dpo" else ("stats:read",)
    api = {"Authorization": f"Bearer {token(*scopes)}"}
    console = staff_client(app, role)
    query = f"purpose=newsletter&from={day}&to={day}&interval=day"
    mine = console.get(f"/console/statistics/consents.csv?{query}")
    theirs = client.get(f"/v1/stats/consents?{query}&format=csv", headers=api)
    assert mine.status_code == 200 and mine.mimetype == "text/csv"
    assert "attachment" in mine.headers["Content-Disposition"]
    assert mine.get_data() == theirs.get_data()
    rows = list(csv.DictReader(io.StringIO(mine.get_data(as_text=True))))
    assert rows[0]["denials"] == ("3" if role == "dpo" else "")
    requests_mine = console.get(f"/console/statistics/requests.csv?from={day}&to={day}")
    requests_theirs = client.get(f"/v1/stats/requests?from={day}&to={day}&format=csv", headers=api)
    assert requests_mine.status_code == 200 and requests_mine.get_data() == requests_theirs.get_data()


def test_the_page_links_its_downloads(app, seeded):
    html = staff_client(app, "agent").get("/console/statistics").get_data(as_text=True)
    assert "/console/statistics/consents.csv?" in html and "/console/statistics/requests.csv?" in html
    assert "interval=range" in html  # the shares per site


@pytest.mark.parametrize(
    "query",
    [
        "from=not-a-day",
        "from=2026-05-01&to=2026-04-01",
        "interval=year",
        "purpose=nothing_like_it",
        "site=nowhere",
        "from=1900-01-01",
        "from=1990-01-01&to=2026-01-01",
    ],
)
def test_bad_filters_are_a_form_error_not_a_500(app, seeded, query):
    console = staff_client(app, "agent")
    page = console.get(f"/console/statistics?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert 'class="error"' in html and "<canvas" not in html
    assert console.get(f"/console/statistics/consents.csv?{query}").status_code == 400


def test_signed_out_visitors_are_sent_to_sign_in(app):
    assert app.test_client().get("/console/statistics").status_code == 302
    assert app.test_client().get("/console/statistics/consents.csv").status_code == 302
