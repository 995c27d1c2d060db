"""Who may see anything: login and logout, API tokens, CSRF, security headers, login throttling.

Every page, every API call and every Socket.IO connection needs a logged-in
user (session cookie) or an API token (``Authorization: Bearer ps_...``);
only ``GET /health`` (up or down; its details need a login), the login page and
the static files are open. ``/metrics`` needs an admin, or the scrape token
(``Settings.metrics_token``; ``server/web/security/monitoring.py``). A stranger gets 401
JSON from the API (and from ``/metrics``) and a redirect to the login page from pages.

CSRF: a form or a cookie-authenticated API call that changes something must
carry the session's CSRF token (the page sends it as ``X-CSRFToken``); a
Bearer-token call carries no cookie, so it cannot be forged by another site
and needs none.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf
from redis.exceptions import RedisError

from server.store.accounts import (
    Account,
    account_for_login_session,
    account_for_token,
    authenticate,
    end_login_session,
    start_login_session,
)
from server.web.requests.context import current_services
from server.web.requests.errors import error_response
from server.web.security.monitoring import bearer_token, scrape_token_sent
from server.web.security.shared_throttle import RedisLoginThrottle

auth = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS = frozenset({"health.get_health", "auth.login", "static"})
# The Prometheus metrics: admins, or a monitor with Settings.metrics_token (server/web/security/monitoring.py).
METRICS_ENDPOINT = "metrics.get_metrics"
# Outside /api/ but for machines (a Prometheus scraper cannot follow a login page): 401, never a redirect.
MACHINE_ENDPOINTS = frozenset({"metrics.get_metrics", "docs.openapi_json"})
# The seed-compatible routes (/upload-video, /create-session, ...) serve apps, never a browser: 401 too.
MACHINE_BLUEPRINTS = frozenset({"compat"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The longest `next` a login follows: a page of the app with its query string is far shorter.
MAX_NEXT_LENGTH = 2000
# The key of the login's server-side id in the signed session cookie (see accounts.start_login_session).
SESSION_ID_KEY = "_ps_sid"
# The login form's answer while a cluster's Redis (which counts failed logins) does not answer.
LOGIN_UNAVAILABLE_MESSAGE = (
    "Logging in is not possible right now: the server's shared state (Redis) is not answering. Try again shortly."
)
# One address may fail this many times the per-account allowance, over all names: enough for a ward
# behind one NAT whose nurses mistype, too few to try many accounts from one place.
ADDRESS_FAILURE_FACTOR = 4
# Failure records kept at most; beyond, the stale ones are forgotten (names sprayed by a guesser
# must not grow the process's memory without bound).
MAX_THROTTLE_KEYS = 10_000
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
        self.language = account.language


class LoginThrottle:
    """At most ``max_failures`` failed logins per key within ``window_s`` seconds.

    The login view keys it on (address, account name) and, with a larger allowance, on the address
    alone; so behind a shared address one person's failures never lock out another account.
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str, max_failures: int | None = None) -> float | None:
        """Seconds until this key may try again, or None when it may now (``max_failures``: another allowance)."""
        allowed = self.max_failures if max_failures is None else max_failures
        with self._lock:
            recent = self._recent(client)
            if len(recent) < allowed:
                return None
            return max(1.0, recent[-allowed] + self.window_s - time.monotonic())

    def failed(self, client: str) -> None:
        """Count a failed attempt."""
        with self._lock:
            if client not in self._failures and len(self._failures) >= MAX_THROTTLE_KEYS:
                self._forget_stale()
            self._recent(client).append(time.monotonic())

    def _forget_stale(self) -> None:
        for key in list(self._failures):
            if not self._recent(key):
                del self._failures[key]

    def succeeded(self, client: str) -> None:
        """Forget the client's failures."""
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        recent = self._failures.setdefault(client, deque(maxlen=self.max_failures * ADDRESS_FAILURE_FACTOR))
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
    if settings.redis_url:  # several workers: count failures where all of them see them
        app.extensions["login_throttle"] = RedisLoginThrottle(
            settings.redis_url, settings.login_max_failures, settings.login_failure_window_s, ADDRESS_FAILURE_FACTOR)
    else:
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
    return current_services().db


def _load_user(user_id: str) -> SessionUser | None:
    """The user of the session cookie, if its login has not ended (logout ends it for every copy)."""
    sid = session.get(SESSION_ID_KEY)
    if not isinstance(sid, str):
        return None  # a cookie from before login sessions were kept, or a forged one
    try:
        account = account_for_login_session(_db(), int(user_id), sid)
    except ValueError:
        return None
    return SessionUser(account) if account is not None else None


def _load_user_from_token(req: Any) -> SessionUser | None:
    token = bearer_token(req.headers.get("Authorization"))
    if token is None:
        return None
    account = account_for_token(_db(), token)
    if account is None:
        return None
    g.auth_via = "token"
    return SessionUser(account)


@dataclass(frozen=True)
class SocketCredential:
    """What let a Socket.IO connection in, kept so it can be checked again while the stream runs."""

    account: Account
    kind: str  # "session" (a login cookie) or "token"
    secret: str  # the login's session id or the API token


def socket_credential(auth_data: Any) -> SocketCredential | None:
    """The credential of a Socket.IO connection: the session's login, or a token in ``auth={"token": ...}``
    (or an ``Authorization: Bearer`` header on the handshake)."""
    if current_user.is_authenticated:
        if g.get("auth_via") == "token":
            token = bearer_token(request.headers.get("Authorization")) or ""
            return SocketCredential(current_user.account, "token", token)
        return SocketCredential(current_user.account, "session", session.get(SESSION_ID_KEY, ""))
    if isinstance(auth_data, dict) and isinstance(auth_data.get("token"), str):
        account = account_for_token(_db(), auth_data["token"])
        if account is not None:
            return SocketCredential(account, "token", auth_data["token"])
    return None


def account_from_socket_auth(auth_data: Any) -> Account | None:
    """The account of a Socket.IO connection: the session's user, or a token in ``auth={"token": ...}``."""
    credential = socket_credential(auth_data)
    return credential.account if credential is not None else None


def credential_still_valid(db: Any, credential: SocketCredential) -> bool:
    """Is the token not revoked, or the login not ended (by a logout), for the same account?"""
    if credential.kind == "token":
        account = account_for_token(db, credential.secret)
    else:
        account = account_for_login_session(db, credential.account.id, credential.secret)
    return account is not None and account.id == credential.account.id


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
    if request.endpoint == METRICS_ENDPOINT and scrape_token_sent(current_services().settings.metrics_token):
        return None  # the monitor's own secret, no account behind it
    if not current_user.is_authenticated:
        if wants_json():
            response = error_response(
                "unauthorized", "Log in first, or send an API token as 'Authorization: Bearer <token>'.", 401
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="PainScope"'
            return response
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if request.endpoint == METRICS_ENDPOINT and not current_user.is_admin:
        return error_response("forbidden", "Only an admin, or a monitor with the scrape token "
                              "(PAINSCOPE_METRICS_TOKEN), reads /metrics.", 403)
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
    """Only a path on this site (never another host) may follow a login; anything else goes to the start page.

    A path has no control character (issue 25: a newline in ``next`` reached the Location header, a 500
    after the login had already begun) and no backslash (browsers read ``/\\host`` as ``//host``).
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return url_for("pages.index")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return url_for("pages.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


def _client() -> str:
    """The client's address: the peer's, or (with PAINSCOPE_TRUSTED_PROXIES) what the trusted proxies say
    (werkzeug's ProxyFix rewrites it in server/__init__.py; X-Forwarded-For is never read otherwise)."""
    return request.remote_addr or "unknown"


def _throttle_keys(name: str) -> tuple[str, str]:
    """(address + account name, address): the first has the per-account allowance, the second a larger one."""
    address = _client()
    return f"{address}\n{name.strip().lower()}", address


def _throttled(throttle: LoginThrottle | RedisLoginThrottle, name: str) -> float | None:
    pair, address = _throttle_keys(name)
    waits = [throttle.retry_after(pair), throttle.retry_after(address, throttle.max_failures * ADDRESS_FAILURE_FACTOR)]
    known = [w for w in waits if w is not None]
    return max(known) if known else None


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form; a good name and password start a session."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        next_page = request.args.get("next", "")
        return render_template("login.html", next=next_page if _safe_next(next_page) == next_page else "", error=None)
    next_page = request.form.get("next", "")
    try:
        return _log_in(next_page)
    except RedisError as exc:
        # the cluster's failed-login counts are in Redis: without them no login is let through, and a
        # person at the form gets the form back with the reason, not the API's JSON error
        log.error("login refused, redis error: %s", exc)
        return render_template("login.html", next=next_page, error=LOGIN_UNAVAILABLE_MESSAGE), 503


def _log_in(next_page: str) -> Any:
    """Check the throttle, the CSRF token and the password of a posted login form; start the session."""
    throttle: LoginThrottle | RedisLoginThrottle = current_app.extensions["login_throttle"]
    name = request.form.get("name", "")
    wait = _throttled(throttle, name)
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
    services = current_services()
    account = services.offloader.run(
        authenticate, services.db.unpooled(), name, request.form.get("password", "")
    )
    if account is None:
        for key in _throttle_keys(name):
            throttle.failed(key)
        return render_template("login.html", next=next_page, error="Wrong name or password."), 401
    throttle.succeeded(_throttle_keys(name)[0])
    session[SESSION_ID_KEY] = start_login_session(services.db, account.id)
    login_user(SessionUser(account))
    return redirect(_safe_next(next_page))


@auth.post("/logout")
def logout() -> Any:
    """End the session (a POST with the CSRF token, so no other site can log a user out).

    The login's server-side row is ended too, so a copy of the cookie stops working as well.
    """
    sid = session.get(SESSION_ID_KEY)
    if isinstance(sid, str):
        end_login_session(_db(), sid)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
