"""Imports every table so that ``Base.metadata`` is complete (Alembic, tests)."""

from consent_service.auditlog.models import AuditEntry, AuditHead
from consent_service.auth.models import ApiClient
from consent_service.db import Base
from consent_service.dsar.execution_models import DsarPackage, DsarReport, DsarStoreRun
from consent_service.dsar.portal_models import PortalChallenge
from consent_service.dsar.request_models import DsarRequest, DsarVerification, OutboxMessage
from consent_service.dsar.task_models import ConsentCursor, DsarTask, Recipient
from consent_service.erasure.models import LegalHold
from consent_service.imports.models import ImportRow
from consent_service.ledger.models import (
    Checkpoint,
    ConsentState,
    LedgerEvent,
    LedgerHead,
    LedgerVerification,
    ProofKey,
    SubjectRestriction,
    Witness,
)
from consent_service.optin.models import OptinLink
from consent_service.preferences.models import SigninLink
from consent_service.registry.models import Cookie, Purpose, PurposeVersion, Site
from consent_service.retention.models import RetentionRule, RetentionRuleVersion, RetentionRun
from consent_service.staff.models import StaffUser
from consent_service.stores.models import DataStore
from consent_service.subjects.models import Identity, Subject, SubjectKey

metadata = Base.metadata

__all__ = [
    "ImportRow",
    "ApiClient",
    "AuditEntry",
    "AuditHead",
    "Checkpoint",
    "ConsentCursor",
    "ConsentState",
    "Cookie",
    "DataStore",
    "DsarPackage",
    "DsarReport",
    "DsarRequest",
    "DsarStoreRun",
    "DsarTask",
    "DsarVerification",
    "Identity",
    "LedgerEvent",
    "LedgerHead",
    "LedgerVerification",
    "LegalHold",
    "OptinLink",
    "SigninLink",
    "OutboxMessage",
    "PortalChallenge",
    "ProofKey",
    "Purpose",
    "Recipient",
    "PurposeVersion",
    "RetentionRule",
    "RetentionRuleVersion",
    "RetentionRun",
    "Site",
    "Subject",
    "StaffUser",
    "SubjectRestriction",
    "SubjectKey",
    "Witness",
    "metadata",
]
