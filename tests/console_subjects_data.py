"""Test data of the console's subject pages: a newsletter consent whose notice changed afterwards."""

from __future__ import annotations

from typing import Any

from consent_service.context import Context
from consent_service.demo import DEMO_PURPOSES
from consent_service.ledger.service import DecisionInput, RecordConsent, Recorded, record_consent
from consent_service.registry import service as registry
from consent_service.subjects.service import IdentityRef

ANNA = IdentityRef("email", "anna@example.org")
OLD_TEXT = "Sends you our newsletter by email."  # version 1, which Anna saw
NEW_TEXT = "Sends you our newsletter and partner offers by email."  # version 2
NEW_TEXT_DE = "Neu: mit Partnerangeboten."


def consent(ctx: Context, ref: IdentityRef, granted: bool = True, **overrides: Any) -> Recorded:
    """A newsletter decision from the shop's sign-up form (or as ``overrides`` say)."""
    cmd = RecordConsent(
        decisions=overrides.pop("decisions", [DecisionInput("purpose", "newsletter", granted)]),
        channel=overrides.pop("channel", "web_form"),
        method=overrides.pop("method", "custom"),
        actor_type="client",
        actor_id="shop",
        subject=ref,
        collection_point="newsletter-signup",
        language=overrides.pop("language", "en"),
        proof={"ip": "203.0.113.77", "user_agent": "Firefox/140", "url": "https://shop.example/newsletter"},
        **overrides,
    )
    return record_consent(ctx, cmd)


def register_purposes(ctx: Context) -> None:
    registry.save_purpose(ctx, "newsletter", DEMO_PURPOSES["newsletter"])
    registry.save_purpose(ctx, "analytics", DEMO_PURPOSES["analytics"])


def change_newsletter_text(ctx: Context) -> None:
    """A material change of the newsletter's notice: version 2."""
    changed = {**DEMO_PURPOSES["newsletter"], "descriptions": {"en": NEW_TEXT, "de": NEW_TEXT_DE}}
    assert registry.save_purpose(ctx, "newsletter", changed)[0]["new_version"]
