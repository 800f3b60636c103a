"""The notice a consent event showed: its purpose version's texts in the event's language."""

from __future__ import annotations

from consent_service.ledger.proof import notice
from consent_service.registry.models import PurposeVersion

VERSION = PurposeVersion(
    purpose_key="newsletter",
    version=3,
    content_hash="c" * 64,
    titles={"en": "Newsletter", "de": "Rundbrief"},
    descriptions={"en": "Sends you our newsletter.", "de": "Sendet Ihnen unseren Rundbrief."},
    legal_basis="consent",
    data_categories=["user.contact.email"],
    data_uses=["marketing.communications.email"],
)


def test_the_event_language_decides_also_with_a_region():
    shown = notice(VERSION, "de-AT", "en")
    assert (shown["language"], shown["title"], shown["description"]) == (
        "de",
        "Rundbrief",
        "Sendet Ihnen unseren Rundbrief.",
    )
    assert shown["exact_language"] and shown["version"] == 3 and shown["content_hash"] == "c" * 64


def test_an_event_in_a_language_the_version_lacks_shows_the_readers_and_says_so():
    shown = notice(VERSION, "fr", "de")
    assert (shown["language"], shown["title"], shown["exact_language"]) == ("de", "Rundbrief", False)
    unknown = notice(VERSION, None, "it")
    assert unknown["language"] == "en" and unknown["exact_language"] is False
