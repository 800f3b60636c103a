"""Key lifecycle: rotate and retire master keys, re-index blind indexes, adopt keys into a backup.

Guarantees:

- A new key version is saved to the key provider before any row refers to it, and an old one is
  removed only when no row needs it, so a crash at any point loses no key. ``rotate`` and
  ``reindex`` work in short batches (one transaction each) and resume where an interrupted run
  stopped, without creating another version.
- A row is rewritten only if it still holds what was read (compare-and-set), so a concurrent
  shred is never undone: a destroyed data key or blind index stays destroyed.
- ``retire`` destroys a master key only when no live data key is wrapped by it. Every backup
  taken while that key was current then keeps only data keys nobody can unwrap: erasure reaches
  backups. ``backups.adopt_keys`` is the restore procedure that makes such a copy readable again, for
  the subjects that are not erased in the live database only.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, bindparam, text
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.batches import Progress, in_passes, rowcount, scalar
from consent_service.crypto.envelope import (
    KEY_REFRESH_SECONDS,
    DecryptionFailed,
    field_aad,
    open_sealed,
    seal,
)
from consent_service.crypto.keyring import KeyMaterial
from consent_service.errors import ConfigurationError, Conflict, InvalidInput, NotFound

# Time a running process needs to notice a changed key file (it looks every KEY_REFRESH_SECONDS).
SETTLE_SECONDS = 3 * KEY_REFRESH_SECONDS


def _dek_aad(subject_id: str) -> bytes:
    return b"dek|" + subject_id.encode()


# data keys ------------------------------------------------------------------------------------
_COUNT_STALE_KEYS = text(
    "SELECT count(*) FROM subject_keys WHERE wrapped_key IS NOT NULL AND kek_version <> :current"
)
_STALE_KEY_VERSIONS = text(
    "SELECT DISTINCT kek_version FROM subject_keys WHERE wrapped_key IS NOT NULL AND kek_version <> :current"
)
_STALE_KEYS = text(
    "SELECT subject_id, kek_version, wrapped_key FROM subject_keys "
    "WHERE wrapped_key IS NOT NULL AND kek_version <> :current AND subject_id > :after "
    "ORDER BY subject_id LIMIT :limit"
).columns(subject_id=String(), kek_version=Integer(), wrapped_key=LargeBinary())
_REWRAP = text(
    "UPDATE subject_keys SET kek_version = :new, wrapped_key = :wrapped "
    "WHERE subject_id = :sid AND kek_version = :old AND wrapped_key IS NOT NULL"
).bindparams(bindparam("wrapped", type_=LargeBinary()))
_COUNT_KEYS_OF_VERSION = text(
    "SELECT count(*) FROM subject_keys WHERE wrapped_key IS NOT NULL AND kek_version = :version"
)
# Registered data stores seal their connections under a master key too (dsar.store_secrets);
# they are re-sealed by `keys rotate` (stores.registry.reseal_connections).
_COUNT_STORES_OF_VERSION = text("SELECT count(*) FROM data_stores WHERE secret_kek = :version")


def rotate(ctx: Context, *, batch_size: int = 1000, progress: Progress | None = None) -> dict[str, Any]:
    """Make a new master key current and re-wrap every live data key with it.

    The new version is saved to the key provider before any row changes. If live data keys
    are still wrapped by older versions (an interrupted run), no new version is created: the
    run resumes (``resumed: true``). Old versions stay in the keyring until ``retire``.
    """
    check_batch_size(batch_size)
    crypto = ctx.crypto
    crypto.reload()
    before = crypto.material.current_kek
    pending = scalar(ctx.db, _COUNT_STALE_KEYS, current=before)
    resumed = pending > 0
    if not resumed:
        _save(ctx, crypto.material.with_new_kek())
    current = crypto.material.current_kek
    with ctx.uow(write=False) as uow:
        versions = set(uow.session.execute(_STALE_KEY_VERSIONS, {"current": current}).scalars())
    unknown = sorted(versions - set(crypto.material.keks))
    if unknown:
        raise ConfigurationError(
            f"live data keys are wrapped by master key versions {unknown}, which are not in the "
            f"keyring ({_describe(ctx)}); they cannot be re-wrapped"
        )
    total = scalar(ctx.db, _COUNT_STALE_KEYS, current=current)
    new_kek = crypto.material.keks[current]
    skipped = 0  # shredded (or re-wrapped by another run) between a batch's read and its write

    def rewrap(session: Session, rows: list[Any]) -> int:
        params = []
        for row in rows:
            kek = crypto.material.keks.get(row.kek_version)
            if kek is None:
                raise ConfigurationError(f"master key version {row.kek_version} is not in the keyring")
            try:
                dek = open_sealed(kek, bytes(row.wrapped_key), _dek_aad(row.subject_id))
            except DecryptionFailed as exc:
                raise ConfigurationError(
                    f"the data key of subject {row.subject_id} does not open under master key "
                    f"version {row.kek_version}; this keyring does not belong to this database"
                ) from exc
            wrapped = seal(new_kek, dek, _dek_aad(row.subject_id))
            params.append({"sid": row.subject_id, "old": row.kek_version, "new": current, "wrapped": wrapped})
        nonlocal skipped
        skipped += len(params) - rowcount(session.execute(_REWRAP, params))
        return len(params)

    rewrapped = in_passes(
        ctx.db, _STALE_KEYS, {"current": current}, "subject_id", batch_size, rewrap, total, progress
    )
    return {
        "current_version": current,
        "rewrapped_from": sorted(versions),
        "old_versions": sorted(v for v in crypto.material.keks if v != current),
        "created": not resumed,
        "resumed": resumed,
        "rewrapped": rewrapped - skipped,
        "skipped": skipped,
        "remaining": scalar(ctx.db, _COUNT_STALE_KEYS, current=current),
    }


def retire(ctx: Context, version: int) -> None:
    """Destroy master key ``version``: every data key still wrapped by it becomes unreadable,
    so this refuses while a live data key uses it, and for the current version."""
    crypto = ctx.crypto
    crypto.reload()
    material = crypto.material
    if version == material.current_kek:
        raise Conflict(f"master key version {version} is the current one; run 'keys rotate' first")
    if version not in material.keks:
        raise NotFound(f"master key version {version} is not in the keyring (already retired?)")
    in_use = scalar(ctx.db, _COUNT_KEYS_OF_VERSION, version=version)
    if in_use:
        raise Conflict(
            f"{in_use} data {'key still uses' if in_use == 1 else 'keys still use'} master key "
            f"version {version}; "
            "run 'consent-service keys rotate' to completion first"
        )
    stores = scalar(ctx.db, _COUNT_STORES_OF_VERSION, version=version)
    if stores:
        raise Conflict(
            f"{stores} data store connection(s) are sealed under master key version {version}; "
            "run 'consent-service keys rotate' to completion first"
        )
    _save(ctx, material.without_kek(version))


# blind indexes --------------------------------------------------------------------------------
_COUNT_STALE_IDENTITIES = text("SELECT count(*) FROM identities WHERE index_version <> :current")
_STALE_IDENTITIES = text(
    "SELECT id, subject_id, type, blind_index, index_version, value_ct FROM identities "
    "WHERE index_version <> :current AND id > :after ORDER BY id LIMIT :limit"
).columns(
    id=Integer(),
    subject_id=String(),
    type=String(),
    blind_index=String(),
    index_version=Integer(),
    value_ct=LargeBinary(),
)
_REINDEX = text(
    "UPDATE identities SET blind_index = :digest, index_version = :new "
    "WHERE id = :id AND index_version = :old AND blind_index = :old_digest"
)
_FORGET_INDEX = text(
    "UPDATE identities SET blind_index = NULL, index_version = :new WHERE id = :id AND index_version = :old"
)


def reindex(
    ctx: Context,
    *,
    batch_size: int = 1000,
    progress: Progress | None = None,
    settle_s: float = SETTLE_SECONDS,
) -> dict[str, Any]:
    """Make a new blind-index key current and recompute every identity's blind index with it.

    The new key is saved first and the run waits ``settle_s`` so that running processes load
    it (they look up under every index key in the keyring, so identities stay findable while
    rows change). Shredded identities keep no blind index. Resumable like ``rotate``. When no
    identity is left on an old index key, the old keys are removed from the keyring.
    """
    check_batch_size(batch_size)
    from consent_service.subjects.service import data_key

    crypto = ctx.crypto
    crypto.reload()
    pending = scalar(ctx.db, _COUNT_STALE_IDENTITIES, current=crypto.material.current_index)
    resumed = pending > 0 or len(crypto.material.index_keys) > 1
    if not resumed:
        _save(ctx, crypto.material.with_new_index_key())
    if settle_s > 0:
        time.sleep(settle_s)
    current = crypto.material.current_index
    total = scalar(ctx.db, _COUNT_STALE_IDENTITIES, current=current)
    forgotten = unreadable = skipped = 0

    def recompute(session: Session, rows: list[Any]) -> int:
        nonlocal forgotten, unreadable, skipped
        keys: dict[str, bytes | None] = {}
        live, erased = [], []
        for row in rows:
            if row.subject_id not in keys:
                keys[row.subject_id] = data_key(session, crypto, row.subject_id)
            key = keys[row.subject_id]
            if key is None or row.blind_index is None:
                erased.append({"id": row.id, "old": row.index_version, "new": current})
                continue
            try:
                value = open_sealed(key, row.value_ct, identity_aad(row.subject_id, row.type)).decode()
            except DecryptionFailed:
                unreadable += 1
                continue
            live.append(
                {
                    "id": row.id,
                    "old": row.index_version,
                    "old_digest": row.blind_index,
                    "new": current,
                    "digest": crypto.blind_index(row.type, value, current),
                }
            )
        if live:
            skipped += len(live) - rowcount(session.execute(_REINDEX, live))
        if erased:
            session.execute(_FORGET_INDEX, erased)
        forgotten += len(erased)
        return len(live) + len(erased)

    done = in_passes(
        ctx.db, _STALE_IDENTITIES, {"current": current}, "id", batch_size, recompute, total, progress
    )
    remaining = scalar(ctx.db, _COUNT_STALE_IDENTITIES, current=current)
    removed: list[int] = []
    if remaining == 0:
        crypto.reload()
        removed = sorted(v for v in crypto.material.index_keys if v != crypto.material.current_index)
        if removed:
            _save(ctx, crypto.material.with_only_current_index_key())
    return {
        "current_version": current,
        "created": not resumed,
        "resumed": resumed,
        "reindexed": done - forgotten - skipped,
        "forgotten": forgotten,
        "unreadable": unreadable,
        "remaining": remaining,
        "removed_versions": removed,
    }


def identity_aad(subject_id: str, kind: str) -> bytes:
    return field_aad(subject_id, "identities", kind)


# status ---------------------------------------------------------------------------------------
_KEYS_BY_VERSION = text(
    "SELECT kek_version, count(wrapped_key), count(*) - count(wrapped_key) "
    "FROM subject_keys GROUP BY kek_version ORDER BY kek_version"
)
_IDENTITIES_BY_VERSION = text(
    "SELECT index_version, count(*) FROM identities GROUP BY index_version ORDER BY index_version"
)


def status(ctx: Context) -> dict[str, Any]:
    """Key versions in the keyring and how many rows use each one."""
    crypto = ctx.crypto
    crypto.reload()
    material = crypto.material
    with ctx.uow(write=False) as uow:
        keys = uow.session.execute(_KEYS_BY_VERSION).all()
        identities = uow.session.execute(_IDENTITIES_BY_VERSION).all()
    return {
        "key_source": _describe(ctx),
        "current_kek": material.current_kek,
        "kek_versions": sorted(material.keks),
        "current_index": material.current_index,
        "index_versions": sorted(material.index_keys),
        "data_keys": {int(v): {"live": int(live), "shredded": int(gone)} for v, live, gone in keys},
        "identities": {int(v): int(n) for v, n in identities},
        "rotation_pending": sum(int(live) for v, live, _ in keys if v != material.current_kek),
        "reindex_pending": sum(int(n) for v, n in identities if v != material.current_index),
    }


# plumbing -------------------------------------------------------------------------------------
def _save(ctx: Context, material: KeyMaterial) -> None:
    """Store changed material with the provider and check that it reads back as written."""
    provider = ctx.crypto.provider
    if provider is None:
        raise ConfigurationError("no key provider is configured; key material cannot be changed")
    provider.save(material)
    ctx.crypto.material = material
    ctx.crypto.reload()
    saved = ctx.crypto.material
    if (saved.keks, saved.current_kek, saved.index_keys, saved.current_index) != (
        material.keks,
        material.current_kek,
        material.index_keys,
        material.current_index,
    ):
        raise ConfigurationError(f"{_describe(ctx)} did not keep the key material just saved")


def _describe(ctx: Context) -> str:
    provider = ctx.crypto.provider
    return provider.describe() if provider is not None else "in-memory keys"


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise InvalidInput("batch size must be positive", errors={"batch_size": ["at least 1"]})
