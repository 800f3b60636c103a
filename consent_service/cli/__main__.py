"""``python -m consent_service.cli``: the same command as ``consent-service``."""

from consent_service.cli import main

main()
