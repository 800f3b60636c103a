"""Consent from a website's cookie banner: site key, allowed origins, the site's offer, GPC.

Banners may only speak for anonymous device ids and only about the purposes and cookies their
site offers. With the Global Privacy Control signal (``Sec-GPC``, read by ``ledger.gpc``), for
each ``honor_gpc`` purpose of the site (see ``with_gpc``):

- a purpose the request does not decide is recorded as denied, with method ``gpc``;
- "Accept all" (method ``accept_all``) does not override the signal: its decisions on the
  purpose and the purpose's cookies are recorded as denials with method ``gpc``, grants and the
  denials of a banner that applied the signal itself alike (accepting all refuses nothing of its own);
- only the person's own choice in the banner's settings (method ``custom``) grants it: such a
  grant stands, as does every denial (``reject_all`` stays a denial with its own method).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.errors import Forbidden, InvalidInput, Unauthorized, UnknownReference
from consent_service.ledger.service import DecisionInput, RecordConsent, Recorded, record_consent
from consent_service.registry.models import Cookie, Purpose, Site
from consent_service.registry.service import site_by_key
from consent_service.subjects.service import IdentityRef


def load_site(ctx: Context, site_key: str | None) -> Site:
    if not site_key:
        raise Unauthorized("send the site's public key in the X-Site-Key header")
    with ctx.uow(write=False) as uow:
        site = site_by_key(uow.session, site_key)
    if site is None:
        raise Unauthorized("unknown site key")
    return site


def origin_allowed(site: Site, origin: str | None) -> bool:
    if not origin:
        return False
    return origin.rstrip("/") in site.allowed_origins


def any_site_allows(ctx: Context, origin: str) -> bool:
    with ctx.uow(write=False) as uow:
        for origins in uow.session.scalars(select(Site.allowed_origins)):
            if origin.rstrip("/") in origins:
                return True
    return False


def with_gpc(
    ctx: Context, site: Site, decisions: Sequence[DecisionInput], method: str
) -> list[DecisionInput]:
    """The decisions to record when the request carries the GPC signal (the module's rule)."""
    with ctx.uow(write=False) as uow:
        honoring = set(
            uow.session.scalars(
                select(Purpose.key).where(Purpose.key.in_(site.purposes), Purpose.honor_gpc.is_(True))
            )
        )
        governed_by: dict[str, str] = {
            name: purpose
            for name, purpose in uow.session.execute(
                select(Cookie.name, Cookie.purpose_key).where(
                    Cookie.name.in_(site.cookies), Cookie.purpose_key.in_(honoring)
                )
            )
        }
    out = []
    for d in decisions:
        purpose = d.target_key if d.target_type == "purpose" else governed_by.get(d.target_key)
        if method == "accept_all" and purpose in honoring:
            out.append(DecisionInput(d.target_type, d.target_key, False, method="gpc"))
        else:
            out.append(d)
    decided = {d.target_key for d in decisions if d.target_type == "purpose"}
    out += [DecisionInput("purpose", key, False, method="gpc") for key in sorted(honoring - decided)]
    return out


def gpc_denials(events: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The purposes and cookies recorded as denials because of the GPC signal (method ``gpc``),
    for the banner to show the person what the signal decided."""
    denied = [e for e in events if e["method"] == "gpc" and e["decision"] != "granted"]
    return {
        "purposes": sorted(e["target_key"] for e in denied if e["target_type"] == "purpose"),
        "cookies": sorted(e["target_key"] for e in denied if e["target_type"] == "cookie"),
    }


def record_banner_consent(
    ctx: Context,
    *,
    site: Site,
    origin: str | None,
    device_id: IdentityRef,
    decisions: Sequence[DecisionInput],
    method: str,
    gpc: bool,
    proof: dict[str, Any],
    language: str | None,
    jurisdiction: str | None,
    collection_point: str | None,
) -> Recorded:
    if not origin_allowed(site, origin):
        raise Forbidden(f"origin {origin!r} is not allowed for this site")
    if device_id.type != "device_id":
        raise InvalidInput(
            "banners record device ids only", errors={"subject": {"type": ["must be 'device_id'"]}}
        )
    errors: dict[str, list[str]] = {}
    for index, d in enumerate(decisions):
        offered = site.purposes if d.target_type == "purpose" else site.cookies
        if d.target_key not in offered:
            errors[f"decisions.{index}"] = [f"{d.target_type} {d.target_key!r} is not offered by this site"]
    if errors:
        raise UnknownReference("the banner decided on something its site does not offer", errors=errors)
    if gpc:
        decisions = with_gpc(ctx, site, decisions, method)
    return record_consent(
        ctx,
        RecordConsent(
            decisions=decisions,
            channel="banner",
            method=method,
            actor_type="site",
            actor_id=site.id,
            subject=device_id,
            collection_point=collection_point or site.name,
            language=language,
            jurisdiction=jurisdiction,
            proof={**proof, "gpc": gpc},
        ),
    )
