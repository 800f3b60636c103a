"""The configuration's checks, run once at start (``wiring.bootstrap``): each bad setting stops the
service with a ``ConfigurationError`` that names its variable.

They use only the lowest layer (durations, calendars, the outbound and rate-limit settings, and
``consent_verify`` for the witnesses' keys), so that the wiring imports no feature to check its
settings.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from consent_service.calendars import CalendarError, calendar
from consent_service.config import SUPPORTED_LANGUAGES, Config
from consent_service.durations import DurationError, parse_duration
from consent_service.errors import ConfigurationError
from consent_service.outbound import parse_networks
from consent_service.ratelimit import check_config as check_ratelimit_storage
from consent_verify import note as tlog

# settings that are ISO 8601 durations, and their variables
DURATIONS = {
    "proof_retention": "CONSENT_PROOF_RETENTION",
    "request_contact_retention": "CONSENT_REQUEST_CONTACT_RETENTION",
    "outbox_retention": "CONSENT_OUTBOX_RETENTION",
    "repeat_window": "CONSENT_REPEAT_WINDOW",
    "optin_link_validity": "CONSENT_OPTIN_LINK_VALIDITY",
    "optin_retention": "CONSENT_OPTIN_RETENTION",
    "optin_resend_interval": "CONSENT_OPTIN_RESEND_INTERVAL",
}


def check(config: Config) -> None:
    """Every check below; the first bad setting raises."""
    check_durations(config)
    check_network_settings(config)
    check_calendar(config)
    check_messages(config)
    check_gpc(config)
    check_webhook_batch(config)
    check_stats(config)
    check_log_origin(config)
    check_log_witnesses(config)


def check_log_origin(config: Config) -> None:
    """The transparency log's origin is also its key's name in signed notes: it cannot hold a
    space, a '+' or a control character (c2sp.org/signed-note)."""
    if config.log_origin and not tlog.valid_key_name(config.log_origin):
        raise ConfigurationError(
            f"CONSENT_LOG_ORIGIN: {config.log_origin!r} holds a space, a '+' or a control character; "
            "use a name such as example.com/consent-ledger"
        )


def check_log_witnesses(config: Config) -> None:
    """A CONSENT_LOG_WITNESSES entry whose key is not a witness's cosignature/v1 verifier key,
    two entries of one witness name, or a quorum that no set of them can reach."""
    names: set[str] = set()
    for vkey, _url in config.log_witnesses:
        try:
            verifier = tlog.parse_verifier_key(vkey)
        except ValueError as exc:
            raise ConfigurationError(f"CONSENT_LOG_WITNESSES: {vkey!r}: {exc}") from None
        if verifier.kind != tlog.COSIGNATURE_V1:
            raise ConfigurationError(
                f"CONSENT_LOG_WITNESSES: {vkey!r} is a note signing key, not a witness's cosignature/v1 "
                "key (consent-service-witness keygen prints one)"
            )
        if verifier.name in names:
            raise ConfigurationError(f"CONSENT_LOG_WITNESSES: the witness {verifier.name!r} is listed twice")
        names.add(verifier.name)
    n, k = len(config.log_witnesses), config.log_witness_quorum
    if not 0 <= k <= n:
        raise ConfigurationError(
            f"CONSENT_LOG_WITNESS_QUORUM: {k} is not between 1 and the {n} witness(es) of "
            "CONSENT_LOG_WITNESSES (empty or 0 = all of them)"
        )


def check_stats(config: Config) -> None:
    """A minimum of subjects per statistics cell below 1 would hide nothing."""
    if config.stats_min_subjects < 1:
        raise ConfigurationError(
            f"CONSENT_STATS_MIN_SUBJECTS: {config.stats_min_subjects} is below 1 (the default is 10)"
        )


def check_webhook_batch(config: Config) -> None:
    """A consent webhook batch that is empty or too large to send in one request."""
    if not 1 <= config.webhook_batch <= 1000:
        raise ConfigurationError(f"CONSENT_WEBHOOK_BATCH: {config.webhook_batch} is not between 1 and 1000")


def check_durations(config: Config) -> None:
    """A retention period or window that is not an ISO 8601 duration."""
    for name, variable in DURATIONS.items():
        try:
            parse_duration(getattr(config, name))
        except DurationError as exc:
            raise ConfigurationError(f"{variable}: {exc}") from None


def check_network_settings(config: Config) -> None:
    """The outbound allow-list is not a CIDR list, or the rate-limit storage URL is not
    memory:// or redis://."""
    try:
        parse_networks(config.outbound_allow_networks)
        check_ratelimit_storage(config)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def check_calendar(config: Config) -> None:
    """CONSENT_HOLIDAYS or CONSENT_TIMEZONE with which deadlines cannot be counted."""
    try:
        calendar(config.holidays, "UTC")
    except CalendarError as exc:
        raise ConfigurationError(f"CONSENT_HOLIDAYS: {exc}") from None
    try:
        calendar("none", config.timezone)
    except CalendarError as exc:
        raise ConfigurationError(f"CONSENT_TIMEZONE: {exc}") from None


def _absolute_http(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ConfigurationError(f"{name}: {value!r} is not an absolute http:// or https:// URL")


def check_messages(config: Config) -> None:
    """What the person is told cannot be written: an unsupported default language, or a
    supervisory authority or public URL that is not an absolute http(s) URL."""
    if config.default_language not in SUPPORTED_LANGUAGES:
        raise ConfigurationError(
            f"CONSENT_DEFAULT_LANGUAGE: {config.default_language!r} is not one of "
            f"{', '.join(SUPPORTED_LANGUAGES)}"
        )
    if config.supervisory_authority_url:
        _absolute_http("CONSENT_SUPERVISORY_AUTHORITY_URL", config.supervisory_authority_url)
    _absolute_http("CONSENT_PUBLIC_URL", config.public_url)


_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE)


def check_gpc(config: Config) -> None:
    """CONSENT_GPC_LAST_UPDATE is not what the GPC specification (§ 4.1) requires of
    ``lastUpdate``: an RFC 3339 full-date (2026-12-02) or date-time (2026-12-02T09:30:00Z)."""
    value = config.gpc_last_update
    try:
        if _FULL_DATE.fullmatch(value):
            dt.date.fromisoformat(value)
            return
        if _DATE_TIME.fullmatch(value):
            dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            return
    except ValueError:
        pass
    raise ConfigurationError(
        f"CONSENT_GPC_LAST_UPDATE: {value!r} is not an RFC 3339 date (2026-12-02) or date-time "
        "(2026-12-02T09:30:00Z)"
    )
