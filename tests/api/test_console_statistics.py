"""The console's statistics page: every staff role reads it, only the DPO (``stats:unsuppressed``)
sees numbers for fewer subjects, its CSV downloads are the API's CSV, decisions made not through
a banner have their own "no site" row, a chart with nothing to draw says why, and bad filters are
a form error (400), never a 500."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from consent_service.ledger import stats
from consent_service.registry.sites import list_sites
from tests.api.test_stats_api import decide, today
from tests.console_helpers import PASSWORD, add_staff, sign_in

ROLES = ("admin", "dpo", "agent", "auditor")
HIDDEN = "Too few people in this period to show these numbers"


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
    assert 'type="application/json"' in html and "<table>" in html
    for heading in ("Opt-in rate per purpose", "Withdrawals", "Data subject requests", "per site"):
        assert heading in html
    with app.extensions["consent"].uow(write=False) as uow:
        sites = list_sites(uow.session)
    assert sites and all(f'<th scope="row">{site.name}</th>' in html for site in sites)  # names, not ids
    if role in ("admin", "dpo"):
        assert 'class="suppressed"' not in html and "every number" in html and HIDDEN not in html
        assert '<td data-label="Denials">3</td>' in html
        assert 'data-chart="optin"' in html and 'data-chart="shares"' in html
    else:
        assert '<span class="suppressed">fewer than 10</span>' in html and "is not shown" in html
        assert '<td data-label="Denials">3</td>' not in html
        # every rate and share is held back (the 3 denials): the charts say why instead
        for chart in ("optin", "shares"):
            assert f'data-chart="{chart}"' not in html
            assert f'<p class="empty chart-empty" id="chart-{chart}-empty">{HIDDEN}' in html
    # no withdrawals at all: nothing held back, nothing to draw
    assert 'id="chart-withdrawals-empty">No withdrawals in this period.</p>' in html
    assert '<td data-label="Grants">12</td>' in html


@pytest.mark.parametrize("role, site", [("dpo", ""), ("agent", ""), ("dpo", "none")])
def test_the_csv_downloads_are_the_apis_csv(app, client, seeded, token, role, site):
    day = seeded["day"]
    scopes = ("stats:read", "stats:unsuppressed") if role == "dpo" else ("stats:read",)
    api = {"Authorization": f"Bearer {token(*scopes)}"}
    console = staff_client(app, role)
    query = f"purpose=newsletter&from={day}&to={day}&interval=day" + (f"&site={site}" if site else "")
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


def test_decisions_made_not_through_a_banner_have_a_no_site_row(app, seeded, ctx):
    day = seeded["day"]
    with ctx.uow(write=False) as uow:
        (site,) = list_sites(uow.session)
    no_site = stats.consent_stats(ctx, site=stats.NO_SITE, interval=stats.WHOLE_RANGE, unsuppressed=True)
    (bucket,) = no_site["buckets"]
    assert (no_site["site"], bucket["grants"], bucket["denials"]) == ("", 12, 3)  # decided by API
    assert stats.consent_stats(ctx, site=site.id, interval=stats.WHOLE_RANGE)["buckets"][0]["grants"] == 0

    dpo = staff_client(app, "dpo")
    html = dpo.get("/console/statistics").get_data(as_text=True)
    assert '<tr><th scope="row">No site</th>\n    <td data-label="Decisions">15</td>' in html
    assert '<td data-label="Through the API">100.0 %</td>' in html
    assert f'<tr><th scope="row">{site.name}</th>\n    <td data-label="Decisions">0</td>' in html
    charts = page_charts(html)
    assert charts["shares"]["labels"] == [site.name, "No site"]
    api = next(s for s in charts["shares"]["series"] if s["label"] == "Through the API")
    assert api["data"] == [None, 100.0]
    assert "site=none" in html and '<option value="none">No site (API, imports, forms)</option>' in html

    def rows(site_param: str) -> list[dict[str, str]]:
        query = f"site={site_param}&from={day}&to={day}&interval=range"
        answer = dpo.get(f"/console/statistics/consents.csv?{query}")
        assert answer.status_code == 200
        return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))

    assert [(r["grants"], r["denials"], r["share_api"]) for r in rows("none")] == [("12", "3", "1.0")]
    assert [(r["grants"], r["denials"]) for r in rows(site.id)] == [("0", "0")]
    filtered = dpo.get("/console/statistics?site=none").get_data(as_text=True)
    assert '<option selected value="none">' in filtered and '<td data-label="Grants">12</td>' in filtered
    german = dpo.get("/console/statistics", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<th scope="row">Ohne Website</th>' in german


def page_charts(html: str) -> dict[str, Any]:
    block = html.split('<script type="application/json" id="chart-data">', 1)[1].split("</script>", 1)[0]
    return dict(json.loads(block))


@pytest.mark.parametrize("role", ["dpo", "agent"])
def test_a_range_without_decisions_says_so_instead_of_an_empty_chart(app, seeded, role):
    console = staff_client(app, role)
    html = console.get("/console/statistics?from=2020-01-01&to=2020-01-31").get_data(as_text=True)
    assert "<canvas" not in html and HIDDEN not in html
    assert {c["state"] for c in page_charts(html).values()} == {"empty"}
    for chart in ("optin", "shares"):
        assert f'id="chart-{chart}-empty">No decisions in this period.</p>' in html
    assert 'id="chart-requests-empty">No requests received in this period.</p>' in html
    german = console.get(
        "/console/statistics?from=2020-01-01&to=2020-01-31", headers={"Accept-Language": "de"}
    ).get_data(as_text=True)
    assert 'id="chart-optin-empty">Keine Entscheidungen in diesem Zeitraum.</p>' in german


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


def test_the_page_says_when_the_counts_days_are_of_another_zone_until_a_rebuild(app, seeded, ctx):
    dpo = staff_client(app, "dpo")
    assert 'id="zone-notice"' not in dpo.get("/console/statistics").get_data(as_text=True)
    ctx.config = ctx.config.with_overrides(timezone="Europe/Berlin")  # set after the counts were built
    html = dpo.get("/console/statistics").get_data(as_text=True)
    assert 'id="zone-notice"' in html
    assert "the time zone UTC, in which the counts were built; the service is set to Europe/Berlin" in html
    assert stats.rebuild_counts(ctx)["time_zone"] == "Europe/Berlin"
    assert 'id="zone-notice"' not in dpo.get("/console/statistics").get_data(as_text=True)
