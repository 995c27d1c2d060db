"""PainScope: pain assessment from a face, in the browser.

Imports are inside :func:`create_app` so that ``python -m server`` can
monkey-patch with eventlet before anything else loads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from server.version import __version__  # noqa: F401  (re-exported: server.__version__ still works)

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    from server.config import Settings


def create_app(settings: "Settings | None" = None) -> "Flask":
    """Build the Flask app with its blueprints, error handlers and the /live Socket.IO namespace.

    The SocketIO object is ``app.extensions["socketio"]``; the shared services
    are ``app.extensions["painscope"]``.
    """
    import os

    from flask import Flask
    from flask_socketio import SocketIO

    from server.config import Settings, secret_key
    from server.web.live import LiveNamespace
    from server.assess.offload import eventlet_active
    from server.services import Services
    from server.web.api import api, health
    from server.web.auth import init_auth
    from server.web.body_api import body_api
    from server.web.compat_api import compat
    from server.web.ecg_api import ecg_api
    from server.web.errors import register_error_handlers
    from server.web.history_pages import history_pages
    from server.web.metrics import init_metrics
    from server.web.openapi import docs
    from server.web.pages import pages
    from server.web.records_api import records_api
    from server.web.rppg_api import rppg_api
    from server.web.users_api import users_api

    settings = settings or Settings.from_env()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        template_folder=os.path.join(root, "templates"),
        static_folder=os.path.join(root, "static"),
        instance_path=os.path.abspath(settings.instance_dir),
    )
    app.config.update(
        SECRET_KEY=secret_key(settings),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
    )
    app.json.sort_keys = False  # keep the schema's field order
    services = Services.build(settings)
    app.extensions["painscope"] = services
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(rppg_api)
    app.register_blueprint(ecg_api)
    app.register_blueprint(body_api)
    app.register_blueprint(users_api)
    app.register_blueprint(records_api)
    app.register_blueprint(history_pages)
    app.register_blueprint(health)
    app.register_blueprint(docs)  # /openapi.json and /docs (Swagger UI)
    app.register_blueprint(compat)  # seed-compatible routes (/upload-video, /create-session, ...)
    register_error_handlers(app)
    init_auth(app)
    init_metrics(app)
    socketio = SocketIO(
        app,
        async_mode="eventlet" if eventlet_active() else "threading",
        message_queue=settings.message_queue or None,
        max_http_buffer_size=settings.max_image_bytes,
    )
    socketio.on_namespace(LiveNamespace(services))
    return app


def socketio_of(app: "Flask") -> "SocketIO":
    """The app's SocketIO object."""
    return app.extensions["socketio"]
