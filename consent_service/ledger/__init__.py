"""The append-only consent ledger: events, hash chain, checkpoints, projection and the gate."""
