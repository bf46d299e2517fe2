"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from ferry import create_app

app = create_app()
