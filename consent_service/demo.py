"""The demo configuration seeded by ``consent-service demo`` (and so by ``make run``).

Idempotent: purposes and cookies are PUT (no new version when unchanged), the demo site and
the demo client are created once; the demo token is kept in ``<data dir>/demo-token`` (0600).
The demo site allows ``DEMO_ORIGINS`` and every origin passed to ``seed`` (``make run`` passes
the origin it serves on, ``--origin http://HOST:PORT``); origins passed on a later run are added
to the existing site, so the ``/demo`` page and its banner work on whatever host and port serve it.

``seed_people`` gives the console something to work on: a demo shop database (SQLite, in the
data directory) registered as the store ``shop`` (customers; orders kept under a legal hold),
Erika Mustermann's newsletter consent recorded through a web form, and an access request from
her that arrived by e-mail ten days ago, waiting for her identity to be verified (the code
sent to her address, or the DPO in the console; a demo without an SMTP server keeps retrying
the message). Each is made once.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consent_service.auth.service import register_client
from consent_service.context import Context
from consent_service.dsar.request_views import list_requests
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.ledger import service as ledger
from consent_service.registry import service as registry
from consent_service.staff import service as staff
from consent_service.stores.registry import read_stores, save_store
from consent_service.subjects.service import IdentityRef, resolve

DEMO_DPO = "dpo@example.org"  # the demo console login (role dpo)
DEMO_PURPOSES: dict[str, dict[str, Any]] = {
    "essential": {
        "titles": {"en": "Essential operation", "de": "Notwendiger Betrieb"},
        "descriptions": {
            "en": "Keeps you logged in and the shop working.",
            "de": "Hält Sie angemeldet und den Shop funktionsfähig.",
        },
        "legal_basis": "legitimate_interests",
        "data_categories": ["user.device.cookie_id"],
        "data_uses": ["essential.service"],
        "retention_period": "P1Y",
        "strictly_necessary": True,
    },
    "analytics": {
        "titles": {"en": "Website analytics", "de": "Website-Analyse"},
        "descriptions": {
            "en": "Counts visits to improve the website.",
            "de": "Zählt Besuche, um die Website zu verbessern.",
        },
        "legal_basis": "consent",
        "data_categories": ["user.device.cookie_id", "user.behavior.browsing_history"],
        "data_uses": ["analytics.reporting"],
        "retention_period": "P14M",
        "honor_gpc": True,
    },
    "newsletter": {
        "titles": {"en": "Newsletter", "de": "Newsletter"},
        "descriptions": {
            "en": "Sends you our newsletter by email.",
            "de": "Sendet Ihnen unseren Newsletter per E-Mail.",
        },
        "legal_basis": "consent",
        "data_categories": ["user.contact.email"],
        "data_uses": ["marketing.communications.email"],
        "retention_period": "P2Y",
        "direct_marketing": True,
    },
    "ads": {
        "titles": {"en": "Personalised advertising", "de": "Personalisierte Werbung"},
        "descriptions": {
            "en": "Shows ads based on your visits.",
            "de": "Zeigt Werbung auf Grundlage Ihrer Besuche.",
        },
        "legal_basis": "consent",
        "data_categories": ["user.device.cookie_id", "user.behavior.browsing_history"],
        "data_uses": ["marketing.advertising.first_party.targeted"],
        "consent_validity": "P6M",
        "retention_period": "P6M",
        "direct_marketing": True,
        "honor_gpc": True,
    },
}

DEMO_COOKIES: dict[str, dict[str, Any]] = {
    "session": {
        "domain": "shop.example",
        "provider": "Example Shop",
        "duration": "session",
        "purpose": "essential",
        "descriptions": {"en": "Keeps your cart and login.", "de": "Speichert Warenkorb und Anmeldung."},
    },
    "_ga": {
        "domain": ".shop.example",
        "provider": "Google Analytics",
        "duration": "P13M",
        "purpose": "analytics",
        "descriptions": {"en": "Tells visits apart.", "de": "Unterscheidet Besuche."},
    },
    "_fbp": {
        "domain": ".shop.example",
        "provider": "Meta",
        "duration": "P3M",
        "purpose": "ads",
        "descriptions": {"en": "Shows you ads on Meta.", "de": "Zeigt Ihnen Werbung bei Meta."},
    },
}

DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000", "https://shop.example"]


def seed(ctx: Context, origins: Sequence[str] = ()) -> dict[str, Any]:
    """Seed the demo data; the demo site allows ``DEMO_ORIGINS`` and ``origins``."""
    for key, spec in DEMO_PURPOSES.items():
        registry.save_purpose(ctx, key, spec)
    for name, spec in DEMO_COOKIES.items():
        registry.save_cookie(ctx, name, spec)
    with ctx.uow() as uow:
        sites = [s for s in registry.list_sites(uow.session) if s.name == "Demo shop"]
        site = None
        if sites:
            registry.allow_origins(uow.session, sites[0], origins)
            site = registry.site_dict(sites[0])
            uow.commit()
    if site is None:
        site = registry.register_site(
            ctx,
            name="Demo shop",
            origins=list(dict.fromkeys([*DEMO_ORIGINS, *origins])),
            purposes=list(DEMO_PURPOSES),
            cookies=list(DEMO_COOKIES),
        )
    token_file = Path(ctx.config.data_dir) / "demo-token"
    if token_file.exists():
        token = token_file.read_text().strip()
    else:
        _, token = register_client(ctx, "demo (all scopes)", ["admin"])
        _write_private(token_file, token)
    return {"site": site, "token": token, "purposes": list(DEMO_PURPOSES), "cookies": list(DEMO_COOKIES)}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")


def seed_console_login(ctx: Context) -> dict[str, str]:
    """The demo DPO's console login (created once; the password is kept in
    ``<data dir>/demo-dpo-login``, 0600, and given a new one when the account is missing)."""
    login_file = Path(ctx.config.data_dir) / "demo-dpo-login"
    known = {u["email"]: u for u in staff.list_users(ctx)}
    if DEMO_DPO in known and login_file.exists():
        return {"email": DEMO_DPO, "password": login_file.read_text().strip()}
    password = secrets.token_urlsafe(12)
    if DEMO_DPO in known:
        _, one_time = staff.reset_password(ctx, DEMO_DPO, actor="demo")
        staff.change_password(ctx, known[DEMO_DPO]["id"], old=one_time, new=password)
    else:
        staff.create_user(ctx, email=DEMO_DPO, role="dpo", password=password, actor="demo")
    _write_private(login_file, password)
    return {"email": DEMO_DPO, "password": password}


DEMO_PERSON = "erika.mustermann@example.org"
DEMO_SHOP_STORE: dict[str, Any] = {
    "type": "sql",
    "collections": {
        "customers": {
            "primary_key": "id",
            "identities": {"email": "email"},
            "erase": "delete",
            "fields": {
                "email": {"category": "user.contact.email", "erase": "delete"},
                "name": {"category": "user.name", "erase": "delete"},
            },
        },
        "orders": {
            "primary_key": "id",
            "references": {"customer_id": "customers.id"},
            "erase": "update",
            "hold": {"reason": "Commercial and tax records are kept 10 years", "basis": "legal_obligation"},
            "fields": {"shipping_address": {"category": "user.contact.address", "erase": "nullify"}},
        },
    },
}


def _shop_database(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as db:
            db.executescript(
                """
                CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT);
                CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total TEXT,
                                     shipping_address TEXT);
                INSERT INTO customers VALUES (1, 'erika.mustermann@example.org', 'Erika Mustermann'),
                                             (2, 'max.mustermann@example.org', 'Max Mustermann');
                INSERT INTO orders VALUES (10, 1, '49.90 EUR', 'Heidestraße 17, 51147 Köln'),
                                          (11, 2, '12.00 EUR', 'Heidestraße 17, 51147 Köln');
                """
            )
    return f"sqlite:///{path}"


def seed_people(ctx: Context) -> dict[str, Any]:
    """The demo shop store, Erika Mustermann's newsletter consent and her paper access request."""
    if "shop" not in {store["key"] for store in read_stores(ctx)}:
        url = _shop_database(Path(ctx.config.data_dir) / "demo-shop.db")
        save_store(ctx, "shop", DEMO_SHOP_STORE | {"connection": {"url": url}})
    person = IdentityRef("email", DEMO_PERSON)
    with ctx.uow() as uow:
        subject_id = resolve(uow.session, ctx.crypto, person)
    if subject_id is None:
        subject_id = ledger.record_consent(
            ctx,
            ledger.RecordConsent(
                decisions=[ledger.DecisionInput("purpose", "newsletter", True)],
                channel="web_form",
                method="custom",
                actor_type="system",
                actor_id="demo",
                subject=person,
                collection_point="newsletter-signup",
                language="de",
                jurisdiction="EU",
                proof={
                    "ip": "203.0.113.77",
                    "url": "https://shop.example/newsletter",
                    "double_opt_in": "confirmed",
                },
            ),
        ).subject_id
    if not any(r["type"] == "access" for r in list_requests(ctx)):
        open_request(
            ctx,
            OpenRequest(
                "access",
                [person],
                {"method": "email"},
                received_at=ctx.now() - dt.timedelta(days=10),
                language="de",
            ),
            actor="demo",
        )
    return {"store": "shop", "subject_id": subject_id, "person": DEMO_PERSON}
