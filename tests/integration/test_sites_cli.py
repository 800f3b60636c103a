"""``consent-service sites create|show|banner``: sites and their banner settings from the command
line, on a migrated SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from consent_service.auditlog.service import entries
from consent_service.cli import main
from consent_service.registry import banner_settings
from consent_service.registry.sites import REGISTRY_LOG

BANNER = {
    "languages": ["de"],
    "links": {"privacy": "https://tea.example/datenschutz"},
    "consent_mode": {"enabled": True, "mapping": {"analytics_storage": ["analytics"]}},
}


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def create(tmp_path: Path, banner: dict[str, Any] | None = None) -> Any:
    args = ["sites", "create", "--name", "Tea shop", "--origin", "https://tea.example"]
    args += ["--purpose", "analytics", "--cookie", "_ga"]
    if banner is not None:
        path = tmp_path / "banner.json"
        path.write_text(json.dumps(banner))
        args += ["--banner", str(path)]
    return run(*args)


def site_id(output: str) -> str:
    return output.split()[1]


def test_a_site_is_created_with_its_settings_shown_and_changed(cli_env, ctx, tmp_path):
    from consent_service.demo import seed

    seed(ctx)
    created = create(tmp_path, BANNER)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    sid = site_id(created.stderr)
    shown = run("sites", "show", sid)
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["site_key"] == key and doc["purposes"] == ["analytics"]
    assert doc["banner"] == banner_settings.settings(BANNER)
    path = tmp_path / "new.json"
    path.write_text(json.dumps({"floating_button": False}))
    changed = run("sites", "banner", sid, str(path))
    assert changed.exit_code == 0, changed.output
    assert json.loads(run("sites", "show", sid).stdout)["banner"] == banner_settings.settings(
        {"floating_button": False}
    )
    with ctx.uow(write=False) as uow:
        log = [(e["actor"], e["action"]) for e in entries(uow.session, REGISTRY_LOG)]
    assert log[-2:] == [("cli", "site_created"), ("cli", "site_banner_changed")]


def test_bad_settings_name_each_field_exit_1_and_change_nothing(cli_env, ctx, tmp_path):
    from consent_service.demo import seed

    seed(ctx)
    created = create(tmp_path)
    sid = site_id(created.stderr)
    before = run("sites", "show", sid).stdout
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"theme": {"text": "#eeeeee"}, "refusal_reask": "soon", "languages": ["xx"], "sound": 1})
    )
    refused = run("sites", "banner", sid, str(bad))
    assert refused.exit_code == 1, refused.output
    for field in ("banner.theme.text", "banner.refusal_reask", "banner.languages", "banner:"):
        assert f"  {field}" in refused.stderr, refused.stderr
    assert "unknown setting(s): sound" in refused.stderr
    assert run("sites", "show", sid).stdout == before
    again = create(tmp_path, {"consent_mode": {"mapping": {"ad_storage": ["ads"]}}})
    assert again.exit_code == 1 and "banner.consent_mode.mapping.ad_storage" in again.stderr
    assert "not offered by this site: ads" in again.stderr
    unregistered = run("sites", "create", "--name", "X", "--origin", "https://x.example", "--purpose", "nope")
    assert unregistered.exit_code == 1 and "  purposes: not registered: nope" in unregistered.stderr
    assert len(run("sites", "list").stdout.splitlines()) == 2, "the demo site and the first one only"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert run("sites", "banner", sid, str(broken)).exit_code == 1
    broken.write_text("[]")
    assert "must be a JSON object" in run("sites", "banner", sid, str(broken)).stderr


def test_an_unknown_site_is_refused(cli_env, ctx, tmp_path):
    path = tmp_path / "banner.json"
    path.write_text("{}")
    shown = run("sites", "show", "site_0")
    assert shown.exit_code == 2 and "site_0" in shown.stderr
    assert run("sites", "banner", "site_0", str(path)).exit_code == 2
    assert run("sites", "delete", "site_0").exit_code == 2


def test_a_site_is_removed(cli_env, ctx, tmp_path):
    from consent_service.demo import seed

    seed(ctx)
    sid = site_id(create(tmp_path).stderr)
    removed = run("sites", "delete", sid)
    assert removed.exit_code == 0 and f"site {sid} removed" in removed.stderr
    assert sid not in run("sites", "list").stdout
    assert run("sites", "show", sid).exit_code == 2
    with ctx.uow(write=False) as uow:
        assert [e["action"] for e in entries(uow.session, REGISTRY_LOG)][-1] == "site_deleted"
