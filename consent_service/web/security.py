"""The console's security in one place: session cookie, secret key, headers of every page.

- The session is Flask's signed cookie (``consent_console``, path ``/console``, HttpOnly,
  SameSite=Lax, Secure when ``CONSENT_PUBLIC_URL`` is https). Its key is derived by HKDF from the
  current master key, so every worker of a deployment shares it and no extra secret is needed;
  rotating the master key ends every session.
- Every answer under ``/console`` and ``/privacy/`` carries the Content-Security-Policy below (no inline script, no
  other origin), ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and
  ``X-Content-Type-Options: nosniff``; pages are ``Cache-Control: no-store`` (the hashed assets
  set their own long cache).
- CSRF: every form is a Flask-WTF ``FlaskForm``; the console checks the token of every POST
  before the view runs (``console.guard``) and answers a page saying so with 400.
- The public pages under ``/privacy`` have a session of their own (``consent_privacy``, path
  ``/privacy``, same flags and key): it holds only their forms' CSRF token (the portal's and the
  preference centre's), so a member of the public never carries the console's cookie and a
  staff session is never sent to the portal. Who signed in to the preference centre is its own
  narrower cookie (``web.preferences``).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf

from consent_service.crypto.derivation import derive

SESSION_INFO = b"consent-service console session"
PREFIX = "/console"
PUBLIC_PREFIX = "/privacy/"  # the public pages (double opt-in) carry the same headers
PUBLIC_COOKIE = "consent_privacy"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _headers(response: Response) -> Response:
    if not request.path.startswith((PREFIX, PUBLIC_PREFIX)):
        return response
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    if "Cache-Control" not in headers or not request.path.startswith(f"{PREFIX}/static/"):
        headers["Cache-Control"] = "no-store"
    return response


def _public() -> bool:
    return request.path == PUBLIC_PREFIX.rstrip("/") or request.path.startswith(PUBLIC_PREFIX)


class _Sessions(SecureCookieSessionInterface):
    """The console's session under ``/console``; the public pages' own under ``/privacy``."""

    def get_cookie_name(self, app: Flask) -> str:
        return PUBLIC_COOKIE if _public() else super().get_cookie_name(app)

    def get_cookie_path(self, app: Flask) -> str:
        return PUBLIC_PREFIX.rstrip("/") if _public() else super().get_cookie_path(app)


def install(app: Flask) -> None:
    context = app.extensions["consent"]
    material = context.crypto.material
    app.secret_key = derive(material.keks[material.current_kek], SESSION_INFO)
    app.config.update(
        SESSION_COOKIE_NAME="consent_console",
        SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=context.config.public_url.lower().startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (idle timeout)
    )
    app.session_interface = _Sessions()
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.after_request(_headers)
