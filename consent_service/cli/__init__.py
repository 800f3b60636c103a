"""The ``consent-service`` command: one module per command group.

``base`` defines the root group ``main`` and what the groups share; importing each group's module
below registers its commands on ``main``. The entry point is ``consent_service.cli:main``.

| module | commands |
| --- | --- |
| ``db`` | ``db upgrade``, ``db current`` |
| ``keys`` | ``keys init/rotate/retire/reindex/status/adopt-backup`` |
| ``clients``, ``sites`` | API clients; websites with banners |
| ``scan`` | ``sites scan`` (the cookie scanner) |
| ``demo`` | ``demo`` |
| ``imports`` | ``import consents`` (records from other consent platforms) |
| ``ledger`` | ``ledger verify/export/rebuild-state/checkpoint/public-key/check-checkpoint`` |
| ``requests`` | ``requests …``, ``outbox …``, ``deadlines`` |
| ``recipients`` | ``recipients status/deliver`` (consent webhooks) |
| ``stats`` | ``stats rebuild`` (the consent counts, from the ledger) |
| ``stores`` | ``stores load/list/test`` |
| ``retention`` | ``retention run/preview/runs/show/verify-log`` |
| ``serve`` | ``serve``, ``worker`` (processes: ``supervisor``) |
| ``users`` | ``users create/list/disable/reset-password`` (console staff) |

``progress`` draws the progress of long commands on stderr."""

from __future__ import annotations

from consent_service.cli import (  # noqa: F401  (importing a group registers its commands)
    clients,
    db,
    demo,
    imports,
    keys,
    ledger,
    optin,
    recipients,
    requests,
    retention,
    scan,
    serve,
    sites,
    stats,
    stores,
    users,
)
from consent_service.cli.base import Group, _config, _context, _fail, main

__all__ = ["Group", "_config", "_context", "_fail", "main"]
