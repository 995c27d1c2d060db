"""WSGI entry point: ``gunicorn -k eventlet -w 1 wsgi:app`` (one worker per process; see README)."""
import eventlet

eventlet.monkey_patch()

from server import create_app  # noqa: E402

app = create_app()
