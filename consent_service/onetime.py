"""Single-use links: the rules shared by the double opt-in's confirmation links
(``optin``) and the preference centre's sign-in links (``preferences``).

A link carries a secret that is shown only in its e-mail; the database keeps the secret's
SHA-256 (``token_hash``), when it expires (``expires_at``) and when it was used (``used_at``),
so a copy of the database opens no link. A row of such a table is a ``Link``.

Guarantees:
- ``state`` says what a link can do at a moment: ``open``, ``used`` or ``expired``;
- ``use`` marks a link used by compare-and-set in the caller's transaction: of two uses racing,
  in this process or another, exactly one changes the row; the other gets False and must roll
  back whatever it wrote with it;
- ``end_open`` makes the links still open among those chosen expire at once (a newer link
  replaces them), in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session


class Link(Protocol):
    id: Any
    token_hash: Any
    expires_at: Any
    used_at: Any


L = TypeVar("L", bound=Link)


def new_secret() -> str:
    """A link's secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the database keeps of a link's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def find(session: Session, model: type[L], secret: str, *, lock: bool = False) -> L | None:
    """The link of ``secret`` in ``model``'s table, or None; ``lock`` holds its row to the end of
    the transaction (SQLite has no row locks: its writes are serialised anyway)."""
    query = select(model).where(model.token_hash == secret_hash(secret))
    if lock and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    found: L | None = session.scalars(query).first()
    return found


def state(link: Link, now: dt.datetime) -> str:
    """``used``, ``expired`` or ``open``."""
    if link.used_at is not None:
        return "used"
    if link.expires_at <= now:
        return "expired"
    return "open"


def use(session: Session, model: type[Link], link_id: str, when: dt.datetime, **values: Any) -> bool:
    """Mark the link ``link_id`` used at ``when`` (with ``values`` for other columns), once: False
    when it was used already (by this or a concurrent transaction) or expired by ``when``."""
    done = session.execute(
        update(model)
        .where(model.id == link_id, model.used_at.is_(None), model.expires_at > when)
        .values(used_at=when, **values)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def end_open(session: Session, model: type[Link], when: dt.datetime, *where: Any) -> int:
    """Make every link of ``model`` matching ``where`` that is still open at ``when`` expire at
    ``when``; returns how many."""
    done = session.execute(
        update(model).where(*where, model.used_at.is_(None), model.expires_at > when).values(expires_at=when)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]
