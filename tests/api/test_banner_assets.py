"""The banner script and the demo page are served with the right types, caching and errors."""

import pytest

from consent_service.demo import DEMO_ORIGINS, seed
from consent_service.errors import InvalidInput
from consent_service.registry import service as registry


def test_banner_script_is_javascript_with_a_cache_header(client):
    response = client.get("/v1/public/banner.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert "max-age=" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data(as_text=True)
    assert "consent-service:decision" in body
    assert "/v1/public/consents" in body


def test_banner_script_answers_304_to_its_etag(client):
    etag = client.get("/v1/public/banner.js").headers["ETag"]
    response = client.get("/v1/public/banner.js", headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_banner_script_needs_no_token_and_is_documented_without_security(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["paths"]["/v1/public/banner.js"]["get"]["security"] == []
    assert spec["paths"]["/demo"]["get"]["security"] == []


def test_demo_page_embeds_the_banner_with_the_demo_site_key(client, demo):
    response = client.get("/demo")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert f'src="/v1/public/banner.js" data-site-key="{demo["site"]["site_key"]}"' in html
    assert "{{" not in html


def test_demo_page_speaks_german_on_request_and_ignores_unknown_languages(client, demo):
    assert '<html lang="de">' in client.get("/demo?lang=de").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/demo?lang=xx").get_data(as_text=True)


def test_demo_page_prefers_the_demo_site_allowing_its_own_origin(client, ctx, demo):
    own = registry.register_site(
        ctx, name="Demo shop", origins=["http://localhost"], purposes=["analytics"], cookies=[]
    )
    html = client.get("/demo").get_data(as_text=True)  # the test client's origin is http://localhost
    assert f'data-site-key="{own["site_key"]}"' in html
    assert demo["site"]["site_key"] not in html


def test_demo_page_without_a_demo_site_is_a_problem_404(client):
    response = client.get("/demo")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404
    assert "consent-service demo" in body["detail"]


OTHER_PORT = "http://127.0.0.1:8123"


def test_demo_seeded_for_another_port_lets_the_banner_there_work(client, ctx):
    first = seed(ctx)  # a first `make run` on the default port
    again = seed(ctx, [OTHER_PORT])  # then `make run PORT=8123` on the same data
    assert again["site"]["site_key"] == first["site"]["site_key"]
    assert seed(ctx, [OTHER_PORT])["site"]["allowed_origins"].count(OTHER_PORT) == 1  # idempotent
    preflight = client.options(
        "/v1/public/consents", headers={"Origin": OTHER_PORT, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == OTHER_PORT
    offer = client.get(f"/v1/public/sites/{first['site']['site_key']}", headers={"Origin": OTHER_PORT})
    assert offer.status_code == 200 and offer.headers["Access-Control-Allow-Origin"] == OTHER_PORT
    html = client.get("/demo", base_url=OTHER_PORT).get_data(as_text=True)
    assert f'data-site-key="{first["site"]["site_key"]}"' in html


def test_a_fresh_demo_site_allows_the_given_origin_and_the_defaults(ctx):
    site = seed(ctx, [OTHER_PORT])["site"]
    assert site["allowed_origins"] == [*DEMO_ORIGINS, OTHER_PORT]


def test_demo_seeding_refuses_a_malformed_origin_and_changes_nothing(ctx):
    before = seed(ctx)["site"]["allowed_origins"]
    with pytest.raises(InvalidInput) as caught:
        seed(ctx, ["127.0.0.1:8123"])
    assert "origins" in caught.value.errors
    with ctx.uow(write=False) as uow:
        assert [s.allowed_origins for s in registry.list_sites(uow.session)] == [before]
