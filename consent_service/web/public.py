"""What every public page under ``/privacy`` shares: the site it is for, its language, its header.

- ``site()``: the site of ``?site=pk_…`` (or a key the page knows, e.g. the sign-in link's), by
  ``registry.public_site``: the controller's when no site has the key.
- ``choose_language(site, preferred)``: ``?lang=`` when the site speaks it, else ``preferred``
  (the language of the person's link or request) when the site speaks it, else the browser's
  best match among the site's languages, else the site's first. It becomes the page's language
  (``g.page_language``, read by ``i18n.language``).
- ``header(site)``: the values of the shared header (``privacy/_site_header.html``): the site's
  name and links and the language switch, whose plain links keep the page, its site and its
  link token, so they work without a script.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request, url_for

from consent_service.context import Context
from consent_service.registry.public_site import PublicSite, public_site

LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}
KEPT = ("token",)  # a link's token stays when the language changes (the same page, translated)
MAX_KEPT = 400


def _ctx() -> Context:
    context: Context = current_app.extensions["consent"]
    return context


def site(key: str | None = None) -> PublicSite:
    """The site named by ``?site=`` (else by ``key``), or the controller's."""
    return public_site(_ctx(), request.values.get("site") or key)


def choose_language(site: PublicSite, preferred: str | None = None) -> str:
    """The page's language (see the module docstring); sets it for the rest of the request."""
    asked = request.values.get("lang", "")
    if asked in site.languages:
        chosen = asked
    elif preferred in site.languages:
        chosen = str(preferred)
    else:
        first = site.languages[0]
        chosen = request.accept_languages.best_match(site.languages, default=first) or first
    g.page_language = chosen
    return chosen


def keep(site: PublicSite) -> dict[str, Any]:
    """The query that keeps the site and the language from page to page (public, no personal data)."""
    language = g.get("page_language") or site.languages[0]
    return {"lang": language} | ({"site": site.key} if site.key else {})


def header(site: PublicSite) -> dict[str, Any]:
    """The template values of the shared header and frame."""
    here = request.endpoint or "portal.home"
    args = dict(request.view_args or {})
    kept: dict[str, Any] = {n: request.values[n][:MAX_KEPT] for n in KEPT if request.values.get(n)}
    query = keep(site)
    switch = [
        (code, LANGUAGE_NAMES[code], url_for(here, **args, **kept, **(query | {"lang": code})))
        for code in site.languages
    ]
    return {
        "site": site,
        "switch": switch if len(switch) > 1 else [],
        "current_language": query["lang"],
        "controller_name": _ctx().config.controller_name,
        "keep": query,
    }
