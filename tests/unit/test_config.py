"""Configuration from CONSENT_* variables."""

from pathlib import Path

from consent_service.config import Config


def test_embedded_defaults():
    config = Config.from_env({})
    assert config.effective_database_url == "sqlite:///var/consent.db"
    assert config.effective_key_file == Path("var/keyring.json")
    assert config.max_body_bytes == 64 * 1024


def test_environment_overrides():
    config = Config.from_env(
        {
            "CONSENT_DATA_DIR": "/srv/consent",
            "CONSENT_DATABASE_URL": "postgresql+psycopg://db/consent",
            "CONSENT_PUBLIC_RATE_LIMIT": "5",
            "CONSENT_TRUSTED_PROXIES": "1",
        }
    )
    assert config.effective_database_url == "postgresql+psycopg://db/consent"
    assert config.effective_key_file == Path("/srv/consent/keyring.json")
    assert config.public_rate_limit == 5 and config.trusted_proxies == 1


def test_checkpoint_settings_and_witness_urls():
    import pytest

    config = Config.from_env(
        {
            "CONSENT_CHECKPOINT_EVENTS": "500",
            "CONSENT_WITNESS_URLS": "https://w.example/cp, http://x.example/",
        }
    )
    assert config.checkpoint_events == 500 and config.checkpoint_seconds == 60
    assert config.witness_urls == ("https://w.example/cp", "http://x.example/")
    assert Config.from_env({}).effective_checkpoint_file.name == "checkpoints.jsonl"
    with pytest.raises(ValueError, match="CONSENT_WITNESS_URLS"):
        Config.from_env({"CONSENT_WITNESS_URLS": "file:///etc/passwd"})


def test_deadline_calendar_settings_are_checked_at_start_by_name():
    import pytest

    from consent_service.config_checks import check_calendar
    from consent_service.errors import ConfigurationError

    config = Config.from_env({"CONSENT_HOLIDAYS": "DE-BY", "CONSENT_TIMEZONE": "Europe/Berlin"})
    assert (config.holidays, config.timezone) == ("DE-BY", "Europe/Berlin")
    assert (Config.from_env({}).holidays, Config.from_env({}).timezone) == ("none", "UTC")
    check_calendar(config)
    with pytest.raises(ConfigurationError, match="CONSENT_HOLIDAYS: unknown holiday calendar 'Atlantis'"):
        check_calendar(Config.from_env({"CONSENT_HOLIDAYS": "Atlantis"}))
    with pytest.raises(ConfigurationError, match="CONSENT_TIMEZONE: unknown time zone 'Berlin'"):
        check_calendar(Config.from_env({"CONSENT_TIMEZONE": "Berlin"}))


def test_message_settings_are_read_and_checked_at_start_by_name():
    import pytest

    from consent_service.config_checks import check_messages
    from consent_service.errors import ConfigurationError

    env = {
        "CONSENT_DEFAULT_LANGUAGE": "de",
        "CONSENT_SUPERVISORY_AUTHORITY_NAME": "Die Landesbeauftragte",
        "CONSENT_SUPERVISORY_AUTHORITY_URL": "https://authority.example/complaints",
        "CONSENT_PUBLIC_URL": "https://privacy.shop.example",
        "CONSENT_REPEAT_WINDOW": "P6M",
    }
    config = Config.from_env(env)
    assert (config.default_language, config.supervisory_authority_name, config.repeat_window) == (
        "de", "Die Landesbeauftragte", "P6M",
    )  # fmt: skip
    check_messages(config)
    defaults = Config.from_env({})
    assert (defaults.default_language, defaults.supervisory_authority_url, defaults.repeat_window) == (
        "en", "", "P3M",
    )  # fmt: skip
    with pytest.raises(ConfigurationError, match="CONSENT_SUPERVISORY_AUTHORITY_URL"):
        check_messages(Config.from_env(env | {"CONSENT_SUPERVISORY_AUTHORITY_URL": "authority.example"}))


def test_the_gpc_statement_date_is_an_rfc_3339_date_checked_at_start():
    import pytest

    from consent_service.config_checks import check_gpc
    from consent_service.errors import ConfigurationError

    assert Config.from_env({}).gpc_last_update == "2026-12-02"
    for good in ("2025-04-15", "2025-04-15T09:30:00Z", "2025-04-15T09:30:00.250+02:00", " 2025-04-15 "):
        config = Config.from_env({"CONSENT_GPC_LAST_UPDATE": good})
        check_gpc(config)
        assert config.gpc_last_update == good.strip()
    for bad in ("", "15.04.2025", "2025-02-30", "2025-04-15T09:30", "2025-04-15 09:30:00Z", "yesterday"):
        with pytest.raises(ConfigurationError, match="CONSENT_GPC_LAST_UPDATE"):
            check_gpc(Config.from_env({"CONSENT_GPC_LAST_UPDATE": bad}))


def test_the_log_origin_is_checked_at_start_as_a_note_key_name():
    import pytest

    from consent_service.config_checks import check, check_log_origin
    from consent_service.errors import ConfigurationError

    for good in ("", "example.com/consent-ledger", "log.example:8443/ledger"):
        check_log_origin(Config.from_env({"CONSENT_LOG_ORIGIN": good}))
    for bad in ("example.com/consent ledger", "a+b", "tab\there"):
        with pytest.raises(ConfigurationError, match="CONSENT_LOG_ORIGIN"):
            check_log_origin(Config.from_env({"CONSENT_LOG_ORIGIN": bad}))
    with pytest.raises(ConfigurationError, match="CONSENT_LOG_ORIGIN"):
        check(Config.from_env({"CONSENT_LOG_ORIGIN": "a+b"}))  # among the checks run at start


def test_the_tree_s_witnesses_and_their_quorum_are_read_and_checked_at_start_by_name():
    import pytest
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from consent_service.config_checks import check, check_log_witnesses
    from consent_service.errors import ConfigurationError
    from consent_verify import note

    one = note.cosigner_key("w.example/one", Ed25519PrivateKey.generate().public_key())
    two = note.cosigner_key("w.example/two", Ed25519PrivateKey.generate().public_key())
    value = f"{one}=https://one.example/add-checkpoint,\n {two}=http://two.example:8470/add-checkpoint?x=1"
    config = Config.from_env({"CONSENT_LOG_WITNESSES": value, "CONSENT_LOG_WITNESS_QUORUM": "1"})
    assert config.log_witnesses == (
        (one, "https://one.example/add-checkpoint"),
        (two, "http://two.example:8470/add-checkpoint?x=1"),
    )
    assert config.log_witness_quorum == 1
    check(config)
    assert Config.from_env({}).log_witnesses == () and Config.from_env({}).log_witness_quorum == 0
    for bad in (one, f"{one}=ftp://x.example/", "=https://x.example/"):
        with pytest.raises(ValueError, match="CONSENT_LOG_WITNESSES"):
            Config.from_env({"CONSENT_LOG_WITNESSES": bad})
    with pytest.raises(ValueError, match="CONSENT_LOG_WITNESS_QUORUM: 'two' is not a whole number"):
        Config.from_env({"CONSENT_LOG_WITNESS_QUORUM": "two"})
    signing = note.verifier_key("log.example", Ed25519PrivateKey.generate().public_key())
    refused = {
        f"{signing}=https://x.example/": "a note signing key, not a witness's",
        f"{one[:-2]}AA=https://x.example/": "does not match",
        f"{one}=https://x.example/ {one}=https://y.example/": "listed twice",
    }
    for entries, message in refused.items():
        with pytest.raises(ConfigurationError, match=f"CONSENT_LOG_WITNESSES: .*{message}"):
            check_log_witnesses(Config.from_env({"CONSENT_LOG_WITNESSES": entries}))
    for quorum in ("3", "-1"):
        with pytest.raises(ConfigurationError, match=f"CONSENT_LOG_WITNESS_QUORUM: {quorum} is not between"):
            check_log_witnesses(
                Config.from_env({"CONSENT_LOG_WITNESSES": value, "CONSENT_LOG_WITNESS_QUORUM": quorum})
            )
    with pytest.raises(ConfigurationError, match="CONSENT_LOG_WITNESS_QUORUM"):
        check(Config.from_env({"CONSENT_LOG_WITNESS_QUORUM": "1"}))  # no witness to count, checked at start
