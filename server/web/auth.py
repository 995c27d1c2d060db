"""Who may see anything: login and logout, API tokens, CSRF, security headers, login throttling.

Every page, every API call and every Socket.IO connection needs a logged-in
user (session cookie) or an API token (``Authorization: Bearer ps_...``);
only ``GET /health``, the login page and the static files are open. A stranger
gets 401 JSON from the API (and from ``/metrics``) and a redirect to the login page from pages.

CSRF: a form or a cookie-authenticated API call that changes something must
carry the session's CSRF token (the page sends it as ``X-CSRFToken``); a
Bearer-token call carries no cookie, so it cannot be forged by another site
and needs none.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf

from server.store.accounts import Account, account_by_id, account_for_token, authenticate
from server.web.errors import error_response

auth = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

PUBLIC_ENDPOINTS = frozenset({"health.get_health", "auth.login", "static"})
# Outside /api/ but for machines (a Prometheus scraper cannot follow a login page): 401, never a redirect.
MACHINE_ENDPOINTS = frozenset({"metrics.get_metrics", "docs.openapi_json"})
# The seed-compatible routes (/upload-video, /create-session, ...) serve apps, never a browser: 401 too.
MACHINE_BLUEPRINTS = frozenset({"compat"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BEARER = "bearer "
# No inline script or style, nothing from elsewhere: scripts, styles, fonts and
# connections from this origin only; images also from data:/blob: URLs (overlays,
# charts); the camera preview is a MediaStream, which needs no source. Nobody may
# frame the page (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SessionUser(UserMixin):
    """Flask-Login's view of an :class:`Account`."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.id = account.id
        self.name = account.name
        self.is_admin = account.is_admin


class LoginThrottle:
    """At most ``max_failures`` failed logins per client address within ``window_s`` seconds."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float | None:
        """Seconds until this client may try again, or None when it may now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.max_failures:
                return None
            return max(1.0, recent[0] + self.window_s - time.monotonic())

    def failed(self, client: str) -> None:
        """Count a failed attempt."""
        with self._lock:
            self._recent(client).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        """Forget the client's failures."""
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] < time.monotonic() - self.window_s:
            recent.popleft()
        return recent


def init_auth(app: Flask) -> None:
    """Wire login, tokens, CSRF, the access rule and the security headers into ``app``."""
    services = app.extensions["painscope"]
    settings = services.settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _require_login, where the kind of login is known
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session: a page left open for hours must still save
    )
    app.extensions["login_throttle"] = LoginThrottle(settings.login_max_failures, settings.login_failure_window_s)
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_user_from_token)
    csrf.init_app(app)
    app.before_request(_require_login)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_blueprint(auth)


def _db() -> Any:
    return current_app.extensions["painscope"].db


def _load_user(user_id: str) -> SessionUser | None:
    try:
        account = account_by_id(_db(), int(user_id))
    except ValueError:
        return None
    return SessionUser(account) if account is not None else None


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    if header and header.lower().startswith(BEARER):
        return header[len(BEARER):].strip() or None
    return None


def _load_user_from_token(req: Any) -> SessionUser | None:
    token = bearer_token(req.headers.get("Authorization"))
    if token is None:
        return None
    account = account_for_token(_db(), token)
    if account is None:
        return None
    g.auth_via = "token"
    return SessionUser(account)


def account_from_socket_auth(auth_data: Any) -> Account | None:
    """The account of a Socket.IO connection: the session's user, or a token in ``auth={"token": ...}``."""
    if current_user.is_authenticated:
        return current_user.account
    if isinstance(auth_data, dict) and isinstance(auth_data.get("token"), str):
        return account_for_token(_db(), auth_data["token"])
    return None


def wants_json() -> bool:
    """API paths answer JSON; pages answer HTML (a redirect to login)."""
    return (
        request.path.startswith("/api/")
        or request.endpoint in MACHINE_ENDPOINTS
        or request.blueprint in MACHINE_BLUEPRINTS
        or request.accept_mimetypes.best == "application/json"
    )


def _require_login() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if wants_json():
            response = error_response(
                "unauthorized", "Log in first, or send an API token as 'Authorization: Bearer <token>'.", 401
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="PainScope"'
            return response
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if request.method not in SAFE_METHODS and g.get("auth_via") != "token":
        csrf.protect()
    return None


def _security_headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")  # health data stays out of shared caches
    return response


def _csrf_error(error: CSRFError) -> Any:
    return error_response("csrf_failed", f"{error.description} Reload the page and try again.", 400)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) may follow a login."""
    if not target:
        return url_for("pages.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


def _client() -> str:
    return request.remote_addr or "unknown"


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; a good name and password start a session."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", next=request.args.get("next", ""), error=None)
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    next_page = request.form.get("next", "")
    wait = throttle.retry_after(_client())
    if wait is not None:
        message = f"Too many failed logins from here. Try again in {wait:.0f} s."
        response = current_app.make_response((render_template("login.html", next=next_page, error=message), 429))
        response.headers["Retry-After"] = str(int(wait + 0.999))
        return response
    try:
        validate_csrf(request.form.get("csrf_token"))
    except Exception:  # flask_wtf raises ValidationError for a missing, stale or forged token
        message = "The form has expired. Please log in again."
        return render_template("login.html", next=next_page, error=message), 400
    # scrypt takes ~0.1-0.2 s of CPU: off the event loop, so live streams keep flowing meanwhile
    # (on an OS thread, hence the pool-less twin of the database; see Database.unpooled).
    services = current_app.extensions["painscope"]
    account = services.offloader.run(
        authenticate, services.db.unpooled(), request.form.get("name", ""), request.form.get("password", "")
    )
    if account is None:
        throttle.failed(_client())
        return render_template("login.html", next=next_page, error="Wrong name or password."), 401
    throttle.succeeded(_client())
    login_user(SessionUser(account))
    return redirect(_safe_next(next_page))


@auth.post("/logout")
def logout() -> Any:
    """End the session (a POST with the CSRF token, so no other site can log a user out)."""
    logout_user()
    return redirect(url_for("auth.login"))
