"""Envelope encryption, blind indexes, key cache and signatures."""

import json
import os
import stat

import pytest

from consent_service.crypto.envelope import (
    NONCE_BYTES,
    Crypto,
    DecryptionFailed,
    KeyCache,
    field_aad,
    normalise_identity,
    open_sealed,
    seal,
)
from consent_service.crypto.keyring import EnvProvider, KeyMaterial, LocalFileProvider
from consent_service.crypto.signing import Signer, load_public_key, verify_signed
from consent_service.errors import ConfigurationError


@pytest.fixture
def crypto():
    return Crypto(KeyMaterial.generate())


def test_sealed_data_opens_only_with_the_same_associated_data(crypto):
    key, _, _ = crypto.new_data_key("sub_a")
    blob = seal(key, b"anna@example.org", field_aad("sub_a", "identities", "email"))
    assert open_sealed(key, blob, field_aad("sub_a", "identities", "email")) == b"anna@example.org"
    for other in (
        field_aad("sub_b", "identities", "email"),
        field_aad("sub_a", "identities", "phone"),
        field_aad("sub_a", "ledger_events", "proof"),
    ):
        with pytest.raises(DecryptionFailed):
            open_sealed(key, blob, other)


def test_no_nonce_repeats_over_100000_encryptions(crypto):
    key, _, _ = crypto.new_data_key("sub_a")
    nonces = {seal(key, b"x", b"aad")[:NONCE_BYTES] for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_wrapped_data_keys_are_bound_to_their_subject(crypto):
    key, version, wrapped = crypto.new_data_key("sub_a")
    crypto.cache.clear()
    assert crypto.unwrap("sub_a", version, wrapped) == key
    crypto.cache.clear()
    with pytest.raises(DecryptionFailed):
        crypto.unwrap("sub_b", version, wrapped)


def test_blind_index_normalises_and_is_keyed(crypto):
    assert crypto.blind_index("email", " Anna@Example.ORG ") == crypto.blind_index(
        "email", "anna@example.org"
    )
    assert crypto.blind_index("email", "anna@example.org") != crypto.blind_index(
        "customer_id", "anna@example.org"
    )
    other = Crypto(KeyMaterial.generate())
    assert other.blind_index("email", "anna@example.org") != crypto.blind_index("email", "anna@example.org")
    assert normalise_identity("phone", "+49 (30) 123-45") == "+493012345"


def test_key_cache_is_bounded_in_size_and_age():
    cache = KeyCache(max_size=2, max_age_s=60)
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.put("c", b"3")
    assert cache.get("a") is None and cache.get("c") == b"3"
    cache.purge("c")
    assert cache.get("c") is None
    old = KeyCache(max_size=2, max_age_s=0)
    old.put("a", b"1")
    assert old.get("a") is None


def test_local_key_file_is_created_0600_and_refused_when_readable_by_others(tmp_path):
    provider = LocalFileProvider(tmp_path / "keys.json")
    assert provider.init() is True
    assert provider.init() is False
    assert stat.S_IMODE(os.stat(provider.path).st_mode) == 0o600
    material = provider.load()
    assert material.current_kek in material.keks
    os.chmod(provider.path, 0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        provider.load()


def test_env_provider_rejects_broken_key_material():
    with pytest.raises(ConfigurationError):
        EnvProvider("{not json").load()
    doc = json.loads(KeyMaterial.generate().to_json())
    doc["current_kek"] = 7
    with pytest.raises(ConfigurationError, match="missing"):
        EnvProvider(json.dumps(doc)).load()


def test_signatures_verify_with_the_public_key_alone_and_catch_changes():
    material = KeyMaterial.generate()
    signer = Signer(material.signing_key, material.key_id)
    doc = signer.sign({"seq": 5, "head_hash": "ab"})
    assert verify_signed(doc, load_public_key(signer.public_key_b64))
    assert verify_signed(doc, load_public_key(signer.public_key_pem()))
    tampered = {**doc, "payload": {"seq": 6, "head_hash": "ab"}}
    assert not verify_signed(tampered, load_public_key(signer.public_key_b64))
    stranger = Signer(KeyMaterial.generate().signing_key, "k2")
    assert not verify_signed(doc, stranger.public_key())


def test_the_key_cache_never_answers_for_a_different_wrapped_key(crypto):
    key, version, wrapped = crypto.new_data_key("sub_a")
    assert crypto.unwrap("sub_a", version, wrapped) == key
    _, _, other_wrapped = Crypto(crypto.material).new_data_key("sub_a")
    assert crypto.unwrap("sub_a", version, other_wrapped) != key
    crypto.cache.purge("sub_a")
    assert crypto.cache.get("sub_a:" + wrapped.hex()) is None
