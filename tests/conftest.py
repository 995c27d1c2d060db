"""Shared fixtures: the app on the Flask test client, and test images."""
from __future__ import annotations

import io
import os

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging out of test output

from server import create_app  # noqa: E402
from server.config import Settings  # noqa: E402


@pytest.fixture(scope="session")
def app():
    """One app for the session (trackers are costly to create)."""
    return create_app(Settings())


@pytest.fixture()
def client(app):
    """Flask test client."""
    return app.test_client()


def multipart(**fields) -> dict:
    """Multipart form data for the test client: bytes values become files, lists repeat the field."""
    data = {}
    for name, value in fields.items():
        if isinstance(value, list):
            data[name] = [(io.BytesIO(v), f"{name}{i}.bin") for i, v in enumerate(value)]
        elif isinstance(value, bytes):
            data[name] = (io.BytesIO(value), f"{name}.bin")
        else:
            data[name] = value
    return data
