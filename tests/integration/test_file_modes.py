"""The data directory is 0700; the database file, its -wal/-shm and the key file are 0600.

Made as ``make run`` makes them (``keys init``, ``db upgrade``, ``demo``), under a permissive
umask, and narrowed when an older version left them wider.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from consent_service.auth.service import register_client
from consent_service.cli import _context, main
from consent_service.context import Context


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files 0644, directories 0755
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "var"
    monkeypatch.setenv("CONSENT_DATA_DIR", str(path))
    for name in ("CONSENT_DATABASE_URL", "CONSENT_KEY_FILE", "CONSENT_MASTER_KEYS"):
        monkeypatch.delenv(name, raising=False)
    return path


def run(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def touch_wal(data_dir: Path) -> Context:
    """Write once through the service; SQLite keeps -wal and -shm while the engine is open."""
    ctx = _context()
    register_client(ctx, "probe", ["admin"])
    assert (data_dir / "consent.db-wal").exists() and (data_dir / "consent.db-shm").exists()
    return ctx


def test_make_run_steps_create_private_files(data_dir: Path, open_umask: None) -> None:
    run("keys", "init")
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "keyring.json") == 0o600
    run("db", "upgrade")
    run("demo")
    assert mode(data_dir / "consent.db") == 0o600
    ctx = touch_wal(data_dir)
    for name in ("consent.db", "consent.db-wal", "consent.db-shm", "keyring.json", "demo-token"):
        assert mode(data_dir / name) == 0o600, name
    assert mode(data_dir) == 0o700
    ctx.db.dispose()


def test_db_upgrade_alone_makes_the_data_dir_private(data_dir: Path, open_umask: None) -> None:
    run("db", "upgrade")
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "consent.db") == 0o600


def test_files_left_wide_by_an_older_version_are_narrowed(data_dir: Path, open_umask: None) -> None:
    run("keys", "init")
    run("db", "upgrade")
    first = touch_wal(data_dir)
    os.chmod(data_dir, 0o755)
    for name in ("consent.db", "consent.db-wal", "consent.db-shm"):
        os.chmod(data_dir / name, 0o644)
    second = touch_wal(data_dir)  # another process opens the database
    assert mode(data_dir) == 0o700
    for name in ("consent.db", "consent.db-wal", "consent.db-shm"):
        assert mode(data_dir / name) == 0o600, name
    first.db.dispose()
    second.db.dispose()


def test_a_shared_directory_is_left_alone(tmp_path: Path, open_umask: None) -> None:
    from consent_service.files import private_dir

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    private_dir(shared, narrow=True)
    assert mode(shared) == 0o1777
