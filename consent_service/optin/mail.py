"""The confirmation e-mail of double opt-in, in the person's language.

One plain-text template per language (``mail_templates/confirmation.<language>.txt``, German and
English), filled with the purpose's title and text in that language, the link and its expiry
(a date in the reader's locale and the controller's time zone). Written to the outbox in the
caller's transaction, sealed under the subject's data key like every e-mail to a person.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from pathlib import Path

from sqlalchemy.orm import Session

from consent_service.config import SUPPORTED_LANGUAGES, Config
from consent_service.dsar import outbox

TEMPLATES = Path(__file__).parent / "mail_templates"
TOPIC = "optin_confirmation"  # the X-Consent-Message header of these e-mails


def best_language(tag: str | None, default: str) -> str:
    """The supported language closest to ``tag`` (``de-AT`` → ``de``), else ``default``."""
    if tag:
        primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
        if primary in SUPPORTED_LANGUAGES:
            return primary
    return default


@functools.cache
def _template(language: str) -> string.Template:
    return string.Template((TEMPLATES / f"confirmation.{language}.txt").read_text(encoding="utf-8"))


def text_in(texts: dict[str, str], language: str) -> str:
    """A purpose's title or description in ``language``, else English, else any."""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


def enqueue(
    session: Session,
    config: Config,
    *,
    subject_id: str,
    key: bytes,
    to: str,
    language: str,
    now: dt.datetime,
    expires: dt.datetime,
    **values: object,
) -> str:
    """Write the confirmation e-mail to the outbox in the caller's transaction; its message id.
    ``values``: purpose_title, purpose_text, link, retention_days."""
    return outbox.enqueue_link_email(
        session,
        config,
        _template(language),
        subject_id=subject_id,
        key=key,
        to=to,
        language=language,
        now=now,
        topic=TOPIC,
        expires=expires,
        **values,
    )
