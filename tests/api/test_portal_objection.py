"""An objection in the portal offers what a person can object to under Art. 21 GDPR: purposes on
legitimate interests or a public task, and direct marketing; consent is withdrawn instead (the
page says so and links to the preference centre). The server refuses anything else sent."""

from __future__ import annotations

import re

from consent_service.registry import sites as registry_sites
from tests.api.test_portal import csrf, requests_in, submit

OFFERED = re.compile(r'name="purposes" type="checkbox" value="([^"]+)"')


def offered(html: str) -> list[str]:
    return sorted(OFFERED.findall(html))


def test_only_purposes_a_person_can_object_to_are_offered(dpo, clocked_ctx):
    client, _ = dpo
    html = client.get("/privacy/requests/new?lang=de").get_data(as_text=True)
    # the demo: essential on legitimate interests; newsletter and ads direct marketing (on consent);
    # analytics on consent only
    assert offered(html) == ["ads", "essential", "newsletter"]
    assert "Website-Analyse" not in html
    assert "widerrufen Sie stattdessen" in html and 'href="/privacy/preferences' in html


def test_a_forged_purpose_is_a_form_error_and_nothing_is_written(dpo, clocked_ctx):
    client, _ = dpo
    forged = submit(client, type="objection", purposes=["newsletter", "analytics"])
    html = forged.get_data(as_text=True)
    assert forged.status_code == 400 and "Wählen Sie nur Verwendungen Ihrer Daten aus der Liste." in html
    assert 'href="#purposes"' in html  # in the summary, linking to the field
    assert requests_in(clocked_ctx) == 0
    assert submit(client, type="objection", purposes=["newsletter"]).status_code == 303
    assert requests_in(clocked_ctx) == 1


def consent_only_site(ctx) -> str:
    """A site whose one purpose (the demo's analytics) is based on consent: its public key."""
    with ctx.uow() as uow:
        site = registry_sites.create_site(
            uow.session, name="Blog", origins=["https://blog.example"], purposes=["analytics"],
            cookies=[], now=ctx.now(),
        )  # fmt: skip
        uow.commit()
        return site.site_key


def test_a_site_with_nothing_to_object_to_says_so(dpo, clocked_ctx):
    client, _ = dpo
    key = consent_only_site(clocked_ctx)
    page = client.get(f"/privacy/requests/new?site={key}&lang=en")
    html = page.get_data(as_text=True)
    assert offered(html) == [] and html.count("there is nothing to object to") == 2  # hint and fieldset
    token = csrf(client, f"/privacy/requests/new?site={key}")
    data = {"csrf_token": token, "type": "objection", "email": "anna@example.org"}
    refused = client.post(f"/privacy/requests/new?site={key}&lang=en", data=data)
    assert refused.status_code == 400 and 'href="#type"' in refused.get_data(as_text=True)
    forged = client.post(f"/privacy/requests/new?site={key}&lang=en", data=data | {"purposes": "essential"})
    assert forged.status_code == 400
    assert requests_in(clocked_ctx) == 0
