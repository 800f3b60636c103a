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
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy.orm import Session

from consent_service.config import DATE_LOCALES, Config
from consent_service.dsar import outbox

TEMPLATES = Path(__file__).parent / "mail_templates"
TOPIC = "preferences_signin"  # the X-Consent-Message header of these e-mails


@functools.cache
def _template(language: str) -> string.Template:
    return string.Template((TEMPLATES / f"signin.{language}.txt").read_text(encoding="utf-8"))


def render(
    config: Config, language: str, *, site_name: str, link: str, expires: dt.datetime
) -> tuple[str, str]:
    """The e-mail's subject line and body."""
    zone = ZoneInfo(config.timezone)
    text = _template(language).substitute(
        site_name=site_name,
        link=link,
        expires=format_datetime(expires.astimezone(zone), "long", tzinfo=zone, locale=DATE_LOCALES[language]),
        controller_name=config.controller_name,
        controller_contact=config.controller_contact,
    )
    title, _, body = text.partition("\n\n")
    return title.strip(), body


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
    title, body = render(config, language, site_name=site_name, link=link, expires=expires)
    return outbox.enqueue_email(
        session,
        subject_id=subject_id,
        key=key,
        to=to,
        title=title,
        body=body,
        now=now,
        language=language,
        topic=TOPIC,
    )
