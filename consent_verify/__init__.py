"""consent_verify: checks what the consent service's transparency log hands out, offline.

It needs Python's standard library and ``cryptography`` (for Ed25519), nothing of the service:
no database, no network, no configuration. The service itself builds its Merkle tree
(``merkle``), its checkpoints and signed notes (``note``) and its canonical JSON
(``canonical``) with these same modules, so that what the log writes and what a verifier
checks are one implementation.
"""
