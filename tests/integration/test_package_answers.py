"""Complete answers to access and portability requests (Art. 15, 20), with fake connectors.

Every column of a person's rows is in the copy unless the store description excludes it (with
a reason); portability keeps provided and observed data and leaves out inferred data; purposes
say what automated decisions they make; recipients say where they are and what protects a
transfer; the HTML speaks the request's language with human names, durations in words and
readable dates, and names only the purposes that concern the person; the JSON carries the
rights and where to complain.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service.context import Context
from consent_service.dsar import execution, package
from consent_service.dsar.recipients import save_recipient
from consent_service.dsar.request_views import show
from consent_service.errors import InvalidInput
from consent_service.hashing import content_hash
from consent_service.ledger.queries import decide_one
from consent_service.registry.service import save_purpose
from consent_service.stores.connectors.fake import FakeConnector
from consent_service.stores.registry import save_store
from consent_service.stores.spec import parse_store
from consent_service.stores.traversal import traverse
from consent_service.subjects.service import IdentityRef
from tests.conftest import make_context
from tests.fakes import FixedClock
from tests.integration.helpers import consent
from tests.integration.test_execution import SHOP, SHOP_ROWS, Fakes, open_verified

SECRET = "s" * 24
PROFILING = {
    "logic": {"en": "A score from past orders", "de": "Ein Wert aus früheren Bestellungen"},
    "consequences": {"en": "Offers differ per score", "de": "Angebote unterscheiden sich je nach Wert"},
}
PURPOSE: dict[str, Any] = {
    "titles": {"en": "Loyalty offers", "de": "Treueangebote"},
    "descriptions": {"en": "Offers for regular customers", "de": "Angebote für Stammkunden"},
    "legal_basis": "legitimate_interests",
    "data_categories": ["user.contact.email"],
    "data_uses": ["marketing.advertising"],
    "retention_period": "P3Y",
    "automated_decisions": PROFILING,
}
EXCLUDED = "a credential: showing it would weaken the account's protection"


def shop_with_extras() -> dict[str, Any]:
    doc = copy.deepcopy(SHOP)
    customers = doc["collections"]["customers"]
    customers["fields"]["segment"] = {"category": "user.demographic.profile", "origin": "inferred"}
    customers["exclude"] = {"password_hash": EXCLUDED}
    return doc


ROWS = copy.deepcopy(SHOP_ROWS)
for row in ROWS["customers"]:
    row.update({"segment": "bargain hunter", "loyalty_tier": "gold", "password_hash": "pbkdf2$x"})


@pytest.fixture
def answers(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Context, Fakes]]:
    clock = FixedClock(dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC))
    context = make_context(
        sqlite_url,
        tmp_path,
        clock=clock,
        supervisory_authority_name="Landesbeauftragte für Datenschutz",
        supervisory_authority_url="https://ldi.example/beschwerde",
    )
    fakes = Fakes(context)
    doc = shop_with_extras()
    save_store(context, "shop", copy.deepcopy(doc))
    fakes.shop = fakes.stores["shop"] = FakeConnector(parse_store("shop", doc), ROWS)  # type: ignore[assignment]
    yield context, fakes
    context.db.dispose()


def run(ctx: Context, fakes: Fakes, kind: str) -> dict[str, Any]:
    request_id = open_verified(ctx, kind)
    assert execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)["request"]["state"] == (
        "completed"
    )
    doc: dict[str, Any] = package.read(ctx, request_id)
    return doc


def test_the_copy_holds_undeclared_columns_but_not_excluded_ones(answers: Any) -> None:
    ctx, fakes = answers
    doc = run(ctx, fakes, "access")
    (customer,) = doc["stores"]["shop"]["customers"]
    assert customer["loyalty_tier"] == "gold" and customer["segment"] == "bargain hunter"
    assert "password_hash" not in customer
    assert doc["columns"]["shop"]["customers"]["loyalty_tier"] == "unclassified"
    assert doc["columns"]["shop"]["customers"]["email"] == "user.contact.email"
    assert "unclassified" in doc["categories"]["shop"]
    assert doc["left_out"] == {"shop": {"customers": {"password_hash": EXCLUDED}}}


def test_portability_keeps_observed_data_and_leaves_out_inferred(answers: Any) -> None:
    ctx, fakes = answers
    doc = run(ctx, fakes, "portability")
    (customer,) = doc["stores"]["shop"]["customers"]
    assert "segment" not in customer and "password_hash" not in customer
    assert customer["loyalty_tier"] == "gold"  # not declared inferred: the person's data
    assert doc["stores"]["shop"]["order_items"][0]["product"] == "tea"  # observed behaviour


def test_automated_decisions_per_purpose_in_json_and_html(answers: Any) -> None:
    ctx, fakes = answers
    save_purpose(ctx, "loyalty", PURPOSE)
    save_purpose(ctx, "service-mails", {k: v for k, v in PURPOSE.items() if k != "automated_decisions"})
    request_id = open_verified(ctx, "access")
    execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    doc = package.read(ctx, request_id)
    by_key = {p["key"]: p for p in doc["purposes"]}
    assert by_key["loyalty"]["automated_decisions"] == PROFILING
    assert by_key["service-mails"]["automated_decisions"] == "none"
    page = package.read(ctx, request_id, "html")
    assert "A score from past orders" in page and "Offers differ per score" in page
    assert "No automated decisions are made" in page


def test_recipients_with_country_and_safeguard(answers: Any) -> None:
    ctx, fakes = answers
    base = {"endpoint": "https://127.0.0.1/h", "secret": SECRET, "events": ["erasure"]}
    save_recipient(
        ctx,
        "mailer",
        {**base, "name": "Mailer Inc.", "country": "US", "safeguard": "standard_contractual_clauses"},
    )
    save_recipient(ctx, "printer", {**base, "name": "Druck GmbH", "country": "DE"})
    save_recipient(ctx, "legacy", {**base, "name": "Old partner"})
    doc = run(ctx, fakes, "access")
    by_name = {r["name"]: r for r in doc["recipients"]}
    assert by_name["Mailer Inc."] == {
        "name": "Mailer Inc.",
        "told_of": ["erasure"],
        "country": "US",
        "country_name": "United States",
        "third_country": True,
        "safeguard": "standard_contractual_clauses",
    }
    assert by_name["Druck GmbH"]["third_country"] is False and by_name["Druck GmbH"]["safeguard"] is None
    assert by_name["Old partner"]["country"] is None
    assert by_name["Old partner"]["country_name"] == "country not recorded"


@pytest.mark.parametrize(
    ("country", "safeguard", "field"),
    [
        ("US", None, "safeguard"),
        ("DE", "binding_corporate_rules", "safeguard"),
        ("XX", None, "country"),
        ("us", None, "country"),
        (None, "adequacy_decision", "safeguard"),
        ("CH", "trust_us", "safeguard"),
    ],
)
def test_a_transfer_without_its_safeguard_is_refused(
    answers: Any, country: Any, safeguard: Any, field: str
) -> None:
    ctx, _ = answers
    doc = {"name": "x", "endpoint": "https://127.0.0.1/h", "secret": SECRET, "events": ["erasure"]}
    with pytest.raises(InvalidInput) as refused:
        save_recipient(ctx, "x", {**doc, "country": country, "safeguard": safeguard})
    assert field in refused.value.errors


def test_german_html_reads_like_german(answers: Any) -> None:
    ctx, fakes = answers
    save_purpose(ctx, "loyalty", PURPOSE)
    save_purpose(
        ctx,
        "analytics",
        {
            **PURPOSE,
            "titles": {"en": "Website analytics", "de": "Website-Analyse"},
            "data_categories": ["user.device.cookie_id"],
            "automated_decisions": "none",
        },
    )
    request_id = open_verified(ctx, "access")
    subject_id = show(ctx, request_id)["subject_id"]
    found = traverse(fakes.stores, {"email": ["anna@example.org"]})
    json_text, _, page = package.build(
        ctx, request_id, "access", subject_id, found, fakes.stores, language="de"
    )
    assert "<html lang=de>" in page and "erstellt am 1. März 2026" in page
    assert "Treueangebote" in page and "3 Jahre" in page  # the title in German, P3Y in words
    assert "E-Mail-Adresse" in page and "<td>user.contact.email</td>" not in page  # human names
    assert "Kaufhistorie" in page and "Antrag" in page and "(Auskunft)" in page
    assert "berechtigte Interessen" in page and "Ein Wert aus früheren Bestellungen" in page
    assert "Widerspruch" in page and "Landesbeauftragte für Datenschutz" in page
    assert "nicht eingeordnet" in page  # the undeclared column's kind
    assert "Website analytics" not in page and "Website-Analyse" not in page  # does not concern her
    assert '"language": "de"' in json_text


def test_rights_and_complaint_are_in_the_json(answers: Any) -> None:
    ctx, fakes = answers
    doc = run(ctx, fakes, "access")
    articles = [r["article"] for r in doc["rights"]["rights"]]
    assert articles[:7] == ["15", "16", "17", "18", "20", "21", "22"]
    assert ctx.config.controller_contact in doc["rights"]["how_to_exercise"]
    assert doc["complaint"]["authority"] == {
        "name": "Landesbeauftragte für Datenschutz",
        "url": "https://ldi.example/beschwerde",
    }
    assert "Art. 77" in doc["complaint"]["text"] and "Art. 79" in doc["complaint"]["text"]
    assert doc["names"]["user.contact.email"] == "User Contact Email"


def test_consents_to_purposes_without_automated_decisions_stay_current(answers: Any) -> None:
    """Versions stored before the field existed read as "none" and keep their hash: the same
    purpose saved again is no new version and its consents stay valid; describing automated
    decisions is a material change."""
    ctx, _ = answers
    spec = {k: v for k, v in PURPOSE.items() if k != "automated_decisions"} | {"legal_basis": "consent"}
    first, _ = save_purpose(ctx, "offers", spec)
    before = content_hash(
        {
            name: first[name]
            for name in ("titles", "descriptions", "legal_basis", "data_categories", "data_uses")
        }
    )
    assert first["content_hash"] == before and first["automated_decisions"] == "none"
    subject_id = consent(
        ctx, identity=IdentityRef("email", "anna@example.org"), decisions=[("purpose", "offers", True)]
    ).subject_id
    again, _ = save_purpose(ctx, "offers", {**spec, "automated_decisions": "none"})
    assert again["new_version"] is False and decide_one(ctx, subject_id, "offers").allowed
    changed, _ = save_purpose(ctx, "offers", {**spec, "automated_decisions": PROFILING})
    assert changed["new_version"] is True
    assert decide_one(ctx, subject_id, "offers").reason == "consent_outdated"
