"""Server-rendered pages: the staff console at ``/console`` (``console/``).

``init_web(app)`` wires the page layer into the app built by ``create_app``: the i18n layer
(``i18n``: Flask-Babel, catalogs compiled from ``translations/`` in memory), the signed session
cookie and the security headers of every page (``security``), the hashed assets of ``static/``
(``assets``), the console blueprint and the public pages (``privacy``: double opt-in;
``portal``: the privacy portal's landing page and data subject requests; ``preferences``: the
preference centre and one-click unsubscribe; ``public``: the site, language and header all the
public pages share). Pages are thin: a FlaskForm (with its CSRF token) is read,
a service function is called, a template is rendered or the browser redirected.
"""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    from consent_service.web import assets, i18n, security
    from consent_service.web.console import blueprint
    from consent_service.web.portal import blueprint as portal
    from consent_service.web.preferences import blueprint as preferences
    from consent_service.web.privacy import blueprint as privacy

    security.install(app)
    i18n.install(app)
    assets.install(app)
    app.register_blueprint(blueprint, url_prefix="/console")
    app.register_blueprint(privacy, url_prefix="/privacy")
    app.register_blueprint(portal, url_prefix="/privacy")
    app.register_blueprint(preferences, url_prefix="/privacy")
