"""The staff console, mounted at ``/console``: sign-in, password, language, the requests inbox.

``guard`` holds the session rules (who is signed in, idle timeout, CSRF on every POST, the role
check); ``auth`` the sign-in pages; ``inbox`` the requests inbox. Sections of the navigation that
are not built yet are not shown.
"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("console", __name__, template_folder="../templates")

from consent_service.web.console import auth, guard, inbox, retention, retention_runs, stores  # noqa: E402,F401  (routes register)

guard.install(blueprint)
