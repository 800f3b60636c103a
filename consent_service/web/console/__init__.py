"""The staff console, mounted at ``/console``: one module per section of the navigation.

``guard`` holds the session rules (who is signed in, idle timeout, CSRF on every POST, the role
check, the navigation); ``auth`` the sign-in pages and the console's own 404/405; ``account`` the
staff member's own account (password, second factor); then the sections: requests (``inbox``,
``requests``, ``request_actions``), subjects (``subjects``, ``proof``), the registry
(``registry*``), stores and retention, records of processing (``records``), the ledger
(``ledger``), statistics (``statistics``), API clients (``clients``) and staff (``staff_pages``).
"""

# ruff: noqa: E402, F401  (the page modules import the blueprint, so they come after it)
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("console", __name__, template_folder="../templates")

# the page modules register their routes on import
from consent_service.web.console import (
    account,
    auth,
    clients,
    guard,
    inbox,
    ledger,
    proof,
    records,
    registry,
    registry_lists,
    registry_purposes,
    request_actions,
    requests,
    retention,
    retention_runs,
    staff_pages,
    statistics,
    stores,
    subjects,
)

guard.install(blueprint)
