"""``/docs`` is Swagger UI served by the service itself: same-origin files only, no inline script."""

import re

from flask import Flask

from consent_service.api import docs, init_api

TYPES = {".css": "text/css", ".js": ("application/javascript", "text/javascript"), ".png": "image/png"}


def referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_page_loads_only_files_the_service_serves(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    urls = referenced(html)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls)
    assert any(u.endswith("swagger-ui.css") for u in urls)
    assert "{{" not in html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin
        with client.get(url) as asset:  # files are streamed: close them
            assert asset.status_code == 200, url
            expected = TYPES[url[url.rfind(".") :]]
            assert asset.mimetype in (expected if isinstance(expected, tuple) else (expected,)), url
            assert asset.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_page_has_no_inline_script_and_a_same_origin_policy(client):
    response = client.get("/docs")
    html = response.get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # every script is a file
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert 'data-spec-url="/openapi.json"' in html


def test_swagger_ui_files_are_versioned_and_cached_for_long(client):
    url = f"{docs.SWAGGER_UI_URL}swagger-ui-bundle.js"
    assert re.fullmatch(r"/docs/static/swagger-ui-\d+\.\d+\.\d+/swagger-ui-bundle\.js", url)
    with client.get(url) as response:
        assert "immutable" in response.headers["Cache-Control"]
        assert f"max-age={docs.ASSET_MAX_AGE}" in response.headers["Cache-Control"]
        assert "SwaggerUIBundle" in response.get_data(as_text=True)


def test_only_the_listed_swagger_ui_files_are_served(client):
    for path in ("index.html", "swagger-ui-bundle.js.map", "..%2F__init__.py", "nope.js"):
        with client.get(f"{docs.SWAGGER_UI_URL}{path}") as response:
            assert response.status_code == 404, path
    assert client.get("/docs/static/swagger-ui-0.0.0/swagger-ui.css").status_code == 404


def test_docs_files_are_not_api_operations(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert not [p for p in paths if p.startswith("/docs")]


def test_a_configured_swagger_ui_url_is_used_and_allowed_by_the_policy(ctx):
    app = Flask("consent_service")
    app.extensions["consent"] = ctx
    app.config["OPENAPI_SWAGGER_UI_URL"] = "https://assets.example/swagger-ui/"
    init_api(app)
    response = app.test_client().get("/docs")
    html = response.get_data(as_text=True)
    assert 'src="https://assets.example/swagger-ui/swagger-ui-bundle.js"' in html
    assert "script-src 'self' https://assets.example;" in response.headers["Content-Security-Policy"]
