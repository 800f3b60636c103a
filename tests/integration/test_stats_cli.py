"""``consent-service stats rebuild``: the consent counts derived again from the ledger, with its
progress shown, on a migrated SQLite database."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import delete

from consent_service.cli import main
from consent_service.demo import seed
from consent_service.ledger import counts
from consent_service.ledger.models import ConsentCount
from tests.integration.consent_writes import fold_ledger, write


def test_stats_rebuild_restores_deleted_counts_and_shows_progress(cli_env, ctx) -> None:
    site_key = seed(ctx)["site"]["site_key"]
    for op in [
        ("consent", 2, [("newsletter", True), ("ads", True)], "api", "de"),
        ("banner", 1, "reject_all", False, "en"),
        ("import", 4, "analytics", "granted", 5, "k1"),
    ]:
        write(ctx, site_key, op)
    expected = fold_ledger(ctx)
    with ctx.uow() as uow:
        uow.session.execute(delete(ConsentCount))
        uow.commit()
    result = CliRunner().invoke(main, ["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"rebuilt consent counts: {len(expected)} cells" in result.output
    assert "counted" in result.output + (result.stderr or "") and "events (100%)" in result.output + (
        result.stderr or ""
    )
    with ctx.uow(write=False) as uow:
        assert counts.snapshot(uow.session) == expected
    assert len(expected) >= 5
