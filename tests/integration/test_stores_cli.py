"""``consent-service stores load|list|test`` on a migrated SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from consent_service.cli import main
from consent_service.crypto.keyring import KeyMaterial
from tests.conftest import TEST_OUTBOUND_ALLOW

STORES_YAML = """
stores:
  shop:
    type: sql
    connection: {{url: "sqlite:///{shop}"}}
    collections:
      customers:
        primary_key: id
        identities: {{email: email, customer_id: id}}
        erase: delete
        fields:
          email: {{category: user.contact.email, erase: mask}}
          name: {{category: user.name, erase: nullify}}
  crm:
    type: http
    connection: {{endpoint: "http://127.0.0.1:1/dsar", secret: "cli-secret-0123456789abcdef"}}
    collections:
      contacts:
        identities: {{email: email}}
        fields:
          email: {{category: user.contact.email, erase: delete}}
"""


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "CONSENT_DATABASE_URL": sqlite_url,
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_MASTER_KEYS": KeyMaterial.generate().to_json(),
        "CONSENT_OUTBOUND_ALLOW_NETWORKS": TEST_OUTBOUND_ALLOW,  # its HTTP store is on loopback
    }


def test_load_list_and_test(env: dict[str, str], tmp_path: Path) -> None:
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
    conn.close()
    path = tmp_path / "stores.yaml"
    path.write_text(STORES_YAML.format(shop=shop))
    runner = CliRunner()
    loaded = runner.invoke(main, ["stores", "load", str(path)], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert "registered store shop" in loaded.output and "registered store crm" in loaded.output
    listed = runner.invoke(main, ["stores", "list"], env=env)
    assert "crm" in listed.output and "shop" in listed.output
    assert "cli-secret" not in listed.output
    ok = runner.invoke(main, ["stores", "test", "shop"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "store shop: OK" in ok.output
    failing = runner.invoke(main, ["stores", "test", "crm"], env=env)
    assert failing.exit_code == 1 and "NOT OK" in failing.output


def test_an_invalid_file_saves_nothing(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "stores.yaml"
    path.write_text(STORES_YAML.format(shop="x.db").replace("user.name", "user.nope"))
    runner = CliRunner()
    result = runner.invoke(main, ["stores", "load", str(path)], env=env)
    assert result.exit_code == 2
    assert "user.nope" in result.output
    assert runner.invoke(main, ["stores", "list"], env=env).output == ""
    single = tmp_path / "one.yaml"
    single.write_text("type: manual\nconnection: {}\ncollections: {}\n")
    assert runner.invoke(main, ["stores", "load", str(single)], env=env).exit_code == 2
