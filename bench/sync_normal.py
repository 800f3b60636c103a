"""A bench-only entry point: the service with SQLite's ``synchronous=NORMAL`` instead of FULL.

The service has no switch for it (an acknowledged consent must survive a power cut); to measure
what FULL costs, ``bench.writes`` serves this module, which adds a connect listener after the
service's own so that each new SQLite connection is set back to NORMAL. Never for production.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

from consent_service import db

_service_setup = db._sqlite_setup


def _setup_normal(engine: Engine) -> None:
    _service_setup(engine)

    @event.listens_for(engine, "connect")
    def _normal(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")


db._sqlite_setup = _setup_normal

from consent_service.wsgi import app  # noqa: E402 - after the patch, which the engine must see

__all__ = ["app"]
