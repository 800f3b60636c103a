"""Tamper-evident audit logs beside the consent ledger (vault access, and later request
transitions and retention runs): hash-chained, append-only entries per named log."""
