"""``python -m consent_verify``: the same as ``consent-service-verify``."""

import sys

from consent_verify.cli import main

sys.exit(main())
