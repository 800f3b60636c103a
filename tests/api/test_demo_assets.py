"""The demo page's stand-ins for third-party content are served by the service itself (offline)."""

import pytest


@pytest.mark.parametrize(
    ("path", "mimetype", "text"),
    [
        ("/demo/analytics.js", "application/javascript", "_ga="),
        ("/demo/partner.html", "text/html", "advertising partner"),
    ],
)
def test_demo_assets_are_served_with_their_type_and_a_cache_header(client, path, mimetype, text):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert "max-age=" in response.headers["Cache-Control"]
    assert text in response.get_data(as_text=True)


def test_the_demo_marks_its_third_party_content_for_consent(client, demo):
    html = client.get("/demo").get_data(as_text=True)
    assert (
        '<script type="text/plain" data-consent="analytics" data-consent-cookie="_ga" data-src="/demo/analytics.js"></script>'
        in html
    )
    assert 'data-consent="ads" data-src="/demo/partner.html"' in html
    assert "/demo/partner.html" not in html.replace('data-src="/demo/partner.html"', "")  # never a plain src
