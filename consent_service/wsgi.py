"""WSGI entry point for gunicorn: ``gunicorn consent_service.wsgi:app``."""

from consent_service import create_app

app = create_app()
