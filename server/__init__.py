"""PainScope: pain assessment from a face, in the browser.

Imports are inside :func:`create_app` so that ``python -m server`` can
monkey-patch with eventlet before anything else loads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    from server.web.routes.live import LiveNamespace
    from server.assess.offload import eventlet_active
    from server.services import Services
    from server.web.routes.api import api, health
    from server.web.security.auth import init_auth
    from server.web.routes.body_api import body_api
    from server.web.routes.compat_api import compat
    from server.web.routes.ecg_api import ecg_api
    from server.web.requests.errors import register_error_handlers
    from server.web.security.fair_share import init_fair_share
    from server.web.routes.history_pages import history_pages
    from server.web.security.https import init_https
    from server.web.routes.job_events import JobsNamespace
    from server.web.routes.jobs_api import jobs_api
    from server.web.requests.language import init_language
    from server.web.routes.metrics import init_metrics
    from server.web.routes.openapi import docs
    from server.web.routes.pages import pages
    from server.web.security.rate_limits import init_rate_limits
    from server.web.routes.records_api import records_api
    from server.web.routes.rppg_api import rppg_api
    from server.web.routes.scales_api import scales_api
    from server.web.security.safe_json import BoundedJSONProvider, SocketJSON
    from server.web.security.socket_guard import guard_client_events
    from server.web.requests.uploads import allow_video_requests
    from server.web.routes.users_api import users_api
    from server.web.security.websocket_mask import install as install_fast_websocket_unmask

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
    app.json = BoundedJSONProvider(app)  # request bodies: bounded nesting, finite numbers only
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
    app.register_blueprint(scales_api)
    app.register_blueprint(jobs_api)
    app.register_blueprint(history_pages)
    app.register_blueprint(health)
    app.register_blueprint(docs)  # /openapi.json and /docs (Swagger UI)
    app.register_blueprint(compat)  # seed-compatible routes (/upload-video, /create-session, ...)
    register_error_handlers(app)
    allow_video_requests(app)  # before the login check, which may read (and so size) the body
    app.wsgi_app = _chunked_input(app.wsgi_app, settings.max_upload_bytes)
    if settings.trusted_proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    init_rate_limits(app)  # before the login check, so a flood of bad tokens is limited by address too
    init_auth(app)
    init_https(app, settings)  # after init_auth: TLS overrides its cookie settings
    init_language(app)  # the catalogs; the request's language (the account's, else the browser's)
    init_fair_share(app)  # after the login check: it counts per account
    init_metrics(app)
    if eventlet_active():
        install_fast_websocket_unmask()  # frames from browsers are unmasked in C, not byte by byte on the loop
    socketio = SocketIO(
        app,
        async_mode="eventlet" if eventlet_active() else "threading",
        message_queue=settings.message_queue or None,
        max_http_buffer_size=settings.max_image_bytes,
        json=SocketJSON,  # packets nested too deeply are answered json_too_deep, not dropped unanswered
    )
    guard_client_events(socketio.server)  # empty events and `connect`/`disconnect` from a client: answered
    live = LiveNamespace(services)
    socketio.on_namespace(live)
    socketio.start_background_task(live.sweep_revoked)  # closes the idle sockets of revoked credentials
    socketio.on_namespace(JobsNamespace(services))  # the page's jobs, pushed as they change
    return app


def _chunked_input(wsgi_app: Any, max_bytes: int) -> Any:
    """Let Werkzeug read a chunked request body (no Content-Length), and refuse one over ``max_bytes`` with 413.

    eventlet's WSGI server decodes chunked bodies and ends the input stream at the
    last chunk, but does not say so with ``wsgi.input_terminated``; without it
    Werkzeug reads such a body as empty. With it, Werkzeug stops reading at
    ``MAX_CONTENT_LENGTH`` but quietly: a JSON body cut there was answered 400
    ``invalid_json`` (issue 25). :class:`_CappedInput` says 413 instead.
    """

    def app(environ: dict, start_response: Any) -> Any:
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            environ["wsgi.input_terminated"] = True
            environ["wsgi.input"] = _CappedInput(environ["wsgi.input"], max_bytes, environ)
        return wsgi_app(environ, start_response)

    return app


class _CappedInput:
    """A request body stream that raises 413 (RequestEntityTooLarge) once it has more than ``max_bytes``.

    Werkzeug never asks for more than its limit, so on reaching it one byte more is looked for: a body
    of exactly ``max_bytes`` passes, a longer one is refused, and nothing past that byte is read.
    """

    def __init__(self, stream: Any, max_bytes: int, environ: dict | None = None) -> None:
        self._stream = stream
        self._default_max = max_bytes
        self._environ = environ if environ is not None else {}
        self._read = 0

    @property
    def _max(self) -> int:
        # a video endpoint raises its request's limit before the body is read (web/requests/uploads.allow_video_requests)
        from server.web.requests.uploads import BODY_LIMIT_KEY

        return int(self._environ.get(BODY_LIMIT_KEY, self._default_max))

    def read(self, size: int | None = -1) -> bytes:
        left = self._max - self._read
        want = left if size is None or size < 0 else min(size, left)
        data = self._stream.read(want) if want > 0 else b""
        self._read += len(data)
        if self._read >= self._max and self._stream.read(1):
            from werkzeug.exceptions import RequestEntityTooLarge

            raise RequestEntityTooLarge()
        return data

    def readline(self, size: int | None = -1) -> bytes:
        left = self._max - self._read
        data = self._stream.readline(left if size is None or size < 0 else min(size, left))
        self._read += len(data)
        if self._read >= self._max and self._stream.read(1):
            from werkzeug.exceptions import RequestEntityTooLarge

            raise RequestEntityTooLarge()
        return data


def socketio_of(app: "Flask") -> "SocketIO":
    """The app's SocketIO object."""
    return app.extensions["socketio"]
