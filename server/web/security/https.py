"""HTTPS in the web layer: secure cookies under TLS, HSTS on every HTTPS answer, and the plain-HTTP redirect.

- :func:`init_https`: when this process serves TLS itself (``Settings.tls``) the
  session and remember-me cookies are marked Secure, as ``secure_cookies`` does
  behind a TLS proxy; every answer to a request that came over HTTPS (itself,
  or through a trusted proxy's ``X-Forwarded-Proto: https``) carries
  ``Strict-Transport-Security``.
- :func:`redirect_to_https`: a plain WSGI app (no Flask) that answers every
  request with ``308`` to the same host, path and query on the HTTPS port;
  ``python -m server run`` serves it on ``Settings.http_redirect_port``.
  nginx does the same for ``make cluster`` (deploy/nginx.conf.template).

WebSockets need nothing here: the pages connect Socket.IO to their own origin,
so a page loaded over https:// opens ``wss://``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable
from urllib.parse import quote

from flask import Flask, request

from server.config import Settings

# 308, not 301: the method and body are kept (a POST stays a POST), and browsers cache it like a 301.
REDIRECT_STATUS = "308 Permanent Redirect"
DEFAULT_HTTPS_PORT = 443


def init_https(app: Flask, settings: Settings) -> None:
    """Secure cookies when serving TLS; HSTS on HTTPS answers (``hsts_max_age_s`` 0: none)."""
    if settings.tls:
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    if settings.hsts_max_age_s > 0:
        header = f"max-age={settings.hsts_max_age_s}"

        def strict_transport(response: Any) -> Any:
            if request.is_secure:  # never over plain HTTP: a browser ignores it there (RFC 6797 8.1)
                response.headers.setdefault("Strict-Transport-Security", header)
            return response

        app.after_request(strict_transport)


def https_location(environ: dict[str, Any], https_port: int) -> str:
    """The https:// URL of a plain-HTTP request: its host name (without the port), the HTTPS port, the
    path and the query."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "localhost"
    if host.startswith("["):  # an IPv6 literal: [::1]:5000
        name = host[: host.index("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if ":" in host else host
    port = "" if https_port == DEFAULT_HTTPS_PORT else f":{https_port}"
    path = quote(environ.get("PATH_INFO", "/") or "/", safe="/:@!$&'()*+,;=-._~%")
    query = environ.get("QUERY_STRING", "")
    return f"https://{name}{port}{path}" + (f"?{query}" if query else "")


def redirect_to_https(https_port: int) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """A WSGI app answering every request with a 308 to the same URL over HTTPS on ``https_port``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        location = https_location(environ, https_port)
        body = f"This server speaks HTTPS: {location}\n".encode()
        start_response(REDIRECT_STATUS, [
            ("Location", location), ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
        ])
        return [body]

    return app
