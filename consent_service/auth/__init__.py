"""API clients, their hashed tokens and scopes."""
