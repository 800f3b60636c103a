"""Sites: the websites whose banners record consent, the origins each may call from, the
offer of its banner (the purposes and cookies it shows) and its settings (``banner_settings``).

Functions taking a ``session`` run in the caller's unit of work and do not commit; the ones taking
a ``ctx`` own their transaction. A site's id and public site key never change; its name, origins
and offer may (``change_site``), each purpose and cookie of the offer must be registered (else
``UnknownReference`` when nothing else is wrong), and so may its settings alone (``change_banner``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.db import columns_of
from consent_service.errors import InvalidInput, NotFound, refused
from consent_service.registry import banner_settings
from consent_service.registry.models import Cookie, Purpose, Site

# Who changed the registry: called in the change's own transaction with (session, action,
# details), so the audit entry and the change land together or not at all. The layers above
# (API, console) pass ``auditlog.service.recorder(...)``; the registry imports no audit log.
Recorder = Callable[[Session, str, dict[str, Any]], None]
REGISTRY_LOG = "registry"  # the audit log of registry changes (purposes, cookies, sites, recipients)

if TYPE_CHECKING:
    from consent_service.context import Context

MAX_SITE_NAME = 200


def create_site(
    session: Session,
    *,
    name: str,
    origins: Sequence[str],
    purposes: Sequence[str],
    cookies: Sequence[str],
    now: dt.datetime,
    banner: dict[str, Any] | None = None,
) -> Site:
    """Register a website and its banner's offer (and settings, ``registry.banner_settings``);
    returns it with a new public site key."""
    _check_site(session, "the site cannot be created", name, origins, purposes, cookies, banner)
    site = Site(
        id="site_" + secrets.token_hex(8),
        name=name.strip(),
        site_key="pk_" + secrets.token_urlsafe(18),
        allowed_origins=_origins(origins),
        purposes=list(dict.fromkeys(purposes)),
        cookies=list(dict.fromkeys(cookies)),
        banner=dict(banner) if banner else None,
        created_at=now,
    )
    session.add(site)
    session.flush()
    return site


def change_site(
    session: Session,
    site_id: str,
    *,
    name: str,
    origins: Sequence[str],
    purposes: Sequence[str],
    cookies: Sequence[str],
    banner: dict[str, Any] | None = None,
) -> Site:
    """Replace a site's name, allowed origins and offer; its id and public site key stay.
    ``banner``: its new settings (None keeps the present ones, which must still fit the new offer:
    Consent Mode may map only purposes the site offers)."""
    site = get_site(session, site_id)
    kept = banner if banner is not None else site.banner
    _check_site(session, "the site cannot be changed", name, origins, purposes, cookies, kept)
    site.name = name.strip()
    # new lists: the JSON columns see the change
    site.allowed_origins = _origins(origins)
    site.purposes = list(dict.fromkeys(purposes))
    site.cookies = list(dict.fromkeys(cookies))
    if banner is not None:
        site.banner = dict(banner)
    session.flush()
    return site


def change_banner(session: Session, site_id: str, banner: dict[str, Any]) -> Site:
    """Replace a site's banner settings document (what it leaves out takes ``DEFAULTS``)."""
    site = get_site(session, site_id)
    if errors := banner_settings.problems(banner, site.purposes):
        raise InvalidInput("the banner settings are not valid", errors=errors)
    site.banner = dict(banner)
    session.flush()
    return site


def _check_site(
    session: Session,
    detail: str,
    name: str,
    origins: Sequence[str],
    purposes: Sequence[str],
    cookies: Sequence[str],
    banner: dict[str, Any] | None,
) -> None:
    """Raise when the site is not valid: a 404 (``UnknownReference``) when its only problems are
    purposes or cookies that are not registered, else a 422 naming every problem."""
    errors = site_problems(
        session, name=name, origins=origins, purposes=purposes, cookies=cookies, banner=banner
    )
    if errors:
        references: set[tuple[str, str]] = {(f, errors[f][0]) for f in ("purposes", "cookies") if f in errors}
        raise refused(detail, errors, references)


def _origins(origins: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(o.rstrip("/") for o in origins))


def site_problems(
    session: Session,
    *,
    name: str,
    origins: Sequence[str],
    purposes: Sequence[str],
    cookies: Sequence[str],
    banner: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """What is wrong with a site's name, origins, offer and banner settings, keyed by field
    (empty when valid)."""
    errors: dict[str, list[str]] = {}
    if banner is not None:
        errors.update(banner_settings.problems(banner, purposes))
    if not name.strip():
        errors["name"] = ["required"]
    elif len(name.strip()) > MAX_SITE_NAME:
        errors["name"] = [f"at most {MAX_SITE_NAME} characters"]
    if not origins:
        errors["origins"] = ["at least one origin is required"]
    elif bad := origin_problems(origins):
        errors["origins"] = bad
    known = {p.key for p in session.scalars(select(Purpose).where(Purpose.key.in_(purposes)))}
    missing = [p for p in purposes if p not in known]
    if missing:
        errors["purposes"] = [f"not registered: {', '.join(missing)}"]
    known_c = {c.name for c in session.scalars(select(Cookie).where(Cookie.name.in_(cookies)))}
    missing = [c for c in cookies if c not in known_c]
    if missing:
        errors["cookies"] = [f"not registered: {', '.join(missing)}"]
    return errors


def origin_problems(origins: Sequence[str]) -> list[str]:
    return [
        f"{origin!r} is not an origin like https://www.example.org"
        for origin in origins
        if not origin.startswith(("https://", "http://")) or origin.count("/") != 2
    ]


def allow_origins(session: Session, site: Site, origins: Sequence[str]) -> bool:
    """Add ``origins`` to the site's allowed origins (kept in order, no duplicates); True if any was new."""
    if bad := origin_problems(origins):
        raise InvalidInput("the origins cannot be allowed", errors={"origins": bad})
    new = [o for o in dict.fromkeys(origins) if o not in site.allowed_origins]
    if new:
        site.allowed_origins = [*site.allowed_origins, *new]  # a new list: the JSON column sees the change
        session.flush()
    return bool(new)


def get_site(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id!r} is not registered")
    return site


def site_by_key(session: Session, site_key: str) -> Site | None:
    return session.scalars(select(Site).where(Site.site_key == site_key)).first()


def list_sites(session: Session) -> Sequence[Site]:
    return session.scalars(select(Site).order_by(Site.created_at)).all()


# Transactional entry points (own their unit of work) ------------------------------------------


def site_dict(site: Site) -> dict[str, Any]:
    """The site with its whole banner settings document (defaults filled in)."""
    out = columns_of(site)
    out["banner"] = banner_settings.settings(site.banner)
    return out


def register_site(
    ctx: Context,
    *,
    name: str,
    origins: Sequence[str],
    purposes: Sequence[str],
    cookies: Sequence[str],
    banner: dict[str, Any] | None = None,
    record: Recorder | None = None,
) -> dict[str, Any]:
    """Register a site in its own transaction; ``record``: who did it (``service.Recorder``)."""
    with ctx.uow() as uow:
        site = create_site(
            uow.session,
            name=name,
            origins=origins,
            purposes=purposes,
            cookies=cookies,
            now=ctx.now(),
            banner=banner,
        )
        out = site_dict(site)
        if record is not None:
            created = {"site": out["id"], "origins": list(origins)}
            record(uow.session, "site_created", created if banner is None else {**created, "banner": banner})
        uow.commit()
    return out


def change_site_offer(
    ctx: Context,
    site_id: str,
    *,
    name: str,
    origins: Sequence[str],
    purposes: Sequence[str],
    cookies: Sequence[str],
    banner: dict[str, Any] | None = None,
    record: Recorder | None = None,
) -> dict[str, Any]:
    """Replace a site's name, origins, offer and (unless None) banner settings in its own
    transaction (``change_site``); ``record``: who did it."""
    with ctx.uow() as uow:
        site = change_site(
            uow.session,
            site_id,
            name=name,
            origins=origins,
            purposes=purposes,
            cookies=cookies,
            banner=banner,
        )
        out = site_dict(site)
        if record is not None:
            change = {"site": site_id, "origins": list(origins)}
            record(uow.session, "site_changed", change if banner is None else {**change, "banner": banner})
        uow.commit()
    return out


def set_site_banner(
    ctx: Context, site_id: str, banner: dict[str, Any], *, record: Recorder | None = None
) -> dict[str, Any]:
    """Replace only a site's banner settings in its own transaction (``change_banner``);
    ``record``: who did it."""
    with ctx.uow() as uow:
        out = site_dict(change_banner(uow.session, site_id, banner))
        if record is not None:
            record(uow.session, "site_banner_changed", {"site": site_id, "banner": banner})
        uow.commit()
    return out


def remove_site(ctx: Context, site_id: str, *, record: Recorder | None = None) -> None:
    """Remove a site in its own transaction: its public key stops working at once (the banner
    is refused with 401); the consent already recorded through it stays in the ledger, which
    names the site by its id. ``record``: who did it."""
    with ctx.uow() as uow:
        site = get_site(uow.session, site_id)
        if record is not None:
            record(uow.session, "site_deleted", {"site": site_id, "name": site.name})
        uow.session.delete(site)
        uow.commit()


def read_sites(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return [site_dict(s) for s in list_sites(uow.session)]


def read_site(ctx: Context, site_id: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        return site_dict(get_site(uow.session, site_id))
