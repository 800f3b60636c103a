"""Tables of the registry.

A purpose's *material* content (texts, legal basis, data categories, data uses, automated
decision-making) lives in immutable ``purpose_versions`` rows identified by a content hash; the
``purposes`` row holds the pointer to the current version and the settings that do not change
what a person agreed to (consent validity, retention, flags).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class Purpose(Base):
    __tablename__ = "purposes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    current_version: Mapped[int] = mapped_column(Integer)
    current_hash: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(32))
    consent_validity: Mapped[str] = mapped_column(String(32))
    retention_period: Mapped[str | None] = mapped_column(String(32))
    direct_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    honor_gpc: Mapped[bool] = mapped_column(Boolean, default=False)
    # "double_opt_in": a grant for an e-mail subject stays pending until the person confirms it
    confirmation: Mapped[str | None] = mapped_column(String(32))
    # ePrivacy Art. 5(3) / TDDDG §25(2): needed for the service the person asked for. Only such a
    # purpose is always on in a banner, whatever its GDPR legal basis; every other one is asked.
    strictly_necessary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # when the first consent decision for this purpose (or one of its cookies) was recorded; from
    # then on its legal basis stays ``consent`` (EDPB Guidelines 05/2020: no swapping of bases)
    consent_collected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PurposeVersion(Base):
    __tablename__ = "purpose_versions"

    purpose_key: Mapped[str] = mapped_column(String(64), ForeignKey("purposes.key"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    titles: Mapped[dict[str, Any]]
    descriptions: Mapped[dict[str, Any]]
    legal_basis: Mapped[str] = mapped_column(String(32))
    data_categories: Mapped[list[str]]
    data_uses: Mapped[list[str]]
    # Art. 15(1)(h): {"logic": {lang: text}, "consequences": {lang: text}}; None = no such decisions
    automated_decisions: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Cookie(Base):
    __tablename__ = "cookies"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(255))
    duration: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(255), default="/", server_default="/")
    purpose_key: Mapped[str] = mapped_column(String(64), ForeignKey("purposes.key"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    # {lang: text}: the banner's text per language (falls back to English, then ``description``)
    descriptions: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site_key: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_origins: Mapped[list[str]]
    purposes: Mapped[list[str]]
    cookies: Mapped[list[str]]
    # the banner's settings (``registry.sites.BANNER_DEFAULTS`` for what is not set); None = defaults
    banner: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
