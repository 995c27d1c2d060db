"""The one way a request handler reaches the process's shared objects.

:func:`server.create_app` puts the :class:`~server.services.Services` in
``app.extensions["painscope"]``; every blueprint reads them through
:func:`current_services` instead of keeping its own accessor.
"""
from __future__ import annotations

from flask import current_app

from server.services import Services


def current_services() -> Services:
    """The current app's services (analysers, pools, sessions, database)."""
    return current_app.extensions["painscope"]
