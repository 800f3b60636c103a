"""consent_service: consent ledger, processing gate and data subject requests.

``create_app(config)`` builds the Flask app; importing this package connects to nothing.
"""

from __future__ import annotations

from flask import Flask

from consent_service.config import Config
from consent_service.context import Context
from consent_service.wiring import bootstrap

__version__ = "0.1.0"


def create_app(config: Config | None = None, *, context: Context | None = None) -> Flask:
    """The WSGI app for ``config`` (default: from ``CONSENT_*`` environment variables)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from consent_service import jobs, logs
    from consent_service.api import init_api, request_ids
    from consent_service.dsar.retries import QUEUE
    from consent_service.web import init_web

    if context is None:
        context = bootstrap(config or Config.from_env())
    config = context.config
    logs.configure(config.log_level)  # JSON lines, nothing personal (see consent_service.logs)
    app = Flask("consent_service")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.config["TESTING"] = config.testing
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["consent"] = context
    if config.trusted_proxies:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    context.caches.setdefault(QUEUE, jobs.enqueue_request)  # POST /v1/requests/<id>/retry queues
    if not config.testing:
        # Verified requests are queued for execution; tests start runs explicitly instead, so
        # that no background run races their assertions.
        jobs.install(context)
    request_ids.install(app)
    init_api(app)
    init_web(app)
    return app
