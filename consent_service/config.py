"""Service configuration, read once from ``CONSENT_*`` environment variables.

Every setting has an embedded default so that the service runs with a SQLite file and a local
key file and nothing else. README.md lists every variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

# the privacy portal's whole-number settings, each read from CONSENT_<NAME> (see the fields below)
PORTAL_NUMBERS = (
    "portal_request_limit",
    "portal_plain_request_limit",
    "portal_email_limit",
    "portal_code_limit",
    "portal_request_hourly_limit",
    "portal_request_daily_limit",
    "portal_plain_request_hourly_limit",
    "portal_plain_request_daily_limit",
    "portal_email_hourly_limit",
    "portal_email_daily_limit",
    "portal_code_hourly_limit",
    "portal_code_daily_limit",
    "portal_resend_limit",
    "portal_challenge_max_number",
    "portal_status_days",
)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _http_urls(name: str, value: str) -> tuple[str, ...]:
    """A comma-separated list of http(s) URLs; anything else is refused when the setting is read."""
    urls = tuple(u.strip() for u in value.split(",") if u.strip())
    for url in urls:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{name}: {url!r} is not an http:// or https:// URL")
    return urls


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not a whole number") from None


def _log_witnesses(name: str, value: str) -> tuple[tuple[str, str], ...]:
    """Space- or comma-separated ``<cosigner verifier key>=<http(s) URL>`` entries; the URL
    starts at the first ``=http://`` or ``=https://`` (a verifier key holds no ``=``). Whether
    each key is a witness's key is checked at start (``config_checks``)."""
    entries = []
    for entry in value.replace(",", " ").split():
        vkey, sep, url = entry.partition("=")
        if not sep or not vkey or not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{name}: {entry!r} is not <witness verifier key>=<http:// or https:// URL>")
        entries.append((vkey, url))
    return tuple(entries)


# the languages the service speaks to people (messages, reports; later the pages)
SUPPORTED_LANGUAGES = ("de", "en")
# how dates are written in each: 3. März 2026, and 3 March 2026 (European, not US, English)
DATE_LOCALES = {"de": "de_DE", "en": "en_GB"}


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("var")
    database_url: str = ""
    key_file: Path | None = None
    master_keys: str = ""  # JSON keyring in an environment variable instead of a file
    controller_name: str = "Example Controller GmbH"
    controller_contact: str = "privacy@example.org"
    controller_address: str = ""
    dpo_name: str = ""  # data protection officer, named in the records of processing (Art. 30)
    dpo_contact: str = ""
    data_subject_categories: str = "website visitors,customers"  # comma-separated, for Art. 30(1)(c)
    third_country_transfers: str = "none"  # Art. 30(1)(e), in words
    security_measures: str = (  # Art. 30(1)(g), in words
        "Identities, consent proofs, vault tokens and access packages are encrypted with "
        "AES-256-GCM under per-subject data keys, which are wrapped by versioned master keys; "
        "destroying a subject's data key makes all of them unreadable (crypto-shredding). "
        "Identities are found through HMAC-SHA-256 blind indexes and never stored in plaintext. "
        "Consent events are kept in a hash-chained, append-only ledger (database triggers refuse "
        "updates and deletes) with Ed25519-signed checkpoints; audit logs are hash-chained and "
        "append-only. Data store connections and recipient secrets are stored encrypted. API "
        "clients use scoped bearer tokens, stored only as SHA-256 hashes."
    )
    policy_url: str = "https://example.org/privacy"
    public_rate_limit: int = 60  # requests per client IP and minute (see ratelimit_storage_url)
    trusted_proxies: int = 0
    max_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = 2 * 1024 * 1024
    max_import_bytes: int = 20 * 1024 * 1024  # POST /v1/imports; larger files: the CLI
    log_level: str = "INFO"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "privacy@example.org"
    smtp_starttls: bool = False
    verification_code_minutes: int = 30
    verification_max_attempts: int = 5
    package_retention_days: int = 30  # how long an access package can be downloaded
    proof_retention: str = "P3Y"  # ISO 8601: ledger proofs kept this long after the consent ended
    request_contact_retention: str = "P1Y"  # requester contact data kept after a request closed
    outbox_retention: str = "P30D"  # sent and dead outbox messages kept this long
    optin_link_validity: str = "P7D"  # ISO 8601: a double opt-in confirmation link works this long
    optin_retention: str = "P30D"  # unconfirmed double opt-in links are deleted after this
    optin_resend_interval: str = "PT10M"  # at most one new confirmation e-mail per address this often
    retention_interval: str = "P1D"  # how often the worker runs the sweeper (ISO 8601); "off" = never
    broker_url: str = ""  # task queue: empty = embedded in-process queue, redis://… or amqp://…
    broker_queue: str = "consent"  # queue name, so several deployments can share one broker
    checkpoint_events: int = 1000  # sign a ledger checkpoint after this many new events (0 = never)
    checkpoint_seconds: int = 60  # ... or this long after the last one, if the head moved (0 = never)
    checkpoint_file: Path | None = None  # where signed checkpoints are appended; default in data_dir
    witness_urls: tuple[str, ...] = ()  # http(s) URLs each signed checkpoint is POSTed to
    log_origin: str = ""  # the transparency log's origin line and key name; "" = from CONSENT_PUBLIC_URL
    # witnesses that cosign the tree's checkpoints: (cosigner verifier key, URL of add-checkpoint)
    log_witnesses: tuple[tuple[str, str], ...] = ()
    log_witness_quorum: int = 0  # cosignatures that make a checkpoint witnessed; 0 = all of them
    webhook_batch: int = 100  # consent events per consent webhook (1-1000)
    testing: bool = False
    # non-public networks (CIDR list) that webhooks, HTTP stores and witnesses may call; empty = none
    outbound_allow_networks: str = ""
    ratelimit_storage_url: str = "memory://"  # memory:// = per process; redis://… = shared by all
    auth_failure_limit: int = 10  # failed bearer-token attempts per client IP and minute; 0 = off
    holidays: str = "none"  # public holidays that end no deadline: DE, DE-BY, FR, IE…; none = weekends
    timezone: str = "UTC"  # the controller's time zone, in which deadline days are counted
    # what the person is told (``dsar.messages``): the language when theirs is not supported; the
    # supervisory authority named in refusals (Art. 12(4)) and access packages (Art. 15(1)(f), 77);
    # the base of package links in e-mails
    default_language: str = "en"
    supervisory_authority_name: str = ""
    supervisory_authority_url: str = ""
    public_url: str = "http://127.0.0.1:8000"
    repeat_window: str = "P3M"  # ISO 8601: earlier requests of the same kind within it are repeats
    console_idle_minutes: int = 30  # a console session ends after this long without a request
    console_login_limit: int = 20  # sign-in attempts per client IP and minute; 0 = off
    console_require_2fa: bool = False  # admins must enrol a TOTP second factor before anything else
    # the public privacy portal (/privacy): requests opened per client IP with the proof of work
    # solved, without it (no JavaScript), per e-mail address (new requests and new codes), and
    # codes entered per client IP, each per minute, hour and day; new codes per request and
    # hour; how hard the proof of work is; how long the status page stays open
    portal_request_limit: int = 10
    portal_request_hourly_limit: int = 60
    portal_request_daily_limit: int = 200
    portal_plain_request_limit: int = 2
    portal_plain_request_hourly_limit: int = 10
    portal_plain_request_daily_limit: int = 30
    portal_email_limit: int = 2
    portal_email_hourly_limit: int = 5
    portal_email_daily_limit: int = 10
    portal_code_limit: int = 10
    portal_code_hourly_limit: int = 30
    portal_code_daily_limit: int = 100
    portal_resend_limit: int = 3
    portal_challenge_max_number: int = 50_000
    portal_status_days: int = 30
    # /.well-known/gpc.json's lastUpdate: when the controller stated that it abides by Global
    # Privacy Control (an RFC 3339 date, or date-time); the date the service began to honour it
    gpc_last_update: str = "2026-12-02"
    # statistics show no number for fewer distinct subjects than this, except to the dpo right
    stats_min_subjects: int = 10
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'consent.db').as_posix()}"

    @property
    def effective_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.data_dir / "keyring.json"

    @property
    def effective_checkpoint_file(self) -> Path:
        return (
            self.checkpoint_file if self.checkpoint_file is not None else self.data_dir / "checkpoints.jsonl"
        )

    def with_overrides(self, **changes: object) -> Config:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        get = env.get
        config = cls(
            data_dir=Path(get("CONSENT_DATA_DIR", "var")),
            database_url=get("CONSENT_DATABASE_URL", ""),
            key_file=Path(env["CONSENT_KEY_FILE"]) if get("CONSENT_KEY_FILE") else None,
            master_keys=get("CONSENT_MASTER_KEYS", ""),
            controller_name=get("CONSENT_CONTROLLER_NAME", cls.controller_name),
            controller_contact=get("CONSENT_CONTROLLER_CONTACT", cls.controller_contact),
            controller_address=get("CONSENT_CONTROLLER_ADDRESS", ""),
            dpo_name=get("CONSENT_DPO_NAME", ""),
            dpo_contact=get("CONSENT_DPO_CONTACT", ""),
            data_subject_categories=get("CONSENT_DATA_SUBJECT_CATEGORIES", cls.data_subject_categories),
            third_country_transfers=get("CONSENT_THIRD_COUNTRY_TRANSFERS", cls.third_country_transfers),
            security_measures=get("CONSENT_SECURITY_MEASURES", cls.security_measures),
            policy_url=get("CONSENT_POLICY_URL", cls.policy_url),
            public_rate_limit=int(get("CONSENT_PUBLIC_RATE_LIMIT", str(cls.public_rate_limit))),
            trusted_proxies=int(get("CONSENT_TRUSTED_PROXIES", "0")),
            max_body_bytes=int(get("CONSENT_MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_batch_body_bytes=int(get("CONSENT_MAX_BATCH_BODY_BYTES", str(cls.max_batch_body_bytes))),
            max_import_bytes=int(get("CONSENT_MAX_IMPORT_BYTES", str(cls.max_import_bytes))),
            log_level=get("CONSENT_LOG_LEVEL", "INFO"),
            smtp_host=get("CONSENT_SMTP_HOST", ""),
            smtp_port=int(get("CONSENT_SMTP_PORT", "25")),
            smtp_user=get("CONSENT_SMTP_USER", ""),
            smtp_password=get("CONSENT_SMTP_PASSWORD", ""),
            smtp_from=get("CONSENT_SMTP_FROM", cls.smtp_from),
            smtp_starttls=_bool(get("CONSENT_SMTP_STARTTLS", "0")),
            verification_code_minutes=int(get("CONSENT_VERIFICATION_CODE_MINUTES", "30")),
            verification_max_attempts=int(get("CONSENT_VERIFICATION_MAX_ATTEMPTS", "5")),
            package_retention_days=int(get("CONSENT_PACKAGE_RETENTION_DAYS", "30")),
            proof_retention=get("CONSENT_PROOF_RETENTION", cls.proof_retention),
            request_contact_retention=get("CONSENT_REQUEST_CONTACT_RETENTION", cls.request_contact_retention),
            outbox_retention=get("CONSENT_OUTBOX_RETENTION", cls.outbox_retention),
            optin_link_validity=get("CONSENT_OPTIN_LINK_VALIDITY", cls.optin_link_validity),
            optin_retention=get("CONSENT_OPTIN_RETENTION", cls.optin_retention),
            optin_resend_interval=get("CONSENT_OPTIN_RESEND_INTERVAL", cls.optin_resend_interval),
            retention_interval=get("CONSENT_RETENTION_INTERVAL", cls.retention_interval),
            broker_url=get("CONSENT_BROKER_URL", ""),
            broker_queue=get("CONSENT_BROKER_QUEUE", cls.broker_queue),
            testing=_bool(get("CONSENT_TESTING", "0")),
            checkpoint_events=int(get("CONSENT_CHECKPOINT_EVENTS", str(cls.checkpoint_events))),
            checkpoint_seconds=int(get("CONSENT_CHECKPOINT_SECONDS", str(cls.checkpoint_seconds))),
            checkpoint_file=Path(env["CONSENT_CHECKPOINT_FILE"]) if get("CONSENT_CHECKPOINT_FILE") else None,
            witness_urls=_http_urls("CONSENT_WITNESS_URLS", get("CONSENT_WITNESS_URLS", "")),
            log_origin=get("CONSENT_LOG_ORIGIN", "").strip(),
            log_witnesses=_log_witnesses("CONSENT_LOG_WITNESSES", get("CONSENT_LOG_WITNESSES", "")),
            log_witness_quorum=_int(
                "CONSENT_LOG_WITNESS_QUORUM", get("CONSENT_LOG_WITNESS_QUORUM", "") or "0"
            ),
            webhook_batch=int(get("CONSENT_WEBHOOK_BATCH", str(cls.webhook_batch))),
            outbound_allow_networks=get("CONSENT_OUTBOUND_ALLOW_NETWORKS", ""),
            ratelimit_storage_url=get("CONSENT_RATELIMIT_STORAGE_URL", cls.ratelimit_storage_url),
            auth_failure_limit=int(get("CONSENT_AUTH_FAILURE_LIMIT", str(cls.auth_failure_limit))),
            holidays=get("CONSENT_HOLIDAYS", cls.holidays),
            timezone=get("CONSENT_TIMEZONE", cls.timezone),
            default_language=get("CONSENT_DEFAULT_LANGUAGE", cls.default_language),
            supervisory_authority_name=get("CONSENT_SUPERVISORY_AUTHORITY_NAME", ""),
            supervisory_authority_url=get("CONSENT_SUPERVISORY_AUTHORITY_URL", ""),
            public_url=get("CONSENT_PUBLIC_URL", cls.public_url),
            repeat_window=get("CONSENT_REPEAT_WINDOW", cls.repeat_window),
            console_idle_minutes=int(get("CONSENT_CONSOLE_IDLE_MINUTES", str(cls.console_idle_minutes))),
            console_login_limit=int(get("CONSENT_CONSOLE_LOGIN_LIMIT", str(cls.console_login_limit))),
            console_require_2fa=_bool(get("CONSENT_CONSOLE_REQUIRE_2FA", "0")),
            gpc_last_update=get("CONSENT_GPC_LAST_UPDATE", cls.gpc_last_update).strip(),
            stats_min_subjects=int(get("CONSENT_STATS_MIN_SUBJECTS", str(cls.stats_min_subjects))),
        )
        portal = {
            name: int(get(f"CONSENT_{name.upper()}", str(getattr(cls, name)))) for name in PORTAL_NUMBERS
        }
        return config.with_overrides(**portal)
