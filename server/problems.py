"""The one exception type analysis code raises for input it cannot use.

Analysis modules know nothing of HTTP; the web layer maps ``code`` to a status
(``server/web/errors.py``).
"""
from __future__ import annotations


class InputProblem(Exception):
    """Input that was understood but cannot be used, or could not be understood.

    ``code`` is a stable machine-readable name (e.g. ``"not_an_image"``);
    ``message`` is a sentence for the person who sent it.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
