"""Shared fixtures: the app on the Flask test client, and test images."""
from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging out of test output

from server import create_app, socketio_of  # noqa: E402
from server.store.accounts import create_token, create_user  # noqa: E402
from server.config import Settings  # noqa: E402

TEST_USER = "tester"
TEST_PASSWORD = "a test password, long enough"
_INSTANCE_DIRS: list[str] = []


@atexit.register
def _remove_instance_dirs() -> None:
    for path in _INSTANCE_DIRS:
        shutil.rmtree(path, ignore_errors=True)


def create_test_app(settings: Settings | None = None):
    """An app on its own fresh SQLite database, with an admin ``tester`` and an API token.

    The token is ``app.config["TEST_API_TOKEN"]``; :func:`authed_client` sends it.
    """
    settings = settings or Settings()
    if settings.instance_dir == Settings.instance_dir and not settings.database_url:
        folder = tempfile.mkdtemp(prefix="painscope-test-")
        _INSTANCE_DIRS.append(folder)
        settings = settings.replace(instance_dir=folder)
    app = create_app(settings)
    db = app.extensions["painscope"].db
    create_user(db, TEST_USER, TEST_PASSWORD, admin=True)
    app.config["TEST_API_TOKEN"] = create_token(db, TEST_USER, "tests")[1]
    return app


def authed_client(app):
    """A Flask test client that sends the test account's API token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {app.config['TEST_API_TOKEN']}"
    return client


def live_client(app):
    """A Socket.IO test client of /live, connected with the test account's API token."""
    return socketio_of(app).test_client(app, namespace="/live", auth={"token": app.config["TEST_API_TOKEN"]})


def live_call(client, event, data):
    """Emit ``event`` on /live and return the server's ack."""
    return client.emit(event, data, namespace="/live", callback=True)


@pytest.fixture()
def live(app):
    """A /live test client of the session app, disconnected afterwards."""
    client = live_client(app)
    yield client
    if client.is_connected(namespace="/live"):
        client.disconnect(namespace="/live")


@pytest.fixture(scope="session")
def app():
    """One app for the session (trackers are costly to create)."""
    return create_test_app()


@pytest.fixture()
def client(app):
    """Flask test client, logged in by API token."""
    return authed_client(app)


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
