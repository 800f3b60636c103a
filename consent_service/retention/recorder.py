"""A run's report as it grows: shown to a progress callback and saved (with a heartbeat) into
``retention_runs`` at most once a second, so a watcher sees progress and a dead run is seen.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from consent_service.context import Context
from consent_service.retention.models import RetentionRun

SAVE_EVERY_SECONDS = 1.0

Progress = Callable[[str, dict[str, Any]], None]


class Recorder:
    """Keeps the report and saves it (with a heartbeat) at most once a second."""

    def __init__(
        self,
        ctx: Context,
        run_id: str | None,
        report: dict[str, Any],
        progress: Progress | None,
        now: dt.datetime,
    ):
        self.ctx, self.run_id, self.report, self.progress = ctx, run_id, report, progress
        self.now = now  # one moment per run: every period is counted back from it
        self.saved = 0.0

    def tick(self, step: str, entry: dict[str, Any], *, force: bool = False) -> None:
        if self.progress:
            self.progress(step, entry)
        if self.run_id is None or (not force and time.monotonic() - self.saved < SAVE_EVERY_SECONDS):
            return
        with self.ctx.uow() as uow:
            uow.session.execute(
                update(RetentionRun)
                .where(RetentionRun.id == self.run_id)
                .values(report=json_safe(self.report), heartbeat_at=self.ctx.now())
            )
            uow.commit()
        self.saved = time.monotonic()


def json_safe(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {str(k): json_safe(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [json_safe(v) for v in doc]
    if isinstance(doc, dt.datetime):
        return doc.isoformat()
    return doc
