"""Store connections follow master-key rotation: re-sealed by rotate, guarding retire."""

from __future__ import annotations

from pathlib import Path

import pytest

from consent_service.config import Config
from consent_service.crypto.keyring import KeyMaterial, LocalFileProvider
from consent_service.errors import Conflict
from consent_service.stores.registry import read_store, reseal_connections, save_store
from consent_service.subjects import rotation
from consent_service.wiring import bootstrap
from tests.conftest import migrate


def test_rotation_reseals_store_connections_and_retire_waits_for_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    migrate(url)
    key_file = tmp_path / "keyring.json"
    LocalFileProvider(key_file).save(KeyMaterial.generate())
    ctx = bootstrap(Config(data_dir=tmp_path, database_url=url, key_file=key_file))
    shop = tmp_path / "shop.db"
    save_store(
        ctx,
        "shop",
        {
            "type": "sql",
            "connection": {"url": f"sqlite:///{shop}"},
            "collections": {
                "customers": {
                    "primary_key": "id",
                    "identities": {"email": "email"},
                    "erase": "delete",
                    "fields": {"email": {"category": "user.contact.email", "erase": "mask"}},
                }
            },
        },
    )
    rotation.rotate(ctx, batch_size=10)
    with pytest.raises(Conflict, match="store connection"):
        rotation.retire(ctx, 1)
    assert reseal_connections(ctx) == 1
    assert reseal_connections(ctx) == 0
    rotation.retire(ctx, 1)
    fresh = bootstrap(Config(data_dir=tmp_path, database_url=url, key_file=key_file))
    assert read_store(fresh, "shop")["key"] == "shop"
    from consent_service.stores.registry import load_spec

    _, connection = load_spec(fresh, "shop")
    assert connection["url"] == f"sqlite:///{shop}"
