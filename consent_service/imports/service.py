"""Importing consent records exported by another platform: the one function the CLI and the API call.

Guarantees of ``import_consents``:
- **validate first, then write.** The whole file is read once and every row checked (identity
  type built in or registered, the value normalised by its type's rule, target, decision, time,
  method, lengths; every purpose and cookie it names must be registered). Any bad row refuses
  the import with every row's errors (row number, field, message) and nothing is written.
- **streamed.** The file is read twice, row by row; only one batch (``batch_size`` decisions)
  is held in memory at a time, so a million-row file takes little memory.
- **idempotent.** Each decision has a key: SHA-256 over the source, the identity's blind index
  and everything read from the row. Written keys are kept in ``import_rows`` in the same
  transaction as their events; a key found there is not written again. Re-running a file adds
  nothing.
- **atomic per batch, complete by re-run.** Each batch is one transaction (its events, proof
  keys, projection rows and keys). Validation has passed before the first batch, so a write can
  only fail for reasons outside the file (the database went away, the disk is full); the batches
  written before it stay, and running the same file again writes exactly the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.errors import InvalidInput
from consent_service.hashing import canonical_json
from consent_service.imports import reader
from consent_service.imports.mapping import Extracted, Mapping, RowError, extract
from consent_service.imports.models import ImportRow
from consent_service.ledger.imported import ImportedDecision, record_imported
from consent_service.registry.models import Cookie, Purpose
from consent_service.subjects import identity_types
from consent_service.subjects.service import IdentityRef

BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 1000
Progress = Callable[[str, int, int | None], None]  # (phase, rows done, rows in all or None)

_KNOWN_KEYS = text("SELECT key FROM import_rows WHERE key IN :keys").bindparams(
    bindparam("keys", expanding=True)
)


class ImportRefused(InvalidInput):
    """The file has bad rows; ``errors`` maps ``rows.<n>.<field>`` to messages."""


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    decisions: int = 0
    written: int = 0
    already_imported: int = 0
    erased_skipped: int = 0
    subjects_created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _extracted(
    ctx: Context, open_file: reader.Opener, file_format: str, mapping: Mapping
) -> Iterator[tuple[int, list[Extracted] | RowError]]:
    with ctx.uow() as uow:
        types = identity_types.all_rules(uow.session)  # built-in and registered, read once per pass
    for number, row in reader.rows(open_file, file_format):
        if isinstance(row, RowError):
            yield number, row
            continue
        try:
            yield number, extract(mapping, row, types)
        except RowError as exc:
            yield number, exc


def validate(
    ctx: Context,
    open_file: reader.Opener,
    file_format: str,
    mapping: Mapping,
    progress: Progress | None = None,
) -> ImportReport:
    """Read every row; ImportRefused naming every bad row, else the counts (nothing written)."""
    report = ImportReport(mapping.source)
    errors: list[dict[str, Any]] = []
    total_errors = 0
    first_use: dict[tuple[str, str], tuple[int, int]] = {}  # target -> (first row, rows naming it)
    for number, result in _extracted(ctx, open_file, file_format, mapping):
        report.rows += 1
        if isinstance(result, RowError):
            total_errors += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append({"row": number, "field": result.field, "message": result.message})
        else:
            report.decisions += len(result)
            for item in result:
                target = (item.target_type, item.target_key)
                row, count = first_use.get(target, (number, 0))
                first_use[target] = (row, count + 1)
        if progress is not None and report.rows % 10_000 == 0:
            progress("validated", report.rows, None)
    with ctx.uow() as uow:
        purposes = set(uow.session.scalars(select(Purpose.key)))
        cookies = set(uow.session.scalars(select(Cookie.name)))
    for (target_type, key), (row, count) in sorted(first_use.items(), key=lambda item: item[1][0]):
        if key not in (purposes if target_type == "purpose" else cookies):
            total_errors += count
            more = f" (and {count - 1:,} more rows)" if count > 1 else ""
            errors.append(
                {"row": row, "field": target_type, "message": f"unknown {target_type} {key!r}{more}"}
            )
    if progress is not None:
        progress("validated", report.rows, report.rows)
    if errors:
        errors.sort(key=lambda e: e["row"])
        report.errors = errors
        refused = ImportRefused(
            f"{total_errors:,} of {report.rows:,} rows cannot be imported; nothing was written",
            errors={f"rows.{e['row']}.{e['field']}": [e["message"]] for e in errors},
        )
        refused.report = report  # type: ignore[attr-defined]
        raise refused
    if report.rows == 0:
        raise ImportRefused("the file has no rows", errors={"file": ["no rows to import"]})
    return report


def decision_key(ctx: Context, source: str, item: Extracted) -> str:
    """The idempotency key of one decision: no identity in clear, only its blind index."""
    doc = asdict(item)
    doc["identity"] = ctx.crypto.blind_index(item.identity_type, item.identity)
    doc["recorded_at_source"] = item.recorded_at_source.astimezone(dt.UTC).isoformat()
    return hashlib.sha256(canonical_json([source, doc])).hexdigest()


def _fresh(session: Session, items: Sequence[ImportedDecision]) -> list[ImportedDecision]:
    """The decisions not written before, each once."""
    known = set(session.scalars(_KNOWN_KEYS, {"keys": [i.key for i in items]}))
    out = []
    for item in items:
        if item.key not in known:
            known.add(item.key)
            out.append(item)
    return out


def import_consents(
    ctx: Context,
    open_file: reader.Opener,
    *,
    file_format: str,
    mapping: Mapping,
    actor_type: str,
    actor_id: str,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate the whole file, then write it in batches; see the module docstring."""
    report = validate(ctx, open_file, file_format, mapping, progress)
    now = ctx.now()

    def remember(session: Session, written: list[tuple[ImportedDecision, dict[str, Any]]]) -> None:
        session.execute(
            insert(ImportRow),
            [
                {"key": i.key, "source": mapping.source, "event_id": r["id"], "imported_at": now}
                for i, r in written
            ],
        )

    def flush(batch: list[ImportedDecision]) -> None:
        done = record_imported(
            ctx,
            batch,
            source=mapping.source,
            actor_type=actor_type,
            actor_id=actor_id,
            fresh=_fresh,
            within=remember,
        )
        report.written += done.written
        report.erased_skipped += done.erased
        report.subjects_created += done.subjects_created
        report.already_imported += len(batch) - done.written - done.erased
        batch.clear()

    batch: list[ImportedDecision] = []
    rows = 0
    for _, result in _extracted(ctx, open_file, file_format, mapping):
        rows += 1
        if isinstance(result, RowError):  # valid a moment ago: the file changed under the import
            raise ImportRefused(
                "the file changed while it was imported; run the import again",
                errors={f"rows.{rows}.{result.field}": [result.message]},
            )
        for item in result:
            batch.append(
                ImportedDecision(
                    key=decision_key(ctx, mapping.source, item),
                    identity=IdentityRef(item.identity_type, item.identity),
                    target_type=item.target_type,
                    target_key=item.target_key,
                    decision=item.decision,
                    recorded_at_source=item.recorded_at_source,
                    method=item.method,
                    collection_point=item.collection_point,
                    language=item.language,
                    proof=item.proof,
                )
            )
        if len(batch) >= batch_size:
            flush(batch)
            if progress is not None:
                progress("written", rows, report.rows)
    if batch:
        flush(batch)
    if progress is not None:
        progress("written", rows, report.rows)
    return report
