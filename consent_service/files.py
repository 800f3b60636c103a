"""Files that hold personal data or secrets: the data directory, the SQLite database (with its
``-wal`` and ``-shm`` files) and the key file are private to the service's user.

New directories are made 0700 and new files 0600 whatever the umask says. SQLite gives its
``-wal`` and ``-shm`` files the mode of the database file, so creating the database file 0600
before SQLite opens it covers both; files left wider by an older version are narrowed when
the service opens them. An existing directory is narrowed only when it belongs to this user
and is not a shared one (sticky bit, like ``/tmp``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm")


def private_dir(path: Path, *, narrow: bool = False) -> Path:
    """``path`` (and missing parents) as a directory; the last one, when created, is 0700.

    With ``narrow`` (the configured data directory) an existing one is narrowed to 0700 too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask; this one is not
    except FileExistsError:
        if not narrow:
            return path
        st = path.stat()
        shared = st.st_mode & stat.S_ISVTX
        if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid() and not shared:
            os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if absent; narrow it to 0600 if it exists."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for memory databases and other URLs."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def secure_sqlite(url: str) -> None:
    """Before SQLite opens the file: a new directory 0700, the database file 0600, old -wal/-shm 0600."""
    path = sqlite_path(url)
    if path is None:
        return
    private_dir(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            private_file(companion)


def secure_data_dir(data_dir: Path, *held: Path | None) -> None:
    """Narrow ``data_dir`` to 0700 (creating it) when it holds one of ``held`` (database, key file)."""
    target = data_dir.resolve()
    if any(p is not None and p.resolve().parent == target for p in held):
        private_dir(data_dir, narrow=True)
