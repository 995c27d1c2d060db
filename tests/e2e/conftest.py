"""What every browser test module shares: a real server of its own, and a Chromium logged in on it."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.e2e.browser import Browser, require_browser
from tests.server_process import ServerProcess, running_server


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """A real eventlet server for the module's tests (skipped without a browser; a failure under CI)."""
    require_browser()
    with running_server() as process:
        yield process


@pytest.fixture()
def browser(server: ServerProcess) -> Iterator[Browser]:
    """A fresh headless Chromium, logged in through the login page (a module may give it a fake camera)."""
    session = Browser()
    session.log_in(server.base_url, server.user, server.password)
    yield session
    session.close()
