"""Who may read what a monitor reads: ``/metrics`` (admins, or the scrape token) and ``/health``'s details
(any login, or the scrape token); strangers learn only whether the server is up.

Issue 25: ``/health`` told anyone the host name, process id, stream counts and
model details, and any account read ``/metrics``. A monitor without an account
(Prometheus, a load balancer's check) sends ``Settings.metrics_token`` as
``Authorization: Bearer <token>``. Shared by ``auth.py`` (the access rule) and
``api.py`` (``/health``), hence a helper module.
"""
from __future__ import annotations

import hmac

from flask import request

BEARER = "bearer "


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    if header and header.lower().startswith(BEARER):
        return header[len(BEARER):].strip() or None
    return None


def scrape_token_sent(metrics_token: str) -> bool:
    """Did the request send the configured scrape token (never true when none is configured)?"""
    sent = bearer_token(request.headers.get("Authorization"))
    return bool(metrics_token) and sent is not None and hmac.compare_digest(sent.encode(), metrics_token.encode())
