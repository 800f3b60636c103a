"""Which site a public page under ``/privacy`` is for (``?site=pk_…``), as every such page shows it.

One value (``PublicSite``) and one function (``public_site``) for the portal, the preference
centre and the unsubscribe page. What is public here is what the site's banner shows anyway: its
name, the languages its banner speaks, its privacy policy and imprint links (from the banner
settings) and the purposes it offers.

An unknown, missing or cut key is not an error: the page is shown for the controller (its name,
``CONSENT_POLICY_URL``, every language the service speaks with ``CONSENT_DEFAULT_LANGUAGE``
first, every purpose). A stale or mistyped
link must never keep a person from making a request or withdrawing a consent (GDPR Art. 12(2),
Art. 7(3)); and answering "no such site" would only tell a prober which keys exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from consent_service.config import SUPPORTED_LANGUAGES
from consent_service.registry import banner_settings
from consent_service.registry.sites import site_by_key

if TYPE_CHECKING:
    from consent_service.context import Context

MAX_KEY = 64


@dataclass(frozen=True)
class PublicSite:
    """A site as its public pages show it; ``key`` None: the controller's own (no site named)."""

    key: str | None
    name: str
    languages: tuple[str, ...]  # never empty; only languages the service speaks, the site's first
    privacy_url: str | None
    imprint_url: str | None
    purposes: tuple[str, ...] | None  # the site's offer; None: every purpose


def public_site(ctx: Context, site_key: str | None) -> PublicSite:
    """The site of the public key ``site_key``, or the controller's when no site has that key
    (see the module docstring). Reads only; never raises for a bad key."""
    config = ctx.config
    # the controller's languages: every one the service speaks, its default first
    every = tuple(sorted(SUPPORTED_LANGUAGES, key=lambda code: code != config.default_language))
    key = (site_key or "")[:MAX_KEY]
    if key:
        with ctx.uow(write=False) as uow:
            found = site_by_key(uow.session, key)
            if found is not None:
                settings = banner_settings.settings(found.banner)
                links = settings.get("links") or {}
                spoken = tuple(
                    code for code in settings.get("languages") or [] if code in SUPPORTED_LANGUAGES
                )
                return PublicSite(
                    key=found.site_key,
                    name=found.name,
                    # the site's own languages first; the others the service speaks stay on offer,
                    # so a person can always read the pages in German or English
                    languages=spoken + tuple(code for code in every if code not in spoken),
                    privacy_url=links.get("privacy") or config.policy_url or None,
                    imprint_url=links.get("imprint") or None,
                    purposes=tuple(found.purposes),
                )
    return PublicSite(None, config.controller_name, every, config.policy_url or None, None, None)
