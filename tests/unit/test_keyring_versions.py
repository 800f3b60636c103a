"""Versioned key material: new versions, removal, the key file round trip and reloading."""

import os
import stat

import pytest

from consent_service.crypto.envelope import Crypto
from consent_service.crypto.keyring import EnvProvider, KeyMaterial, LocalFileProvider
from consent_service.errors import ConfigurationError


def test_a_new_master_key_becomes_current_and_keeps_the_old_ones():
    material = KeyMaterial.generate()
    rotated = material.with_new_kek()
    assert rotated.current_kek == 2
    assert rotated.keks[1] == material.keks[1]
    assert len(rotated.keks[2]) == 32 and rotated.keks[2] != material.keks[1]
    assert material.current_kek == 1 and set(material.keks) == {1}  # the original is unchanged
    assert rotated.with_new_kek().current_kek == 3
    assert (rotated.index_keys, rotated.signing_key) == (material.index_keys, material.signing_key)


def test_a_new_index_key_becomes_current_and_keeps_the_old_one_for_lookups():
    material = KeyMaterial.generate()
    reindexed = material.with_new_index_key()
    assert reindexed.current_index == 2
    assert reindexed.index_key == reindexed.index_keys[2] != material.index_keys[1]
    assert reindexed.index_keys[1] == material.index_keys[1]
    assert reindexed.keks == material.keks
    crypto = Crypto(reindexed)
    digests = crypto.lookup_digests("email", "Anna@Example.org")
    assert digests == [crypto.blind_index("email", "anna@example.org", v) for v in (2, 1)]
    assert digests[1] == Crypto(material).blind_index("email", "anna@example.org")
    assert crypto.blind_index("email", "anna@example.org") == digests[0]


def test_old_versions_can_be_removed_but_not_the_current_one():
    material = KeyMaterial.generate().with_new_kek().with_new_kek()
    assert set(material.without_kek(1).keks) == {2, 3}
    with pytest.raises(ValueError, match="current"):
        material.without_kek(3)
    indexed = material.with_new_index_key().with_new_index_key()
    only = indexed.with_only_current_index_key()
    assert only.index_keys == {3: indexed.index_keys[3]} and only.current_index == 3


def test_saved_material_loads_back_identically_with_mode_600(tmp_path):
    provider = LocalFileProvider(tmp_path / "keyring.json")
    material = KeyMaterial.generate().with_new_kek().with_new_index_key().without_kek(1)
    provider.save(material)
    assert stat.S_IMODE(os.stat(provider.path).st_mode) == 0o600
    assert provider.load() == material
    assert not (tmp_path / "keyring.json.tmp").exists()
    # saving again replaces the file, still 0600, and the stamp tells a reader it changed
    before = provider.stamp()
    provider.save(material.with_new_kek())
    assert stat.S_IMODE(os.stat(provider.path).st_mode) == 0o600
    assert provider.load().current_kek == 3
    assert provider.stamp() != before


def test_material_without_versions_is_refused():
    text = KeyMaterial.generate().to_json().replace('"current_kek": 1', '"current_kek": 7')
    with pytest.raises(ConfigurationError, match="current master key version is missing"):
        KeyMaterial.from_json(text, "test")


def test_the_environment_provider_cannot_save():
    material = KeyMaterial.generate()
    provider = EnvProvider(material.to_json())
    with pytest.raises(ConfigurationError, match="CONSENT_MASTER_KEYS"):
        provider.save(material.with_new_kek())
    assert provider.load() == material


def test_a_running_process_picks_up_a_changed_key_file(tmp_path):
    provider = LocalFileProvider(tmp_path / "keyring.json")
    provider.save(KeyMaterial.generate())
    crypto = Crypto(provider.load(), provider=provider, refresh_s=0)
    slow = Crypto(provider.load(), provider=provider, refresh_s=3600)
    provider.save(provider.load().with_new_index_key().with_new_kek())
    assert len(crypto.lookup_digests("email", "a@example.org")) == 2
    assert crypto.material.current_index == 2
    _, version, _ = crypto.new_data_key("sub_a")
    assert version == 2
    # within its refresh interval a process keeps its material (no file check per request)
    assert len(slow.lookup_digests("email", "a@example.org")) == 1


def test_an_unknown_master_key_version_reloads_the_key_file(tmp_path):
    provider = LocalFileProvider(tmp_path / "keyring.json")
    provider.save(KeyMaterial.generate())
    stale = Crypto(provider.load(), provider=provider, refresh_s=3600)
    old_key, _, old_wrapped = stale.new_data_key("sub_old")
    provider.save(provider.load().with_new_kek())
    writer = Crypto(provider.load(), provider=provider)
    key, version, wrapped = writer.new_data_key("sub_a")
    assert version == 2
    assert stale.unwrap("sub_a", version, wrapped) == key
    provider.save(provider.load().without_kek(1))
    fresh = Crypto(provider.load(), provider=provider)
    with pytest.raises(ConfigurationError, match="version 1 is not in the keyring"):
        fresh.unwrap("sub_old", 1, old_wrapped)
