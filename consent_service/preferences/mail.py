"""The sign-in e-mail of the preference centre, in the person's language.

One plain-text template per language (``mail_templates/signin.<language>.txt``), filled with the
site's (or controller's) name, the link and its expiry in the reader's locale and the
controller's time zone. Written to the outbox in the caller's transaction, sealed under the
subject's data key like every e-mail to a person.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from pathlib import Path

from sqlalchemy.orm import Session

from consent_service.config import Config
from consent_service.dsar import outbox

TEMPLATES = Path(__file__).parent / "mail_templates"
TOPIC = "preferences_signin"  # the X-Consent-Message header of these e-mails


@functools.cache
def _template(language: str) -> string.Template:
    return string.Template((TEMPLATES / f"signin.{language}.txt").read_text(encoding="utf-8"))


def enqueue(
    session: Session,
    config: Config,
    *,
    subject_id: str,
    key: bytes,
    to: str,
    language: str,
    now: dt.datetime,
    site_name: str,
    link: str,
    expires: dt.datetime,
) -> str:
    """Write the sign-in e-mail to the outbox in the caller's transaction; its message id."""
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
        site_name=site_name,
        link=link,
    )
