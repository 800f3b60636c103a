"""Adopting keys into a backup: the restore procedure that makes a copy of the database readable
with the current keyring, except for the subjects erased in the live database since the copy was
taken (their keys stay destroyed in the copy too: erasure reaches backups). Batched like the rest
of the key lifecycle (``subjects.rotation``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, LargeBinary, String, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.batches import Progress, in_batches, scalar
from consent_service.crypto.envelope import DecryptionFailed, open_sealed
from consent_service.crypto.keyring import KeyMaterial
from consent_service.db import Database, UTCDateTime
from consent_service.errors import Conflict, InvalidInput
from consent_service.subjects.rotation import check_batch_size, identity_aad

_COPY_KEYS = text(
    "SELECT subject_id, wrapped_key IS NULL AS erased FROM subject_keys "
    "WHERE subject_id > :after ORDER BY subject_id LIMIT :limit"
)
_LIVE_KEYS = (
    text(
        "SELECT subject_id, kek_version, wrapped_key, shredded_at FROM subject_keys WHERE subject_id IN :ids"
    )
    .bindparams(bindparam("ids", expanding=True))
    .columns(subject_id=String(), kek_version=Integer(), wrapped_key=LargeBinary(), shredded_at=UTCDateTime())
)
_ADOPT = text(
    "UPDATE subject_keys SET kek_version = :version, wrapped_key = :wrapped, shredded_at = NULL "
    "WHERE subject_id = :sid AND wrapped_key IS NOT NULL"
).bindparams(bindparam("wrapped", type_=LargeBinary()))
_ERASE = text(
    "UPDATE subject_keys SET wrapped_key = NULL, shredded_at = coalesce(shredded_at, :at) "
    "WHERE subject_id = :sid"
).bindparams(bindparam("at", type_=UTCDateTime()))
_ERASE_INDEXES = text("UPDATE identities SET blind_index = NULL WHERE subject_id = :sid")
_COPY_STALE_IDENTITIES = (
    text(
        "SELECT id, subject_id, type, value_ct FROM identities "
        "WHERE subject_id IN :ids AND index_version <> :current AND blind_index IS NOT NULL"
    )
    .bindparams(bindparam("ids", expanding=True))
    .columns(id=Integer(), subject_id=String(), type=String(), value_ct=LargeBinary())
)
_COPY_REINDEX = text("UPDATE identities SET blind_index = :digest, index_version = :new WHERE id = :id")


def adopt_keys(
    ctx: Context, backup_url: str, *, batch_size: int = 1000, progress: Progress | None = None
) -> dict[str, Any]:
    """Restore procedure for a copy (backup) of the database: make it readable with the current
    keyring, except for what is erased in the live database.

    Each subject in the copy gets its current wrapped data key from the live database (ctx).
    Subjects shredded in the live database (or unknown to it) lose their data key and blind
    indexes in the copy too, so a restore never brings erased data back. Blind indexes made
    with index keys that are no longer current are recomputed. The copy must be at the same
    schema revision (``db upgrade`` it first).
    """
    check_batch_size(batch_size)
    if _same_database(ctx.db.url, backup_url):
        raise InvalidInput(
            "the copy is the live database", errors={"backup_url": ["give the URL of the restored copy"]}
        )
    crypto = ctx.crypto
    crypto.reload()
    material = crypto.material
    copy = Database(backup_url)
    adopted = erased = missing = reindexed = 0
    try:
        total = scalar(copy, text("SELECT count(*) FROM subject_keys"))
        seen = 0

        def adopt_batch(session: Session, rows: list[Any]) -> int:
            nonlocal adopted, erased, missing, reindexed, seen
            ids = [row.subject_id for row in rows]
            with ctx.uow(write=False) as live_uow:
                live = {r.subject_id: r for r in live_uow.session.execute(_LIVE_KEYS, {"ids": ids})}
            if seen == 0 and not live:
                raise Conflict(
                    "no subject of the copy is known to the live database; "
                    "is it a copy of this service's database?"
                )
            seen += len(ids)
            adopt, erase = [], []
            for row in rows:
                current = live.get(row.subject_id)
                if current is None:
                    missing += 1
                    erase.append({"sid": row.subject_id, "at": ctx.now()})
                elif current.wrapped_key is None or row.erased:
                    erased += 1
                    erase.append({"sid": row.subject_id, "at": current.shredded_at or ctx.now()})
                else:
                    adopted += 1
                    adopt.append(
                        {
                            "sid": row.subject_id,
                            "version": current.kek_version,
                            "wrapped": bytes(current.wrapped_key),
                        }
                    )
            if adopt:
                session.execute(_ADOPT, adopt)
                reindexed += _reindex_copy(session, ctx, material, adopt)
            if erase:
                session.execute(_ERASE, erase)
                session.execute(_ERASE_INDEXES, [{"sid": e["sid"]} for e in erase])
            return len(rows)

        in_batches(copy, _COPY_KEYS, {}, "subject_id", batch_size, adopt_batch, total, progress, 0)
        suppressed = _copy_suppressions(ctx, copy, batch_size)
    finally:
        copy.dispose()
    return {
        "adopted": adopted,
        "erased": erased,
        "missing": missing,
        "reindexed": reindexed,
        "suppressions": suppressed,
    }


_SUPPRESSED_AFTER = text(
    "SELECT id, email_sha256, purpose_key, reason, created_at FROM suppressed_addresses "
    "WHERE id > :after ORDER BY id LIMIT :limit"
).columns(
    id=Integer(), email_sha256=String(), purpose_key=String(), reason=String(), created_at=UTCDateTime()
)
_SUPPRESS = text(
    "INSERT INTO suppressed_addresses (id, email_sha256, purpose_key, reason, created_at) "
    "VALUES (:id, :email_sha256, :purpose_key, :reason, :created_at)"
).bindparams(bindparam("created_at", type_=UTCDateTime()))


def _copy_suppressions(ctx: Context, copy: Database, batch_size: int) -> int:
    """Bring the live suppressed addresses the copy lacks (those kept by erasures after the copy
    was taken), so that people erased since stay on the restored suppression lists. Returns how
    many were added."""
    with copy.engine.connect() as conn:
        after = conn.execute(text("SELECT coalesce(max(id), 0) FROM suppressed_addresses")).scalar_one()
    added = 0
    while True:
        with ctx.db.engine.connect() as live:
            rows = [
                dict(r._mapping)
                for r in live.execute(_SUPPRESSED_AFTER, {"after": after, "limit": batch_size})
            ]
        if not rows:
            return added
        with copy.engine.begin() as conn:
            conn.execute(_SUPPRESS, rows)
        added += len(rows)
        after = rows[-1]["id"]


def _reindex_copy(
    session: Session, ctx: Context, material: KeyMaterial, adopted: list[dict[str, Any]]
) -> int:
    """Recompute the copy's blind indexes made with index keys that are no longer current."""
    wrapped = {a["sid"]: (a["version"], a["wrapped"]) for a in adopted}
    rows = session.execute(
        _COPY_STALE_IDENTITIES, {"ids": list(wrapped), "current": material.current_index}
    ).all()
    params = []
    for row in rows:
        version, blob = wrapped[row.subject_id]
        key = ctx.crypto.unwrap(row.subject_id, version, blob)
        try:
            value = open_sealed(key, row.value_ct, identity_aad(row.subject_id, row.type)).decode()
        except DecryptionFailed:
            continue
        digest = ctx.crypto.blind_index(row.type, value, material.current_index)
        params.append({"id": row.id, "digest": digest, "new": material.current_index})
    if params:
        session.execute(_COPY_REINDEX, params)
    return len(params)


def _same_database(a: str, b: str) -> bool:
    return make_url(a) == make_url(b)
