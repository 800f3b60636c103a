"""Running the Alembic migrations from code (the CLI's ``db upgrade``, tests, ``make run``).

Migrations are the only way the schema is created or changed.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from consent_service.errors import ConfigurationError
from consent_service.files import secure_sqlite


def migrations_dir() -> Path:
    configured = os.environ.get("CONSENT_MIGRATIONS_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parent.parent / "migrations"
    if not (path / "env.py").exists():
        raise ConfigurationError(
            f"no Alembic migrations at {path}; install the project from its source tree "
            "(pip install -e .) or set CONSENT_MIGRATIONS_DIR"
        )
    return path


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    secure_sqlite(database_url)  # a new directory 0700, the database file 0600
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from consent_service.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
