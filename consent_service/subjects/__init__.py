"""Subjects (opaque ids), their identities (blind-indexed, encrypted) and data keys."""
