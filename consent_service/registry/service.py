"""Registry services: purposes (versioned on material change), cookies, and what a site's banner
shows. Sites themselves live in ``registry.sites`` (re-exported here for existing callers).

Each function runs in the caller's unit of work and does not commit; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.db import columns_of
from consent_service.durations import DurationError, at_most, parse_duration
from consent_service.errors import (
    Conflict,
    InvalidInput,
    UnknownCookie,
    UnknownPurpose,
    UnknownReference,
)
from consent_service.hashing import content_hash
from consent_service.registry import automated, banner_settings, banner_texts, taxonomy
from consent_service.registry.models import Cookie, Purpose, PurposeVersion
from consent_service.registry.sites import REGISTRY_LOG as REGISTRY_LOG
from consent_service.registry.sites import Recorder as Recorder
from consent_service.registry.sites import allow_origins as allow_origins
from consent_service.registry.sites import list_sites as list_sites
from consent_service.registry.sites import register_site as register_site
from consent_service.registry.sites import site_by_key as site_by_key
from consent_service.registry.sites import site_dict as site_dict
from consent_service.registry.taxonomy import LEGAL_BASES

if TYPE_CHECKING:
    from consent_service.context import Context

REQUIRED_LANGUAGES = ("en", "de")
MAX_CONSENT_VALIDITY = "P13M"
DEFAULT_CONSENT_VALIDITY = "P12M"
MATERIAL_FIELDS = ("titles", "descriptions", "legal_basis", "data_categories", "data_uses")
# an RFC 6265 token of at most 128 characters: what a cookie may be named (paths and forms)
COOKIE_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}"
# where a cookie is set: "/" and printable ASCII without ";" (RFC 6265 path-value), at most 255
COOKIE_PATH = r"/[!-:<-~]{0,254}"


@dataclass
class PutResult:
    purpose: Purpose
    version: PurposeVersion
    created: bool
    new_version: bool


def material_hash(spec: dict[str, Any]) -> str:
    doc = {name: spec[name] for name in MATERIAL_FIELDS}
    doc["data_categories"] = sorted(set(doc["data_categories"]))
    doc["data_uses"] = sorted(set(doc["data_uses"]))
    adm = automated.stored(spec.get("automated_decisions"))
    if adm is not None:  # absent = "none": the hash of purposes without it stays what it was
        doc["automated_decisions"] = adm
    return content_hash(doc)


# how a grant for an e-mail subject becomes effective: at once (None) or on a confirmed link
CONFIRMATIONS = (None, "double_opt_in")


def validate_purpose(spec: dict[str, Any]) -> None:
    """Domain rules of a purpose beyond the schema; raises InvalidInput naming each field."""
    errors: dict[str, list[str]] = {}
    for name in ("titles", "descriptions"):
        missing = [lang for lang in REQUIRED_LANGUAGES if not spec[name].get(lang)]
        if missing:
            errors[name] = [f"missing language(s): {', '.join(missing)}"]
    if spec["legal_basis"] not in LEGAL_BASES:
        errors["legal_basis"] = [f"must be one of {', '.join(LEGAL_BASES)}"]
    elif spec.get("strictly_necessary") and spec["legal_basis"] == "consent":
        # strictly necessary storage needs no consent (ePrivacy Art. 5(3)); a purpose that rests on
        # consent cannot be always on, or its refusals would stop counting for its cookies
        errors["strictly_necessary"] = ["a purpose whose legal basis is consent cannot be strictly necessary"]
    bad = taxonomy.unknown_categories(spec["data_categories"])
    if bad:
        errors["data_categories"] = [f"not in the fideslang taxonomy: {', '.join(bad)}"]
    bad = taxonomy.unknown_uses(spec["data_uses"])
    if bad:
        errors["data_uses"] = [f"not in the fideslang taxonomy: {', '.join(bad)}"]
    try:
        parse_duration(spec["consent_validity"])
        if not at_most(spec["consent_validity"], MAX_CONSENT_VALIDITY):
            errors["consent_validity"] = [f"must not exceed {MAX_CONSENT_VALIDITY}"]
    except DurationError as exc:
        errors["consent_validity"] = [str(exc)]
    adm = automated.problems(spec.get("automated_decisions"), REQUIRED_LANGUAGES)
    if adm:
        errors["automated_decisions"] = adm
    if spec.get("confirmation") not in CONFIRMATIONS:
        errors["confirmation"] = [f"must be one of {', '.join(c for c in CONFIRMATIONS if c)} or null"]
    elif spec.get("confirmation") and spec["legal_basis"] != "consent":
        errors["confirmation"] = ["only a purpose whose legal basis is consent can ask for confirmation"]
    if spec.get("retention_period"):
        try:
            parse_duration(spec["retention_period"])
        except DurationError as exc:
            errors["retention_period"] = [str(exc)]
    if errors:
        raise InvalidInput("the purpose breaks registry rules", errors=errors)


def put_purpose(session: Session, key: str, spec: dict[str, Any], now: dt.datetime) -> PutResult:
    """Create or update a purpose. A material change adds a version; earlier ones stay."""
    spec = {**spec}
    spec.setdefault("consent_validity", DEFAULT_CONSENT_VALIDITY)
    validate_purpose(spec)
    digest = material_hash(spec)
    purpose = session.get(Purpose, key, with_for_update=not _is_sqlite(session))
    created = purpose is None
    if purpose is None:
        purpose = Purpose(key=key, current_version=0, current_hash="", created_at=now)
        session.add(purpose)
    new_version = purpose.current_hash != digest
    _keep_consent_basis(purpose, spec["legal_basis"])
    if new_version:
        version = PurposeVersion(
            purpose_key=key,
            version=purpose.current_version + 1,
            content_hash=digest,
            titles=dict(spec["titles"]),
            descriptions=dict(spec["descriptions"]),
            legal_basis=spec["legal_basis"],
            data_categories=sorted(set(spec["data_categories"])),
            data_uses=sorted(set(spec["data_uses"])),
            automated_decisions=automated.stored(spec.get("automated_decisions")),
            created_at=now,
        )
        session.add(version)
        purpose.current_version = version.version
        purpose.current_hash = digest
        purpose.legal_basis = spec["legal_basis"]
    else:
        version = current_version(session, purpose)
    purpose.consent_validity = spec["consent_validity"]
    purpose.retention_period = spec.get("retention_period")
    purpose.direct_marketing = bool(spec.get("direct_marketing", False))
    purpose.honor_gpc = bool(spec.get("honor_gpc", False))
    purpose.strictly_necessary = bool(spec.get("strictly_necessary", False))
    purpose.confirmation = spec.get("confirmation")
    purpose.updated_at = now
    session.flush()
    return PutResult(purpose, version, created, new_version)


def _keep_consent_basis(purpose: Purpose, basis: str) -> None:
    """Once consent was collected for a purpose, its basis stays consent (EDPB Guidelines 05/2020
    on consent, 121-123: a controller cannot swap to another basis after the fact)."""
    collected = purpose.consent_collected_at
    if purpose.legal_basis == "consent" and basis != "consent" and collected is not None:
        raise Conflict(
            f"consent was collected for purpose {purpose.key!r} since {collected:%Y-%m-%d}; its legal "
            "basis cannot change from consent afterwards (EDPB Guidelines 05/2020). Register a new "
            "purpose for processing on another basis",
            extra={"reason": "consent_collected", "consent_collected_at": collected.isoformat()},
        )


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def current_version(session: Session, purpose: Purpose) -> PurposeVersion:
    version = session.get(PurposeVersion, (purpose.key, purpose.current_version))
    assert version is not None, "a purpose always has its current version"
    return version


def get_purpose(session: Session, key: str) -> Purpose:
    purpose = session.get(Purpose, key)
    if purpose is None:
        raise UnknownPurpose(f"purpose {key!r} is not registered")
    return purpose


def list_purposes(session: Session) -> Sequence[Purpose]:
    return session.scalars(select(Purpose).order_by(Purpose.key)).all()


def purpose_versions(session: Session, key: str) -> Sequence[PurposeVersion]:
    return session.scalars(
        select(PurposeVersion).where(PurposeVersion.purpose_key == key).order_by(PurposeVersion.version)
    ).all()


def versions_by_key(session: Session, keys: Sequence[str]) -> dict[str, PurposeVersion]:
    """The current version of each named purpose, in one query."""
    rows = session.execute(
        select(PurposeVersion)
        .join(
            Purpose,
            (Purpose.key == PurposeVersion.purpose_key) & (Purpose.current_version == PurposeVersion.version),
        )
        .where(Purpose.key.in_(list(keys)))
    ).scalars()
    return {row.purpose_key: row for row in rows}


def put_cookie(session: Session, name: str, spec: dict[str, Any], now: dt.datetime) -> tuple[Cookie, bool]:
    if session.get(Purpose, spec["purpose"]) is None:
        raise UnknownReference(
            "the cookie names an unknown purpose",
            errors={"purpose": [f"purpose {spec['purpose']!r} is not registered"]},
        )
    descriptions = spec.get("descriptions") or {}
    if bad := [
        lang
        for lang, text in descriptions.items()
        if not (2 <= len(lang) <= 8 and isinstance(text, str) and 0 < len(text) <= 5000)
    ]:
        raise InvalidInput(
            "bad cookie texts",
            errors={
                "descriptions": [f"a language code and a text of 1 to 5000 characters: {', '.join(bad)}"]
            },
        )
    path = spec.get("path") or "/"
    if not re.fullmatch(COOKIE_PATH, path):
        raise InvalidInput(
            "bad cookie path",
            errors={"path": ["a cookie path: / and then printable ASCII without ; (at most 255 characters)"]},
        )
    duration = spec["duration"]
    if duration != "session":
        try:
            parse_duration(duration)
        except DurationError as exc:
            raise InvalidInput(
                "bad cookie duration", errors={"duration": [str(exc) + " or 'session'"]}
            ) from exc
    cookie = session.get(Cookie, name)
    created = cookie is None
    if cookie is None:
        cookie = Cookie(name=name, created_at=now)
        session.add(cookie)
    cookie.domain = spec["domain"]
    cookie.provider = spec["provider"]
    cookie.duration = duration
    cookie.purpose_key = spec["purpose"]
    cookie.description = spec.get("description")
    cookie.descriptions = dict(spec["descriptions"]) if spec.get("descriptions") else None
    cookie.path = path
    cookie.updated_at = now
    session.flush()
    return cookie, created


def get_cookie(session: Session, name: str) -> Cookie:
    cookie = session.get(Cookie, name)
    if cookie is None:
        raise UnknownCookie(f"cookie {name!r} is not registered")
    return cookie


def list_cookies(session: Session) -> Sequence[Cookie]:
    return session.scalars(select(Cookie).order_by(Cookie.name)).all()


# Transactional entry points (own their unit of work) ------------------------------------------


def purpose_dict(purpose: Purpose, version: PurposeVersion) -> dict[str, Any]:
    """The purpose with the material content of its current ``version``."""
    return {
        "key": purpose.key,
        "version": purpose.current_version,
        "content_hash": purpose.current_hash,
        **_content(version),
        **columns_of(purpose, exclude=("key", "current_version", "current_hash", "legal_basis")),
    }


def version_dict(version: PurposeVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "content_hash": version.content_hash,
        **_content(version),
        "created_at": version.created_at,
    }


def _content(version: PurposeVersion) -> dict[str, Any]:
    """A version's material content (texts, legal basis, categories, uses, automated decisions)."""
    content = columns_of(version, exclude=("purpose_key", "version", "content_hash", "created_at"))
    content["automated_decisions"] = automated.shown(version.automated_decisions)
    return content


def cookie_dict(cookie: Cookie) -> dict[str, Any]:
    return columns_of(cookie, rename={"purpose_key": "purpose"})


def save_purpose(
    ctx: Context,
    key: str,
    spec: dict[str, Any],
    *,
    must_be_new: bool = False,
    record: Recorder | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or update a purpose in its own transaction: (purpose, created). ``must_be_new``:
    Conflict (reason ``exists``) instead of changing a purpose that is already registered;
    ``record``: who changed it, written in the same transaction."""
    with ctx.uow() as uow:
        if must_be_new and uow.session.get(Purpose, key) is not None:
            raise _exists(f"purpose {key!r} is already registered")
        result = put_purpose(uow.session, key, spec, ctx.now())
        out = purpose_dict(result.purpose, result.version)
        out["new_version"] = result.new_version
        if record is not None:
            details = {"purpose": key, "version": out.get("version"), "new_version": result.new_version}
            record(uow.session, "purpose_created" if result.created else "purpose_saved", details)
        uow.commit()
    return out, result.created


def read_purpose(ctx: Context, key: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        purpose = get_purpose(uow.session, key)
        out = purpose_dict(purpose, current_version(uow.session, purpose))
        out["versions"] = [version_dict(v) for v in purpose_versions(uow.session, key)]
        return out


def read_purposes(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        purposes = list_purposes(uow.session)
        versions = versions_by_key(uow.session, [p.key for p in purposes])
        return [purpose_dict(p, versions[p.key]) for p in purposes]


def _exists(detail: str) -> Conflict:
    return Conflict(detail, extra={"reason": "exists"})


def save_cookie(
    ctx: Context,
    name: str,
    spec: dict[str, Any],
    *,
    must_be_new: bool = False,
    record: Recorder | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or update a cookie in its own transaction: (cookie, created). ``must_be_new`` and
    ``record``: as for ``save_purpose``."""
    with ctx.uow() as uow:
        if must_be_new and uow.session.get(Cookie, name) is not None:
            raise _exists(f"cookie {name!r} is already registered")
        cookie, created = put_cookie(uow.session, name, spec, ctx.now())
        out = cookie_dict(cookie)
        if record is not None:
            record(uow.session, "cookie_created" if created else "cookie_saved", {"cookie": name})
        uow.commit()
    return out, created


def read_cookies(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return [cookie_dict(c) for c in list_cookies(uow.session)]


def read_cookie(ctx: Context, name: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        return cookie_dict(get_cookie(uow.session, name))


def banner_config(ctx: Context, site_key: str, lang: str | None = None) -> dict[str, Any] | None:
    """What a site's banner shows, in ``lang`` (the page's language; the site's first language
    when the site does not offer it): the banner's texts (``registry.banner_texts``, with the
    site's overrides), its purposes and cookies with their texts in that language (English as
    the fallback), and the site's banner settings (``registry.banner_settings``)."""
    with ctx.uow(write=False) as uow:
        site = site_by_key(uow.session, site_key)
        if site is None:
            return None
        session = uow.session
        purposes = {p.key: p for p in session.scalars(select(Purpose).where(Purpose.key.in_(site.purposes)))}
        versions = versions_by_key(session, list(purposes))
        cookies = session.scalars(select(Cookie).where(Cookie.name.in_(site.cookies))).all()
        settings = banner_settings.settings(site.banner)
        chosen = lang if lang and lang in settings["languages"] else str(settings["languages"][0])
        return {
            "site": {"id": site.id, "name": site.name},
            "language": chosen,
            "languages": settings["languages"],
            "texts": banner_texts.texts(chosen, settings["texts"]),
            "purposes": [
                {
                    "key": key,
                    "version": purposes[key].current_version,
                    "title": banner_texts.pick(versions[key].titles, chosen, key),
                    "description": banner_texts.pick(versions[key].descriptions, chosen),
                    "titles": versions[key].titles,
                    "descriptions": versions[key].descriptions,
                    "legal_basis": versions[key].legal_basis,
                    "strictly_necessary": purposes[key].strictly_necessary,
                    "honor_gpc": purposes[key].honor_gpc,
                    "consent_validity": purposes[key].consent_validity,
                }
                for key in site.purposes
                if key in purposes
            ],
            "cookies": [
                {
                    **cookie_dict(c),
                    "text": banner_texts.pick(c.descriptions, chosen, c.description or ""),
                }
                for c in sorted(cookies, key=lambda c: site.cookies.index(c.name))
            ],
            "settings": {k: v for k, v in settings.items() if k not in ("texts", "languages")},
        }
